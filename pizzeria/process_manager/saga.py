"""The visit saga, pure: `decide(visit, event)` returns the new visit and the commands to send.

Each waiting stage has a deadline (`deadline(before, after)` says when to ask for one): when it
passes unanswered, the step's commands go again, with the same ids, a bounded number of times;
then the visit is compensated. Compensation (a pizza that cannot be baked, a cancellation, a
step that never answers) cancels the pizzas not baked yet, serves and bills what was baked,
apologises, and ends the visit `cancelled` with the reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any, NamedTuple

from pizzeria.kitchen.messages import DoPizza, PizzaCancelled, PizzaDone, PizzaFailed
from pizzeria.menu.messages import GetMenu, MenuGot
from pizzeria.waiter import messages as waiter

from .compensation import apologise, can_compensate, cancelled, compensate, resolve_pizza, settle
from .messages import CancelVisit, Deadline, RetryStep, StartTableService
from .visit import (
    IN_PROGRESS,
    Decision,
    Pizza,
    Stage,
    Status,
    Timing,
    Visit,
    bill,
    for_waiter,
    waiting_for,
)

__all__ = ["IN_PROGRESS", "Decision", "Pizza", "Stage", "Status", "Timing", "Visit", "deadline", "decide", "fits",
           "refuse", "start"]
Step = Callable[[], Decision]
TIMING = Timing()  # the defaults


def start(visit_id: str, command: StartTableService) -> Decision:
    """A new visit: ask the menu for today's menu."""
    return Visit(visit_id, command.table_id, wish=command.order), [GetMenu()]


def refuse(visit_id: str, command: StartTableService, reason: str) -> Decision:
    """A visit that cannot start (the table is taken): rejected at once, nothing sent."""
    return Visit(visit_id, command.table_id, stage=Stage.REJECTED, status=Status.REJECTED, reason=reason,
                 wish=command.order), []


def decide(visit: Visit, event: Any, timing: Timing = TIMING) -> Decision:
    """The next state and commands; an event that does not fit the stage changes nothing."""
    step = _step(visit, event, timing)
    if step is None:
        return visit, []
    after, commands = step()
    return (replace(after, resends=0) if after.stage != visit.stage else after), commands


def fits(visit: Visit, event: Any, timing: Timing = TIMING) -> bool:
    """True if `event` moves the visit on; False if it is to be ignored at this stage."""
    return _step(visit, event, timing) is not None


def deadline(after: Visit, before: Visit | None = None) -> Deadline | None:
    """The deadline to ask for once the visit went from `before` to `after`: one for each new
    stage that waits for an answer, and for each re-send of its commands."""
    moved = before is None or (after.stage, after.resends) != (before.stage, before.resends)
    return Deadline(after.stage, after.resends) if moved and after.status == IN_PROGRESS else None


def _step(visit: Visit, event: Any, timing: Timing) -> Step | None:
    if visit.status != IN_PROGRESS:
        return None
    if isinstance(event, Deadline):
        return _deadline(visit, event, timing)
    if isinstance(event, CancelVisit):
        return partial(compensate, visit, event.reason) if can_compensate(visit) else None
    if isinstance(event, RetryStep):
        return lambda: (visit, waiting_for(visit))
    step = STEPS.get((visit.stage, type(event)))
    return None if step is None else partial(step.move, visit, event)


def _deadline(visit: Visit, event: Deadline, timing: Timing) -> Step | None:
    """A deadline of the current stage and round: send its commands again, or, once the re-sends
    are used up, give up on the step."""
    if (event.stage, event.round) != (visit.stage, visit.resends):
        return None  # a deadline of a step answered since
    if visit.resends < timing.resends:
        return lambda: (replace(visit, resends=visit.resends + 1), waiting_for(visit))
    reason = f"no answer to {visit.stage} after {visit.resends} re-sends"
    if visit.stage in (Stage.AWAITING_SERVED, Stage.AWAITING_PAYMENT):  # the waiter is not serving
        return partial(apologise, replace(visit, cancelling=True, reason=visit.reason if visit.cancelling else reason))
    if can_compensate(visit):
        return partial(compensate, visit, reason)
    if visit.stage == Stage.AWAITING_THANKS:  # paid, and gone without a word
        return lambda: (replace(visit, stage=Stage.FINISHED, status=Status.FINISHED), [])
    return partial(cancelled, replace(visit, reason=visit.reason or reason))


def _menu_got(visit: Visit, event: MenuGot) -> Decision:
    shown = waiter.ShowMenu(for_waiter(event.items))
    return replace(visit, stage=Stage.AWAITING_MENU_SHOWN, menu=event.items), [shown]


def _menu_shown(visit: Visit, _event: waiter.MenuShown) -> Decision:
    return replace(visit, stage=Stage.AWAITING_ORDER), [waiter.PlaceOrder(for_waiter(visit.menu), visit.wish)]


def _order_placed(visit: Visit, event: waiter.OrderPlaced) -> Decision:
    on_menu = {item.name for item in visit.menu}
    unknown = sorted({line.pizza for line in event.lines} - on_menu)
    if not event.lines or unknown:
        reason = f"not on the menu: {', '.join(unknown)}" if unknown else "the order is empty"
        return _rejected(visit, reason)
    names = [line.pizza for line in event.lines for _ in range(line.quantity)]
    pizzas = tuple(Pizza(f"{visit.visit_id}-{n}", name) for n, name in enumerate(names, start=1))
    commands = [DoPizza(pizza.kitchen_order_id, pizza.pizza) for pizza in pizzas]
    return replace(visit, stage=Stage.BAKING, order=event.lines, pizzas=pizzas), commands


def _order_rejected(visit: Visit, event: waiter.OrderRejected) -> Decision:
    return _rejected(visit, event.reason)


def _rejected(visit: Visit, reason: str) -> Decision:
    return replace(visit, stage=Stage.REJECTED, status=Status.REJECTED, reason=reason), []


def _pizza_done(visit: Visit, event: PizzaDone) -> Decision:
    return resolve_pizza(visit, event.kitchen_order_id, done=True)


def _pizza_cancelled(visit: Visit, event: PizzaCancelled) -> Decision:
    return resolve_pizza(visit, event.kitchen_order_id, done=False)


def _pizza_failed(visit: Visit, event: PizzaFailed) -> Decision:
    if not can_compensate(visit):
        return resolve_pizza(visit, event.kitchen_order_id, done=False)
    return compensate(settle(visit, event.kitchen_order_id, done=False), event.reason)


def _pizzas_served(visit: Visit, _event: waiter.PizzasServed) -> Decision:
    amount = bill(visit)
    return replace(visit, stage=Stage.AWAITING_PAYMENT, bill_cents=amount), [waiter.ShowBill(amount)]


def _bill_paid(visit: Visit, _event: waiter.BillPaid) -> Decision:
    visit = replace(visit, paid=True)
    if visit.cancelling:
        return apologise(visit)
    return replace(visit, stage=Stage.AWAITING_THANKS), [waiter.ThankClient()]


def _client_thanked(visit: Visit, _event: waiter.ClientThanked) -> Decision:
    return replace(visit, stage=Stage.FINISHED, status=Status.FINISHED), []


def _client_apologised_to(visit: Visit, _event: waiter.ClientApologisedTo) -> Decision:
    return cancelled(visit)


class Transition(NamedTuple):
    """What a message does at a stage, and the stages it may lead to (for `pizzeria flow`)."""

    move: Callable[[Visit, Any], Decision]
    to: tuple[Stage, ...]


KITCHEN_DONE = (Stage.BAKING, Stage.AWAITING_SERVED, Stage.APOLOGISING)  # the last pizza settles it
STEPS: dict[tuple[Stage, type], Transition] = {
    (Stage.AWAITING_MENU, MenuGot): Transition(_menu_got, (Stage.AWAITING_MENU_SHOWN,)),
    (Stage.AWAITING_MENU_SHOWN, waiter.MenuShown): Transition(_menu_shown, (Stage.AWAITING_ORDER,)),
    (Stage.AWAITING_ORDER, waiter.OrderPlaced): Transition(_order_placed, (Stage.BAKING, Stage.REJECTED)),
    (Stage.AWAITING_ORDER, waiter.OrderRejected): Transition(_order_rejected, (Stage.REJECTED,)),
    (Stage.BAKING, PizzaDone): Transition(_pizza_done, KITCHEN_DONE),
    (Stage.BAKING, PizzaCancelled): Transition(_pizza_cancelled, KITCHEN_DONE),
    (Stage.BAKING, PizzaFailed): Transition(_pizza_failed, KITCHEN_DONE),
    (Stage.AWAITING_SERVED, waiter.PizzasServed): Transition(_pizzas_served, (Stage.AWAITING_PAYMENT,)),
    (Stage.AWAITING_PAYMENT, waiter.BillPaid): Transition(_bill_paid, (Stage.AWAITING_THANKS, Stage.APOLOGISING)),
    (Stage.AWAITING_THANKS, waiter.ClientThanked): Transition(_client_thanked, (Stage.FINISHED,)),
    (Stage.APOLOGISING, waiter.ClientApologisedTo): Transition(_client_apologised_to, (Stage.CANCELLED,)),
}

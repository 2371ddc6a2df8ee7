"""The visit saga, pure: `decide(visit, event)` returns the new visit and the commands to send."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from pizzeria.kitchen.messages import DoPizza, PizzaDone
from pizzeria.menu.messages import GetMenu, MenuGot, MenuItem
from pizzeria.waiter import messages as waiter

from .messages import OrderLine, StartTableService


class Status(StrEnum):
    """Where a visit stands as a whole."""

    IN_PROGRESS = "in_progress"
    FINISHED = "finished"
    REJECTED = "rejected"


class Stage(StrEnum):
    """The stages of a visit, in order; each one in progress names what the saga waits for."""

    AWAITING_MENU = "awaiting_menu"
    AWAITING_MENU_SHOWN = "awaiting_menu_shown"
    AWAITING_ORDER = "awaiting_order"
    BAKING = "baking"
    AWAITING_SERVED = "awaiting_served"
    AWAITING_PAYMENT = "awaiting_payment"
    AWAITING_THANKS = "awaiting_thanks"
    FINISHED = "finished"
    REJECTED = "rejected"


IN_PROGRESS = Status.IN_PROGRESS


@dataclass(frozen=True)
class Pizza:
    """One pizza of the order, as the kitchen knows it."""

    kitchen_order_id: str
    pizza: str
    done: bool = False


@dataclass(frozen=True)
class Visit:
    """Everything the saga knows of one visit at one table."""

    visit_id: str
    table_id: str
    stage: Stage = Stage.AWAITING_MENU
    status: Status = Status.IN_PROGRESS
    reason: str | None = None
    wish: tuple[OrderLine, ...] | None = None
    menu: tuple[MenuItem, ...] = ()
    order: tuple[OrderLine, ...] = ()
    pizzas: tuple[Pizza, ...] = ()
    bill_cents: int | None = None
    paid: bool = False


Decision = tuple[Visit, list[Any]]


def start(visit_id: str, command: StartTableService) -> Decision:
    """A new visit: ask the menu for today's menu."""
    return Visit(visit_id, command.table_id, wish=command.order), [GetMenu()]


def refuse(visit_id: str, command: StartTableService, reason: str) -> Decision:
    """A visit that cannot start (the table is taken): rejected at once, nothing sent."""
    return Visit(visit_id, command.table_id, stage=Stage.REJECTED, status=Status.REJECTED, reason=reason,
                 wish=command.order), []


def decide(visit: Visit, event: Any) -> Decision:
    """The next state and commands; an event that does not fit the stage changes nothing."""
    step = STEPS.get((visit.stage, type(event)))
    if visit.status != IN_PROGRESS or step is None:
        return visit, []
    return step(visit, event)


def _for_waiter(menu: tuple[MenuItem, ...]) -> tuple[waiter.MenuItem, ...]:
    return tuple(waiter.MenuItem(item.name, item.price_cents) for item in menu)


def _menu_got(visit: Visit, event: MenuGot) -> Decision:
    shown = waiter.ShowMenu(_for_waiter(event.items))
    return replace(visit, stage=Stage.AWAITING_MENU_SHOWN, menu=event.items), [shown]


def _menu_shown(visit: Visit, _event: waiter.MenuShown) -> Decision:
    return replace(visit, stage=Stage.AWAITING_ORDER), [waiter.PlaceOrder(_for_waiter(visit.menu), visit.wish)]


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
    pizzas = tuple(replace(pizza, done=True) if pizza.kitchen_order_id == event.kitchen_order_id
                   else pizza for pizza in visit.pizzas)
    visit = replace(visit, pizzas=pizzas)
    if not all(pizza.done for pizza in pizzas):
        return visit, []
    return replace(visit, stage=Stage.AWAITING_SERVED), [waiter.ServePizzas(tuple(p.pizza for p in pizzas))]


def _pizzas_served(visit: Visit, _event: waiter.PizzasServed) -> Decision:
    prices = {item.name: item.price_cents for item in visit.menu}
    amount = sum(prices[line.pizza] * line.quantity for line in visit.order)
    return replace(visit, stage=Stage.AWAITING_PAYMENT, bill_cents=amount), [waiter.ShowBill(amount)]


def _bill_paid(visit: Visit, _event: waiter.BillPaid) -> Decision:
    return replace(visit, stage=Stage.AWAITING_THANKS, paid=True), [waiter.ThankClient()]


def _client_thanked(visit: Visit, _event: waiter.ClientThanked) -> Decision:
    return replace(visit, stage=Stage.FINISHED, status=Status.FINISHED), []


STEPS: dict[tuple[Stage, type], Callable[[Visit, Any], Decision]] = {
    (Stage.AWAITING_MENU, MenuGot): _menu_got,
    (Stage.AWAITING_MENU_SHOWN, waiter.MenuShown): _menu_shown,
    (Stage.AWAITING_ORDER, waiter.OrderPlaced): _order_placed,
    (Stage.AWAITING_ORDER, waiter.OrderRejected): _order_rejected,
    (Stage.BAKING, PizzaDone): _pizza_done,
    (Stage.AWAITING_SERVED, waiter.PizzasServed): _pizzas_served,
    (Stage.AWAITING_PAYMENT, waiter.BillPaid): _bill_paid,
    (Stage.AWAITING_THANKS, waiter.ClientThanked): _client_thanked,
}

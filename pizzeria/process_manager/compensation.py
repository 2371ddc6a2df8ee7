"""Compensation: what the saga undoes when a visit cannot go on (a pizza that cannot be baked, a
cancellation, a step that never answers). The pizzas not baked yet are cancelled, what was
baked is served and billed, and the client gets an apology; the visit ends `cancelled`."""

from __future__ import annotations

from dataclasses import replace

from pizzeria.kitchen.messages import CancelPizza
from pizzeria.waiter import messages as waiter

from .visit import Decision, Stage, Status, Visit, served

TOO_LATE = (Stage.AWAITING_THANKS, Stage.APOLOGISING)  # the client is leaving already


def can_compensate(visit: Visit) -> bool:
    """True while the visit is in progress, not compensating yet, and not ending."""
    return visit.status == Status.IN_PROGRESS and not visit.cancelling and visit.stage not in TOO_LATE


def compensate(visit: Visit, reason: str) -> Decision:
    """Start undoing the visit for `reason`."""
    visit = replace(visit, cancelling=True, reason=reason)
    if visit.stage in (Stage.AWAITING_MENU, Stage.AWAITING_MENU_SHOWN, Stage.AWAITING_ORDER):
        return apologise(visit)
    if visit.stage == Stage.BAKING:
        cancels = [CancelPizza(pizza.kitchen_order_id) for pizza in visit.pizzas if not pizza.resolved]
        return (visit, cancels) if cancels else after_kitchen(visit)
    return visit, []  # serving or billing: what was baked is served and billed, then the apology


def resolve_pizza(visit: Visit, kitchen_order_id: str, done: bool) -> Decision:
    """A pizza baked (`done`) or never to be; once every pizza is either, move on."""
    visit = settle(visit, kitchen_order_id, done)
    return after_kitchen(visit) if all(pizza.resolved for pizza in visit.pizzas) else (visit, [])


def settle(visit: Visit, kitchen_order_id: str, done: bool) -> Visit:
    """The visit with that pizza baked (`done`) or never to be, unless it was settled before."""
    return replace(visit, pizzas=tuple(replace(pizza, done=done, cancelled=not done)
                                       if pizza.kitchen_order_id == kitchen_order_id and not pizza.resolved else pizza
                                       for pizza in visit.pizzas))


def after_kitchen(visit: Visit) -> Decision:
    """Every pizza baked or cancelled: serve what was baked, or apologise if nothing was."""
    baked = served(visit)
    if baked:
        return replace(visit, stage=Stage.AWAITING_SERVED), [waiter.ServePizzas(tuple(p.pizza for p in baked))]
    return apologise(visit)


def apologise(visit: Visit) -> Decision:
    """Tell the client the visit ends here, and why."""
    return replace(visit, stage=Stage.APOLOGISING), [waiter.Apologise(visit.reason or "")]


def cancelled(visit: Visit) -> Decision:
    """The client has heard the apology: the visit ends cancelled."""
    return replace(visit, stage=Stage.CANCELLED, status=Status.CANCELLED), []

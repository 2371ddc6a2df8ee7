"""The kitchen's handler: bake (an oven load at once), record the bake, say the pizza is done."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

import structlog

from pizzeria.messaging import Handler, HandlerContext

from .domain import BAKED, CANCELLED, FAILED, bake_row, bakes, decide_outcome, outcomes_of, take_one
from .messages import CancelPizza, DoPizza, PizzaCancelled, PizzaDone, PizzaFailed

log = structlog.get_logger("pizzeria.kitchen")


def do_pizza(command: DoPizza, context: HandlerContext, oven: Callable[[HandlerContext], None], stock: Mapping[str, int]) -> None:
    """Bake first, outside any transaction, with the other pizzas handled in the same one (the
    oven takes them all at once); then, unless the order was cancelled meanwhile or the pizza
    ran out, record the bake and answer, in one commit."""
    log.info("baking", pizza=command.pizza, kitchen_order_id=command.kitchen_order_id)
    context.once(oven)
    order = command.kitchen_order_id
    if order in context.once(known_outcomes):
        return  # cancelled before it was baked: it never will be
    if command.pizza in stock and not take_one(context.db, command.pizza, stock[command.pizza]):
        settle(context, order, FAILED)
        context.send(PizzaFailed(order, reason=f"the kitchen is out of {command.pizza}"))
        return
    settle(context, order, BAKED)
    context.insert_later(bakes, bake_row(order, command.pizza, context.clock.time()))
    context.send(PizzaDone(kitchen_order_id=order))


def settle(context: HandlerContext, order: str, outcome: str) -> None:
    """Decide how the kitchen order ends, for the rest of the batch too."""
    decide_outcome(context.db, order, outcome)
    context.once(known_outcomes)[order] = outcome


def known_outcomes(context: HandlerContext) -> dict[str, str]:
    """How the kitchen orders of the whole batch ended, those that did, read in one query when
    the transaction starts and kept up to date as the batch settles them; an order settled
    meanwhile by another kitchen makes the insert of its outcome conflict, and the messages are
    handled again afresh."""
    orders = [envelope.payload["kitchen_order_id"] for envelope in context.batch
              if isinstance(envelope.payload.get("kitchen_order_id"), str)]
    return outcomes_of(context.db, orders)


def cancel_pizza(command: CancelPizza, context: HandlerContext) -> None:
    """Make sure the pizza is never baked, and say so; a pizza baked already is done."""
    order = command.kitchen_order_id
    outcome = context.once(known_outcomes).get(order)
    if outcome is None:
        settle(context, order, CANCELLED)
    context.send(PizzaDone(order) if outcome == BAKED else PizzaCancelled(order))


def handlers(bake_seconds: float, stock: Mapping[str, int] | None = None) -> dict[type, Handler]:
    """The kitchen's handlers, an oven load baking for `bake_seconds`, with `stock` of the
    pizzas that can run out (the others never do)."""
    def oven(context: HandlerContext) -> None:
        log.info("oven fired", pizzas=len(context.batch))
        context.clock.sleep(bake_seconds)  # the heavy work: an oven that takes its time
    return {DoPizza: partial(do_pizza, oven=oven, stock=stock or {}), CancelPizza: cancel_pizza}

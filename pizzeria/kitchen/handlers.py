"""The kitchen's handler: bake (an oven load at once), record the bake, say the pizza is done."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import structlog

from pizzeria.messaging import Context, Handler

from .domain import record_bake
from .messages import DoPizza, PizzaDone

log = structlog.get_logger("pizzeria.kitchen")


def do_pizza(command: DoPizza, context: Context, oven: Callable[[Context], None]) -> None:
    """Bake first, outside any transaction, with the other pizzas handled in the same one (the
    oven takes them all at once), then record the bake and answer in one commit."""
    log.info("baking", pizza=command.pizza, kitchen_order_id=command.kitchen_order_id)
    context.once(oven)
    record_bake(context.db, command.kitchen_order_id, command.pizza, context.clock.time())
    context.send(PizzaDone(kitchen_order_id=command.kitchen_order_id))


def handlers(bake_seconds: float) -> dict[type, Handler]:
    """The kitchen's handlers, an oven load baking for `bake_seconds`."""
    def oven(context: Context) -> None:
        log.info("oven fired", pizzas=len(context.batch))
        context.clock.sleep(bake_seconds)  # the heavy work: an oven that takes its time
    return {DoPizza: partial(do_pizza, oven=oven)}

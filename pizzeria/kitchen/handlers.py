"""The kitchen's handler: bake, record the bake, say the pizza is done."""

from __future__ import annotations

from functools import partial

import structlog

from pizzeria.messaging.handling import Context

from .domain import bake, record_bake
from .messages import DoPizza, PizzaDone

log = structlog.get_logger("pizzeria.kitchen")


def do_pizza(command: DoPizza, context: Context, bake_seconds: float) -> None:
    """Bake first (outside any transaction), then record it and answer in one commit."""
    log.info("baking", pizza=command.pizza, kitchen_order_id=command.kitchen_order_id)
    bake(bake_seconds)
    record_bake(context.db, command.kitchen_order_id, command.pizza)
    context.send(PizzaDone(kitchen_order_id=command.kitchen_order_id))


def handlers(bake_seconds: float) -> dict:
    """The kitchen's handlers, baking each pizza for `bake_seconds`."""
    return {DoPizza: partial(do_pizza, bake_seconds=bake_seconds)}

"""The kitchen's public contract: the commands it takes and the events it answers with."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pizzeria.messaging import Command, Contract, Event

contract = Contract("kitchen")
PIZZA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@contract.command
@dataclass(frozen=True)
class DoPizza(Command, unique_by=("kitchen_order_id",)):
    """Bake one pizza for this kitchen order."""

    kitchen_order_id: str
    pizza: str

    def __post_init__(self) -> None:
        if not PIZZA_NAME.match(self.pizza):
            raise ValueError(f"bad pizza name {self.pizza!r}")
        if not 0 < len(self.kitchen_order_id) <= 64:
            raise ValueError("a kitchen order id has 1 to 64 characters")


@contract.event
@dataclass(frozen=True)
class PizzaDone(Event):
    """The pizza of this kitchen order is baked."""

    kitchen_order_id: str


@contract.command
@dataclass(frozen=True)
class CancelPizza(Command, unique_by=("kitchen_order_id",)):
    """Do not bake the pizza of this kitchen order, if it is not baked yet."""

    kitchen_order_id: str


@contract.event
@dataclass(frozen=True)
class PizzaCancelled(Event):
    """The pizza of this kitchen order will never be baked."""

    kitchen_order_id: str


@contract.event
@dataclass(frozen=True)
class PizzaFailed(Event):
    """The pizza of this kitchen order cannot be baked (an ingredient ran out): a business
    failure, not an error."""

    kitchen_order_id: str
    reason: str

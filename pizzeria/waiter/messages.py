"""The waiter's public contract: the commands it takes and the events it answers with."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pizzeria.messaging import Command, Contract, Event

contract = Contract("waiter")
PIZZA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MAX_QUANTITY = 20


@dataclass(frozen=True)
class MenuItem:
    """A pizza the waiter can offer, and its price in cents."""

    name: str
    price_cents: int


@dataclass(frozen=True)
class OrderLine:
    """So many of one pizza."""

    pizza: str
    quantity: int

    def __post_init__(self) -> None:
        if not PIZZA_NAME.match(self.pizza):
            raise ValueError(f"bad pizza name {self.pizza!r}: use a-z, 0-9 and _, up to 32")
        if not 1 <= self.quantity <= MAX_QUANTITY:
            raise ValueError(f"bad quantity {self.quantity} for {self.pizza}: 1 to {MAX_QUANTITY}")


@contract.command
@dataclass(frozen=True)
class ShowMenu(Command, unique_by=()):
    """Show the client the menu."""

    items: tuple[MenuItem, ...]


@contract.event
@dataclass(frozen=True)
class MenuShown(Event):
    """The client has the menu."""


@contract.command
@dataclass(frozen=True)
class PlaceOrder(Command, unique_by=()):
    """Take the client's order: the `wish` it came with, or a choice from the menu."""

    items: tuple[MenuItem, ...]
    wish: tuple[OrderLine, ...] | None = None


@contract.event
@dataclass(frozen=True)
class OrderPlaced(Event):
    """The client ordered these."""

    lines: tuple[OrderLine, ...]


@contract.event
@dataclass(frozen=True)
class OrderRejected(Event):
    """No order can be taken, for this reason."""

    reason: str


@contract.command
@dataclass(frozen=True)
class ServePizzas(Command, unique_by=()):
    """Bring these pizzas to the table."""

    pizzas: tuple[str, ...]


@contract.event
@dataclass(frozen=True)
class PizzasServed(Event):
    """The pizzas are on the table."""


@contract.command
@dataclass(frozen=True)
class ShowBill(Command, unique_by=()):
    """Ask the client to pay this much."""

    amount_cents: int


@contract.event
@dataclass(frozen=True)
class BillPaid(Event):
    """The client paid this much."""

    amount_cents: int


@contract.command
@dataclass(frozen=True)
class ThankClient(Command, unique_by=()):
    """Say goodbye."""


@contract.event
@dataclass(frozen=True)
class ClientThanked(Event):
    """The client has left."""


@contract.command
@dataclass(frozen=True)
class Apologise(Command, unique_by=()):
    """Tell the client the visit cannot go on, and why."""

    reason: str


@contract.event
@dataclass(frozen=True)
class ClientApologisedTo(Event):
    """The client heard the apology and has left."""

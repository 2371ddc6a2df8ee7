"""The menu's public contract: the commands it takes and the events it answers with."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pizzeria.messaging import Command, Contract, Event

contract = Contract("menu")
PIZZA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass(frozen=True)
class MenuItem:
    """A pizza on the menu and its price in cents."""

    name: str
    price_cents: int

    def __post_init__(self) -> None:
        if not PIZZA_NAME.match(self.name):
            raise ValueError(f"bad pizza name {self.name!r}")
        if self.price_cents < 0:
            raise ValueError("a price cannot be negative")


@contract.command
@dataclass(frozen=True)
class GetMenu(Command, unique_by=()):
    """Ask for today's menu."""


@contract.event
@dataclass(frozen=True)
class MenuGot(Event):
    """Today's menu."""

    items: tuple[MenuItem, ...]

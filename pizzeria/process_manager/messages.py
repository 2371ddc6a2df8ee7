"""The process manager's own contract: the arrival that starts a visit, and the commands that steer one."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pizzeria.messaging import Command, Contract
from pizzeria.waiter.messages import OrderLine

contract = Contract("process_manager")
TABLE_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")

__all__ = ["CancelVisit", "Deadline", "OrderLine", "RetryStep", "StartTableService", "TABLE_ID", "contract",
           "parse_order"]


def parse_order(spec: str) -> tuple[OrderLine, ...]:
    """An order written `PIZZA:QUANTITY,...` (e.g. `margherita:2,diavola:1`); ValueError saying
    what is wrong with it."""
    lines = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, quantity = part.partition(":")
        if not sep or not quantity.strip().isdigit():
            raise ValueError(f"{part!r}: write PIZZA:QUANTITY, e.g. margherita:2,diavola:1")
        lines.append(OrderLine(name.strip(), int(quantity)))
    return tuple(lines)


@contract.arrival
@dataclass(frozen=True)
class StartTableService(Command, unique_by=()):
    """Seat a client at `table_id`; `order` is what it will ask for (None: the waiter chooses)."""

    table_id: str
    order: tuple[OrderLine, ...] | None = None

    def __post_init__(self) -> None:
        if not TABLE_ID.match(self.table_id):
            raise ValueError(f"bad table id {self.table_id!r}: use 1 to 32 of A-Z a-z 0-9 _ -")


@contract.command
@dataclass(frozen=True)
class Deadline(Command, unique_by=("stage", "round")):
    """The time the visit gave `stage` to be answered is up (after `round` re-sends of it)."""

    stage: str
    round: int


@contract.command
@dataclass(frozen=True)
class CancelVisit(Command, unique_by=()):
    """Stop the visit: undo what can be undone, bill what was served, apologise."""

    reason: str


@contract.command
@dataclass(frozen=True)
class RetryStep(Command, unique_by=()):
    """Send the command of the visit's current step again, now."""

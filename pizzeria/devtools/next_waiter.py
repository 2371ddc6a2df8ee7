"""The waiter one release on, to rehearse a rolling deploy beside the waiter of today: it bills
the pizzas and the service apart (`ShowBill` at version 2, upcast from today's version 1) and
its clients leave a tip (`BillPaid` at version 2, with a field today's process manager does not
know and ignores). The simulator runs it beside today's waiter; so may anyone, beside the
others, as the rolling deploy of the waiter would:

    python -m pizzeria.devtools.next_waiter consume waiter
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from pizzeria.messaging import Command, Contract, Event, Handler, HandlerContext, Module
from pizzeria.waiter import handlers as today
from pizzeria.waiter import messages as todays

contract = Contract("waiter")


def split_amount(payload: dict[str, Any]) -> dict[str, Any]:
    """Version 1 billed one amount: all of it for the pizzas, none for the service."""
    rest = {name: value for name, value in payload.items() if name != "amount_cents"}
    return {**rest, "pizzas_cents": payload["amount_cents"], "service_cents": 0}


@contract.command
@dataclass(frozen=True)
class ShowBill(Command, unique_by=(), version=2, upcasters={1: split_amount}):
    """Ask the client to pay for the pizzas and the service."""

    pizzas_cents: int
    service_cents: int


@contract.event
@dataclass(frozen=True)
class BillPaid(Event, version=2):
    """The client paid this much, and left a tip besides (version 1 said nothing of one: none)."""

    amount_cents: int
    tip_cents: int = 0


for _command in todays.contract.commands.values():
    if _command is not todays.ShowBill:
        contract.command(_command)
for _event in todays.contract.events.values():
    if _event is not todays.BillPaid:
        contract.event(_event)


def show_bill(command: ShowBill, context: HandlerContext) -> None:
    """The client pays the bill in full, and tips a tenth of the pizzas."""
    context.send(BillPaid(command.pizzas_cents + command.service_cents, tip_cents=command.pizzas_cents // 10))


HANDLERS: dict[type, Handler] = {**{cls: handler for cls, handler in today.HANDLERS.items() if cls is not todays.ShowBill},
                                 ShowBill: show_bill}
MODULE = Module("waiter", contract, handlers=lambda _settings: HANDLERS)


if __name__ == "__main__":  # the pizzeria command, with this module for the waiter's
    sys.modules["pizzeria.waiter.module"] = sys.modules[__name__]
    from pizzeria.cli import main
    main()

"""The backoffice's public contract: the command that asks it for a ticket, and its answer."""

from __future__ import annotations

from dataclasses import dataclass

from pizzeria.messaging import Command, Contract, Event

contract = Contract("backoffice")


@contract.command
@dataclass(frozen=True)
class OpenTicket(Command, unique_by=("issue_id",)):
    """Open a ticket for this issue: one per issue, however often it is asked."""

    issue_id: str
    summary: str


@contract.event
@dataclass(frozen=True)
class TicketOpened(Event):
    """A ticket was opened for the issue."""

    issue_id: str
    ticket_id: int

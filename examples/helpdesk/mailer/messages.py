"""The mailer's public contract: the event that says a confirmation went out."""

from __future__ import annotations

from dataclasses import dataclass

from pizzeria.messaging import Contract, Event

contract = Contract("mailer")


@contract.event
@dataclass(frozen=True)
class ConfirmationSent(Event):
    """The customer who reported the issue was sent its confirmation."""

    issue_id: str
    email: str

"""Sending from outside a handler: a command line, a web request, a test, a scheduler."""

from __future__ import annotations

from typing import Any, Protocol

from ..contracts.envelope import Envelope, derived_id
from ..contracts.message import Command
from .delivery import Outgoing


class Publishes(Protocol):
    """Whatever publishes one message with the broker's confirm: a `Publisher`, say."""

    def publish(self, message: Outgoing) -> None: ...


def send(publisher: Publishes, message: Any, correlation_id: str, message_id: str | None = None) -> Envelope:
    """Publish `message` (a command or an event of a contract) in the conversation
    `correlation_id`, confirmed, on the route its contract gives it; return its envelope. Its id
    is `message_id`, else derived as a handler's would be (a command's from its idempotency key,
    an event's from its type), so that sending it again sends the same message, which the
    inbox of whoever handles it drops."""
    key = message.idempotency_key() if isinstance(message, Command) else type(message).__name__
    envelope = Envelope.wrap(message, correlation_id=correlation_id,
                             message_id=message_id or derived_id(correlation_id, key))
    publisher.publish(Outgoing(type(message).route, envelope.encode(), envelope.headers()))
    return envelope

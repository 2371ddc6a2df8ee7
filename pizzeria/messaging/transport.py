"""What the pipeline needs of a transport: deliveries to ack or requeue, messages to send."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any, NamedTuple, Protocol

from kombu.message import Message as KombuMessage

JSON = "application/json"
UNLOCKED: AbstractContextManager[Any] = nullcontext()


class Delivery(Protocol):
    """One message as it was delivered, with the transport's ways to settle it."""

    body: bytes
    content_type: str | None
    headers: Mapping[str, Any]
    redelivered: bool

    def ack(self) -> None:
        """Tell the broker the message is dealt with."""

    def requeue(self) -> None:
        """Give the message back to the broker, to be delivered again."""


class Outgoing(NamedTuple):
    """A message as it goes on the wire; `exchange` None is the topology's, "" straight to the
    queue named `routing_key`."""

    routing_key: str
    body: bytes
    headers: dict[str, Any]
    exchange: str | None = None
    content_type: str = JSON


class KombuDelivery:
    """A kombu message as a Delivery; it settles under `lock`, the lock of its connection's
    writers (see pacemaker)."""

    __slots__ = ("message", "lock", "body", "content_type", "headers", "redelivered")

    def __init__(self, message: KombuMessage, lock: AbstractContextManager[Any] = UNLOCKED):
        self.message = message
        self.lock = lock
        body = message.body
        self.body: bytes = body if isinstance(body, bytes) else str(body).encode()
        self.content_type: str | None = message.content_type
        self.headers: Mapping[str, Any] = message.headers or {}
        self.redelivered: bool = bool((message.delivery_info or {}).get("redelivered"))

    def ack(self) -> None:
        """Ack the kombu message."""
        with self.lock:
            self.message.ack()

    def requeue(self) -> None:
        """Requeue the kombu message."""
        with self.lock:
            self.message.requeue()

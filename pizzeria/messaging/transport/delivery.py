"""What the pipeline needs of a transport: deliveries to ack or requeue, messages to send."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
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
    writers (see pacemaker), its ack held by `acks` if given."""

    __slots__ = ("message", "lock", "acks", "body", "content_type", "headers", "redelivered")

    def __init__(self, message: KombuMessage, lock: AbstractContextManager[Any] = UNLOCKED,
                 acks: HeldAcks | None = None):
        self.message = message
        self.lock = lock
        self.acks = acks
        body = message.body
        self.body: bytes = body if isinstance(body, bytes) else str(body).encode()
        self.content_type: str | None = message.content_type
        self.headers: Mapping[str, Any] = message.headers or {}
        self.redelivered: bool = bool((message.delivery_info or {}).get("redelivered"))

    def ack(self) -> None:
        """Ack the kombu message, or leave its ack to the acks that hold it."""
        if self.acks is not None:
            self.acks.held.append(self.message)
            return
        with self.lock:
            self.message.ack()

    def requeue(self) -> None:
        """Requeue the kombu message."""
        with self.lock:
            self.message.requeue()


class HeldAcks:
    """The acks of a batch of AMQP deliveries, held until the whole batch is settled, then sent
    as one (`multiple`): the broker settles them at once (a quorum queue writes one entry to
    its log, not one per message). Every delivery of the channel not settled before must be in
    the batch: one ack acks them all, up to the last."""

    def __init__(self, lock: AbstractContextManager[Any] = UNLOCKED):
        self.lock = lock
        self.held: list[KombuMessage] = []

    @contextmanager
    def settling(self) -> Iterator[None]:
        """Hold the acks of the block; send them as one once it is through, or one by one if
        it raised (whatever it left unsettled is not acked)."""
        try:
            yield
        except BaseException:
            self._send(self.held)
            raise
        if self.held:
            self._send([max(self.held, key=lambda message: message.delivery_tag)], multiple=True)

    def _send(self, messages: list[KombuMessage], multiple: bool = False) -> None:
        self.held = []
        with self.lock:
            for message in messages:
                message.channel.basic_ack(message.delivery_tag, multiple=multiple)


@contextmanager
def corked(connection: Any) -> Iterator[None]:
    """Hold what the block writes on a kombu connection's socket, and send it when the block
    ends, in as few packets as the kernel can: a batch of publishes, or of acks, wakes the
    broker once, not once a frame. Linux only (TCP_CORK); elsewhere, and on a transport
    without a socket of its own, it changes nothing."""
    sock = getattr(getattr(connection, "_connection", None), "sock", None)  # None until connected
    if not isinstance(sock, socket.socket) or not hasattr(socket, "TCP_CORK"):
        yield
        return
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    try:
        yield
    finally:
        with suppress(OSError):  # the connection was lost meanwhile: its owner finds out
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)

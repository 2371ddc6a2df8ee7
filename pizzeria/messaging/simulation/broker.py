"""RabbitMQ as the pipeline sees it, in memory: a topic exchange, queues, and deliveries each
process holds unacked until it acks them, or dies and they come back flagged redelivered."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..transport.delivery import Outgoing
from ..transport.topology import Topology


class ConnectionLost(Exception):
    """The process's connection to the broker is gone: its deliveries cannot be settled."""


@dataclass(frozen=True)
class Parcel:
    """A message in a queue: `number` tells the copies of one message apart in a trace."""

    number: int
    queue: str
    message: Outgoing
    redelivered: bool = False

    @property
    def label(self) -> str:
        """A short name for the trace: number, type and correlation."""
        headers = self.message.headers
        return f"#{self.number} {headers.get('type', '?')} {headers.get('correlation_id', '?')}"


class SimDelivery:
    """A parcel delivered to a process, settled through the broker (a `Delivery`)."""

    def __init__(self, broker: SimBroker, owner: str, parcel: Parcel):
        self.broker, self.owner, self.parcel = broker, owner, parcel
        self.body = parcel.message.body
        self.content_type: str | None = parcel.message.content_type
        self.headers: Mapping[str, Any] = parcel.message.headers
        self.redelivered = parcel.redelivered

    def ack(self) -> None:
        """Forget the parcel for good."""
        self.broker.settle(self, requeue=False)

    def requeue(self) -> None:
        """Put the parcel back in its queue, flagged redelivered."""
        self.broker.settle(self, requeue=True)


class SimBroker:
    """Queues bound to one topic exchange as the topology says; deliveries taken in any order."""

    def __init__(self, topology: Topology, routed: Callable[[Outgoing], None], ack_on_delivery: bool = False):
        self.bindings = {queue.name: [binding.routing_key for binding in queue.bindings]
                         for queue in topology.queues.values()}
        self.exchange = topology.exchange.name
        self.ready: dict[str, list[Parcel]] = {name: [] for name in self.bindings}
        self.unacked: dict[SimDelivery, None] = {}
        self.unroutable: list[Outgoing] = []
        self.routed = routed
        self.ack_on_delivery = ack_on_delivery  # a broken order, to prove the simulator sees it
        self._numbers = itertools.count(1)

    def publish_many(self, messages: Sequence[Outgoing], confirmed: Callable[[], None]) -> None:
        """Route each message to its queues, then call `confirmed` (where a process may die
        before it hears the broker's confirm)."""
        for message in messages:
            self.route(message)
        confirmed()

    def route(self, message: Outgoing) -> None:
        """Put a copy of `message` in every queue it is routed to."""
        self.routed(message)
        queues = [message.routing_key] if message.exchange == "" else [
            name for name, keys in self.bindings.items() if message.exchange in (None, self.exchange)
            and any(topic_matches(key, message.routing_key) for key in keys)]
        queues = [name for name in queues if name in self.ready]
        if not queues:
            self.unroutable.append(message)
        for name in queues:
            self.ready[name].append(Parcel(next(self._numbers), name, message))

    def duplicate(self, queue: str, index: int) -> Parcel:
        """Deliver a waiting message twice, as a publisher's resend does: a second copy."""
        parcel = replace(self.ready[queue][index], number=next(self._numbers))
        self.ready[queue].append(parcel)
        return parcel

    def deliver(self, owner: str, queue: str, index: int) -> SimDelivery:
        """Take the `index`th waiting parcel of `queue` to `owner`, unacked."""
        delivery = SimDelivery(self, owner, self.ready[queue].pop(index))
        if not self.ack_on_delivery:
            self.unacked[delivery] = None
        return delivery

    def settle(self, delivery: SimDelivery, requeue: bool) -> None:
        """Ack or requeue a delivery; one whose connection was lost raises ConnectionLost."""
        if self.ack_on_delivery:
            return
        if delivery not in self.unacked:
            raise ConnectionLost(f"{delivery.owner} lost the connection {delivery.parcel.label} came on")
        del self.unacked[delivery]
        if requeue:
            self._put_back(delivery.parcel)

    def disconnect(self, owner: str) -> list[Parcel]:
        """The connection of `owner` is gone: its unacked deliveries come back, redelivered."""
        lost = [delivery for delivery in self.unacked if delivery.owner == owner]
        for delivery in lost:
            del self.unacked[delivery]
            self._put_back(delivery.parcel)
        return [delivery.parcel for delivery in lost]

    def waiting(self) -> int:
        """How many parcels wait in queues or are delivered and unacked."""
        return sum(map(len, self.ready.values())) + len(self.unacked)

    def _put_back(self, parcel: Parcel) -> None:
        self.ready[parcel.queue].insert(0, replace(parcel, redelivered=True))


def topic_matches(pattern: str, key: str) -> bool:
    """True if routing key `key` matches an AMQP topic `pattern` (`*` one word, `#` any)."""
    return _match(pattern.split("."), key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[skip:]) for skip in range(len(words) + 1))
    return bool(words) and head in ("*", words[0]) and _match(rest, words[1:])

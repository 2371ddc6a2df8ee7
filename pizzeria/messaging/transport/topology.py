"""The exchange, the queues and their bindings, declared alike by every process."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kombu import Exchange, Queue, binding

from ..contracts.endpoint import Endpoint
from ..contracts.names import Names

QUORUM, CLASSIC = "quorum", "classic"
# The broker's own guard against a message that kills its consumer, behind the pipeline's
# (which stops at the delivery limit of the settings): high, because a requeue while the
# database is out counts as a delivery too.
BROKER_DELIVERY_LIMIT = 100


class Topology:
    """One durable topic exchange named after the application, a durable queue per module bound
    to the routing key patterns of what the module handles (and one for its arrivals, if it
    takes any), and, for quorum queues, the queue where the broker puts what it gave up delivering."""

    def __init__(self, names: Names, routes: Mapping[str, Sequence[str]], queue_type: str = CLASSIC):
        self.names = names
        self.queue_type = queue_type
        self.exchange = Exchange(names.app, type="topic", durable=True, delivery_mode=2)
        arguments = self._arguments()
        self.queues = {module: Queue(names.queue(module), durable=True, queue_arguments=arguments,
                                     bindings=[binding(self.exchange, routing_key=key) for key in keys])
                       for module, keys in routes.items()}
        self.dead_letters = (Queue(names.dead_letters, Exchange(names.dead_letters, type="fanout", durable=True),
                                   durable=True, queue_arguments={"x-queue-type": QUORUM})
                             if queue_type == QUORUM else None)

    @classmethod
    def of(cls, names: Names, endpoints: Iterable[Endpoint], queue_type: str = CLASSIC) -> Topology:
        """The topology of `endpoints`: each one's queues (see `Endpoint.queues`)."""
        return cls(names, {name: routes for endpoint in endpoints for name, routes in endpoint.queues.items()},
                   queue_type)

    def _arguments(self) -> dict[str, Any]:
        """A quorum queue's: replicated, and dead-lettered once the broker's delivery limit is
        reached, at least once (the dead letter is confirmed before the message goes)."""
        if self.queue_type != QUORUM:
            return {}
        return {"x-queue-type": QUORUM, "x-delivery-limit": BROKER_DELIVERY_LIMIT,
                "x-dead-letter-exchange": self.names.dead_letters, "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish"}

    def declare(self, channel: Any) -> None:
        """Declare the exchange, every queue and every binding on `channel` (idempotent)."""
        self.exchange(channel).declare()
        if self.dead_letters is not None:
            self.dead_letters(channel).declare()
        for queue in self.queues.values():
            queue(channel).declare()

"""The exchange, the queues and their bindings, declared alike by every process."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kombu import Exchange, Queue, binding

from .naming import Names


class Topology:
    """One durable topic exchange named after the application, and a durable queue per module
    bound to the routing key patterns of what the module handles."""

    def __init__(self, names: Names, routes: Mapping[str, Sequence[str]]):
        self.names = names
        self.exchange = Exchange(names.app, type="topic", durable=True, delivery_mode=2)
        self.queues = {module: Queue(names.queue(module), durable=True,
                                     bindings=[binding(self.exchange, routing_key=key) for key in keys])
                       for module, keys in routes.items()}

    def declare(self, channel: Any) -> None:
        """Declare the exchange, every queue and every binding on `channel` (idempotent)."""
        self.exchange(channel).declare()
        for queue in self.queues.values():
            queue(channel).declare()

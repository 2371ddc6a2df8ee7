"""The exchange, the queues and their bindings, declared alike by every process."""

from __future__ import annotations

from typing import Sequence

from kombu import Exchange, Queue, binding


class Topology:
    """One durable topic exchange; the orchestrator's queue takes its commands and every
    event, and each worker's queue takes its own commands."""

    def __init__(self, name: str, orchestrator: str, workers: Sequence[str]):
        self.exchange = Exchange(name, type="topic", durable=True, delivery_mode=2)
        self.queues = {orchestrator: self._queue(orchestrator, f"{orchestrator}.command.*", "*.event.*")}
        self.queues.update({worker: self._queue(worker, f"{worker}.command.*") for worker in workers})

    def _queue(self, module: str, *routing_keys: str) -> Queue:
        bindings = [binding(self.exchange, routing_key=key) for key in routing_keys]
        return Queue(f"{self.exchange.name}.{module}", bindings=bindings, durable=True)

    def declare(self, channel) -> None:
        """Declare the exchange, every queue and every binding on `channel` (idempotent)."""
        self.exchange(channel).declare()
        for queue in self.queues.values():
            queue(channel).declare()

"""Fakes with the interface of what our code receives from a transport."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Engine

from pizzeria.bootstrap import NAMES
from pizzeria.messaging import Envelope, FailurePolicy, Outgoing, Worker
from pizzeria.messaging.delivery.pipeline import Pipeline
from pizzeria.messaging.store.outbox import Relay

M = TypeVar("M")


@dataclass(eq=False)
class FakeDelivery:
    """A Delivery: body, content type, headers, whether it was delivered before; it records
    how it was settled."""

    body: bytes
    content_type: str | None = "application/json"
    headers: dict[str, Any] = field(default_factory=dict)
    redelivered: bool = False
    settled: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, envelope: Envelope, **kwargs: Any) -> FakeDelivery:
        """A delivery of `envelope`, as a publisher of ours sends it."""
        return cls(envelope.encode(), headers=envelope.headers(), **kwargs)

    def ack(self) -> None:
        self.settled.append("ack")

    def requeue(self) -> None:
        self.settled.append("requeue")


@dataclass
class FakePublisher:
    """Records what is published."""

    published: list[Outgoing] = field(default_factory=list)

    def publish_many(self, messages: list[Outgoing]) -> None:
        self.published += messages


def pipeline(engine: Engine, policy: FailurePolicy = FailurePolicy(), **kwargs: Any) -> Pipeline:
    """A pipeline on `engine` whose relay publishes to a FakePublisher (`.relay.publish_many`)."""
    return Pipeline(engine, Relay(engine, FakePublisher().publish_many), NAMES, policy, **kwargs)


def chore(worker: Worker, kind: type[M]) -> M:
    """The worker's middleware of `kind` (a chore: OutboxSweep, Pruning, Heartbeat)."""
    return next(each for each in worker.middleware.chain if isinstance(each, kind))


@contextmanager
def running(worker: Worker) -> Iterator[Worker]:
    """Run `worker` in a thread for the block; then stop it and close it."""
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.should_stop = True
        thread.join(10)
        worker.close()

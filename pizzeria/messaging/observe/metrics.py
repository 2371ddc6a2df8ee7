"""A consumer's Prometheus metrics, as a middleware: what became of each message (handled,
failed, retried, dropped as a duplicate, requeued for an outage) by endpoint and message type,
how long its handling took (processing time: its handler's start to the commit) and how long
since it was sent (critical time), and the size of each batch. Labels are bounded: endpoints and
message types, never a message's or a conversation's id."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.metrics import MetricWrapperBase

from ..contracts.clock import Clock
from ..delivery.attempt import InFlight
from ..delivery.middleware import How, Middleware, Settled
from ..delivery.policy import Decision, RetryNow

# From a millisecond to ten minutes: a hop alone takes a few milliseconds, a message retried
# later or waiting through an outage minutes.
SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                   120.0, 300.0, 600.0)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100)
UNOPENED = "unopened"  # the type label of a delivery that could not be decoded
OUTCOMES = {How.HANDLED: "handled", How.DEAD: "failed", How.RETRY_LATER: "retried_later",
            How.DUPLICATE: "duplicate"}


class Metrics(Middleware):
    """Counts and times what the pipeline does into `registry`, every name prefixed `app_`."""

    def __init__(self, registry: CollectorRegistry, app: str, clock: Clock):
        self.clock = clock
        by_type = ("endpoint", "type")
        self.outcomes = {how: Counter(f"{app}_messages_{name}", f"messages {name.replace('_', ' ')}", by_type,
                                      registry=registry) for how, name in OUTCOMES.items()}
        self.retried_now = Counter(f"{app}_messages_retried_now", "failed tries retried at once", by_type,
                                   registry=registry)
        self.requeued = Counter(f"{app}_messages_requeued", "deliveries requeued for an outage of the database",
                                ("endpoint",), registry=registry)
        self.processing = Histogram(f"{app}_processing_seconds", "from a handler's start to its commit", by_type,
                                    buckets=SECONDS_BUCKETS, registry=registry)
        self.critical = Histogram(f"{app}_critical_seconds", "from a message's sending to its handling committed",
                                  by_type, buckets=SECONDS_BUCKETS, registry=registry)
        self.batch_size = Histogram(f"{app}_batch_size", "deliveries handled together", ("endpoint",),
                                    buckets=BATCH_BUCKETS, registry=registry)
        self._started: dict[str, float] = {}  # by message id, while its handler's try is open
        self._retries: Tally[str] = Tally()  # tries retried at once by message type, until the batch settles
        self._children: dict[tuple[int, str, str], Any] = {}

    def before_handler(self, message: InFlight) -> None:
        self._started[message.envelope.message_id] = self.clock.monotonic()

    def after_commit(self, endpoint: str, messages: Sequence[InFlight]) -> None:
        now, wall = self.clock.monotonic(), self.clock.time()
        for message in messages:
            kind = message.envelope.type
            started = self._started.pop(message.envelope.message_id, now)
            self._child(self.processing, endpoint, kind).observe(now - started)
            sent = datetime.fromisoformat(message.envelope.occurred_at).timestamp()
            self._child(self.critical, endpoint, kind).observe(max(0.0, wall - sent))

    def on_failure(self, message: InFlight | None, error: BaseException, decision: Decision) -> None:
        if message is not None and isinstance(decision, RetryNow):
            self._retries[message.envelope.type] += 1

    def after_settle(self, endpoint: str, settled: Sequence[Settled]) -> None:
        self._started.clear()
        for kind, tries in self._retries.items():
            self._child(self.retried_now, endpoint, kind).inc(tries)
        self._retries.clear()
        self.batch_size.labels(endpoint).observe(len(settled))
        for each in settled:
            if each.how is How.REQUEUED:
                self.requeued.labels(endpoint).inc()
            else:
                kind = each.message.envelope.type if each.message is not None else UNOPENED
                self._child(self.outcomes[each.how], endpoint, kind).inc()

    def _child(self, metric: MetricWrapperBase, endpoint: str, kind: str) -> Any:
        """The labelled child of `metric`, kept: `labels()` takes a lock and checks its labels each call."""
        key = (id(metric), endpoint, kind)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(endpoint, kind)
        return child

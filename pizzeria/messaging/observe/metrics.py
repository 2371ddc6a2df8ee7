"""A consumer's Prometheus metrics, as a middleware: what became of each message (handled,
failed, retried, dropped as a duplicate, released by a breaker, requeued for an outage) by endpoint and message type,
how long its handling took (processing time: its handler's start to the commit) and how long
since it was sent (critical time), and the size of each batch. Labels are bounded: endpoints and
message types, never a message's or a conversation's id.

The consumer's thread counts into plain dicts and lists, and a scrape reads them (a collector of
`prometheus_client`): no lock and no label lookup per message, which keeps counting to a few
microseconds a message."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TypeVar

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

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
OUTCOMES = {How.HANDLED: "handled", How.DEAD: "failed", How.RETRY_LATER: "retried_later", How.DUPLICATE: "duplicate",
            How.RELEASED: "released"}
K = TypeVar("K")
HELP = {"handled": "messages handled", "failed": "messages stored as failed", "retried_later": "messages retried later",
        "duplicate": "messages dropped as duplicates", "retried_now": "failed tries retried at once",
        "released": "deliveries put back uncounted while a circuit breaker holds the queue"}


class Histogram:
    """Observations counted in the bucket of each bound (and one past the last), and their sum."""

    def __init__(self, bounds: Sequence[float]):
        self.bounds, self.counts, self.sum = bounds, [0] * (len(bounds) + 1), 0.0

    def observe(self, value: float) -> None:
        """Count `value`."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def cumulative(self) -> list[tuple[str, float]]:
        """The buckets as Prometheus gives them: each bound with the count at or below it, then +Inf."""
        total, buckets = 0, list[tuple[str, float]]()
        for bound, count in zip([*map(str, self.bounds), "+Inf"], list(self.counts)):
            total += count
            buckets.append((bound, total))
        return buckets


class Metrics(Middleware):
    """Counts and times what the pipeline of one worker does, served from `registry` (if given;
    `MetricsCollector` serves several workers' at once) under names prefixed `app_`."""

    def __init__(self, registry: CollectorRegistry | None, app: str, clock: Clock):
        self.app, self.clock = app, clock
        self.counts: dict[tuple[str, str, str], int] = {}  # by outcome, endpoint and message type
        self.requeued: dict[str, int] = {}  # by endpoint
        self.processing: dict[tuple[str, str], Histogram] = {}  # by endpoint and message type
        self.critical: dict[tuple[str, str], Histogram] = {}
        self.batches: dict[str, Histogram] = {}  # by endpoint
        self._started: dict[str, float] = {}  # by message id, while its handler's try is open
        self._retries: list[str] = []  # the types of the tries retried at once, until the batch settles
        if registry is not None:
            registry.register(MetricsCollector([self]))

    def before_handler(self, message: InFlight) -> None:
        self._started[message.envelope.message_id] = self.clock.monotonic()

    def after_commit(self, endpoint: str, messages: Sequence[InFlight]) -> None:
        now, wall = self.clock.monotonic(), self.clock.time()
        for message in messages:
            key = (endpoint, message.envelope.type)
            started = self._started.pop(message.envelope.message_id, now)
            _histogram(self.processing, key, SECONDS_BUCKETS).observe(now - started)
            sent = datetime.fromisoformat(message.envelope.occurred_at).timestamp()
            _histogram(self.critical, key, SECONDS_BUCKETS).observe(max(0.0, wall - sent))

    def on_failure(self, message: InFlight | None, error: BaseException, decision: Decision) -> None:
        if message is not None and isinstance(decision, RetryNow):
            self._retries.append(message.envelope.type)

    def after_settle(self, endpoint: str, settled: Sequence[Settled]) -> None:
        self._started.clear()
        for kind in self._retries:
            self._count("retried_now", endpoint, kind)
        self._retries.clear()
        _histogram(self.batches, endpoint, BATCH_BUCKETS).observe(len(settled))
        for each in settled:
            if each.how is How.REQUEUED:
                self.requeued[endpoint] = self.requeued.get(endpoint, 0) + 1
            else:
                self._count(OUTCOMES[each.how], endpoint, each.message.envelope.type if each.message else UNOPENED)

    def _count(self, outcome: str, endpoint: str, kind: str) -> None:
        key = (outcome, endpoint, kind)
        self.counts[key] = self.counts.get(key, 0) + 1


def _histogram(histograms: dict[K, Histogram], key: K, bounds: Sequence[float]) -> Histogram:
    """The histogram of `key`, made on its first observation."""
    found = histograms.get(key)
    if found is None:
        found = histograms[key] = Histogram(bounds)
    return found


class MetricsCollector(Collector):
    """What a scrape reads of the `Metrics` of a process's workers: every family, summed over the
    workers, with each label set seen so far."""

    def __init__(self, metrics: Sequence[Metrics]):
        self.metrics = list(metrics)

    def collect(self) -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
        app = self.metrics[0].app
        counters = {outcome: CounterMetricFamily(f"{app}_messages_{outcome}", HELP[outcome], labels=["endpoint", "type"])
                    for outcome in HELP}
        for (outcome, endpoint, kind), count in _summed(each.counts for each in self.metrics).items():
            counters[outcome].add_metric([endpoint, kind], count)
        yield from counters.values()
        requeued = CounterMetricFamily(f"{app}_messages_requeued", "deliveries requeued for an outage of the database",
                                       labels=["endpoint"])
        for endpoint, count in _summed(each.requeued for each in self.metrics).items():
            requeued.add_metric([endpoint], count)
        yield requeued
        families: tuple[tuple[str, str, list[str], str], ...] = (
            ("processing_seconds", "from a handler's start to its commit", ["endpoint", "type"], "processing"),
            ("critical_seconds", "from a message's sending to its handling committed", ["endpoint", "type"], "critical"),
            ("batch_size", "deliveries handled together", ["endpoint"], "batches"))
        for name, doc, labels, attribute in families:
            family = HistogramMetricFamily(f"{app}_{name}", doc, labels=labels)
            for key, (buckets, total) in _merged(getattr(each, attribute) for each in self.metrics).items():
                family.add_metric(list(key) if isinstance(key, tuple) else [key], buckets, total)
            yield family


def _summed(counts: Iterable[dict[K, int]]) -> dict[K, int]:
    """The counts of every worker, added up by key."""
    total: dict[K, int] = {}
    for each in counts:
        for key, count in list(each.items()):
            total[key] = total.get(key, 0) + count
    return total


def _merged(histograms: Iterable[dict[K, Histogram]]) -> dict[K, tuple[list[tuple[str, float]], float]]:
    """The histograms of every worker, their buckets and sums added up by key."""
    total: dict[K, tuple[list[tuple[str, float]], float]] = {}
    for each in histograms:
        for key, histogram in list(each.items()):
            buckets, summed = total.get(key, ([], 0.0))
            mine = histogram.cumulative()
            buckets = [(bound, count + (buckets[index][1] if buckets else 0)) for index, (bound, count) in enumerate(mine)]
            total[key] = (buckets, summed + histogram.sum)
    return total

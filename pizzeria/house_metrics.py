"""The house-wide metrics `pizzeria web` serves on /metrics, read when Prometheus scrapes: the
queues as the broker counts them, the outbox, the failed store, the inboxes, and the visits by
stage, stuck, and how long they took. What each consumer counts itself it serves on its own port
(`pizzeria consume --metrics-port`)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from pizzeria.bootstrap import App
from pizzeria.messaging import admin
from pizzeria.process_manager import figures, views

# A visit alone takes a fraction of a second; a visit with a bake time, retries or an outage, minutes.
VISIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


class House(Collector):
    """Reads the house's figures at each scrape; a part that cannot be read says so in `_up`."""

    def __init__(self, app: App):
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
        up = GaugeMetricFamily("pizzeria_up", "whether the part could be read at this scrape", labels=["part"])
        for part, read in (("broker", self._queues), ("database", self._store)):
            try:
                yield from read()
                up.add_metric([part], 1)
            except Exception:  # an outage is what this reports: it must not fail the scrape
                up.add_metric([part], 0)
        yield up

    def _queues(self) -> Iterator[GaugeMetricFamily]:
        depths = admin.queue_depths(self.app.broker)
        messages = GaugeMetricFamily("pizzeria_queue_messages", "messages waiting in the endpoint's queue",
                                     labels=["endpoint"])
        consumers = GaugeMetricFamily("pizzeria_queue_consumers", "consumers of the endpoint's queue",
                                      labels=["endpoint"])
        for name, depth in depths.items():
            messages.add_metric([name], depth["messages"] or 0)
            if depth["consumers"] is not None:
                consumers.add_metric([name], depth["consumers"])
        yield from (messages, consumers)

    def _store(self) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
        engine, now = self.app.engine, time.time()
        lag = admin.outbox_lag(engine, now)
        yield _gauge("pizzeria_outbox_due_rows", "outbox rows due and not in a relay's hands", lag["pending"])
        yield _gauge("pizzeria_outbox_delayed_rows", "outbox rows waiting for later", lag["delayed"])
        yield _gauge("pizzeria_outbox_oldest_due_seconds", "how long the oldest row due has waited",
                     lag["oldest_seconds"] or 0)
        queue = self.app.broker.topology.names.queue("")
        yield _labelled("pizzeria_failed_entries", "entries in the failed store", "endpoint",
                        {name.removeprefix(queue): count for name, count in admin.failed_by_queue(engine).items()})
        holding = Counter(state["queue"].removeprefix(queue) for state in admin.breaker_states(engine, now)
                          if state["state"] != admin.CLOSED)
        yield _labelled("pizzeria_breakers_holding", "live consumer processes whose circuit breaker holds the "
                        "endpoint's queue", "endpoint", {name: holding[name] for name in self.app.endpoints})
        yield _labelled("pizzeria_inbox_rows", "messages each endpoint remembers handling", "endpoint",
                        admin.handled_counts(engine))
        yield _labelled("pizzeria_visits", "visits by stage (the ended ones by how they ended)", "stage",
                        figures.by_stage(engine))
        yield _gauge("pizzeria_visits_stuck", "visits in progress past their step's deadline",
                     len(views.stuck(engine, now, self.app.settings.step_deadline_seconds)))
        counts, seconds = figures.durations(engine, VISIT_BUCKETS)
        buckets = [(str(bound), count) for bound, count in zip(VISIT_BUCKETS, counts)] + [("+Inf", counts[-1])]
        yield HistogramMetricFamily("pizzeria_visit_duration_seconds", "how long the ended visits took",
                                    buckets=buckets, sum_value=seconds)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _labelled(name: str, documentation: str, label: str, values: dict[str, int]) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        gauge.add_metric([key], value)
    return gauge


def exposition(app: App) -> bytes:
    """The house's metrics in the Prometheus text format, read now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(House(app))
    return generate_latest(registry)

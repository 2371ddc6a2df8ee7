"""The house at a glance, from its database and broker alone (no Prometheus): the messages handled
and the failures per ten seconds over the last five minutes, the handlers' processing time by
endpoint, the queues' lengths, the visits by stage; each endpoint's rate and processing time over
the last minute. The database counts; the percentiles come from the latest 5,000 messages at most."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from pizzeria.messaging import admin
from pizzeria.process_manager import figures
from pizzeria.process_manager.visit import Stage

WINDOW, STEP, RECENT = 300.0, 10.0, 60.0  # the charts' span and bucket, the endpoints' window, in seconds
PERCENTILES = (50, 95, 99)


def charted(app: Any, now: float) -> dict[str, Any]:
    """The house's figures at `now`: counts per bucket (the last ending after `now`), percentiles
    in seconds by endpoint, queue lengths (None if the broker is out of reach), visits by stage."""
    end = (math.floor(now / STEP) + 1) * STEP
    start = end - WINDOW
    handled = [0] * round(WINDOW / STEP)
    for (_, index), count in admin.handled_per_step(app.engine, start, STEP).items():
        if index < len(handled):
            handled[index] += count
    return {"step": STEP, "window": WINDOW, "start": start, "handled": handled,
            "failed": buckets((at for _, at in admin.failed_since(app.engine, start)), start),
            "times": by_endpoint(admin.handling_times(app.engine, start)), "queues": queue_lengths(app),
            "stages": in_order(figures.by_stage(app.engine))}


def endpoint_figures(app: Any, now: float) -> dict[str, dict[str, Any]]:
    """Over the last minute before `now`, by endpoint that handled a message: `rates`, its
    messages per second; `times`, its processing time's p50 and p95 in seconds."""
    counts = {consumer: count for (consumer, _), count in admin.handled_per_step(app.engine, now - RECENT, RECENT).items()}
    return {"rates": {endpoint: count / RECENT for endpoint, count in sorted(counts.items())},
            "times": by_endpoint(admin.handling_times(app.engine, now - RECENT), (50, 95))}


def buckets(moments: Iterable[float], start: float) -> list[int]:
    """How many of `moments` fall in each STEP from `start`, over the WINDOW."""
    counts = [0] * round(WINDOW / STEP)
    for moment in moments:
        index = int((moment - start) // STEP)
        if 0 <= index < len(counts):
            counts[index] += 1
    return counts


def by_endpoint(handled: Iterable[tuple[str, float]], ranks: Sequence[int] = PERCENTILES) -> dict[str, dict[str, float]]:
    """The percentiles (nearest rank) of the processing times by endpoint."""
    times: dict[str, list[float]] = {}
    for consumer, took in handled:
        times.setdefault(consumer, []).append(max(took, 0.0))
    return {consumer: {f"p{rank}": percentile(sorted(values), rank) for rank in ranks}
            for consumer, values in sorted(times.items())}


def percentile(ordered: Sequence[float], rank: int) -> float:
    """The nearest-rank percentile of values already sorted (at least one)."""
    return ordered[max(math.ceil(rank / 100 * len(ordered)) - 1, 0)]


def in_order(stages: dict[str, int]) -> dict[str, int]:
    """The visits by stage in the order a visit goes through them (a stage not known last)."""
    order = {stage.value: index for index, stage in enumerate(Stage)}
    return dict(sorted(stages.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))


def queue_lengths(app: Any) -> dict[str, int] | None:
    """The messages waiting in each endpoint's queue, or None if the broker cannot be reached."""
    try:
        depths = admin.queue_depths(app.broker)
    except app.broker.connection_errors:
        return None
    return {name: depth["messages"] or 0 for name, depth in depths.items()}

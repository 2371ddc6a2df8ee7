"""The purge as a consumer's chore: what is past its retention (see store.retention) removed
one small batch a turn of the consumer, between its own batches, so that no delivery waits long
behind it, and the purge never takes more than a share of the consumer's time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Engine

from ..contracts.clock import Clock
from ..delivery.middleware import Middleware
from ..store.retention import Counts, Retention, batches

# The share of a consumer's time a purge under way takes, at most: a batch that took 2 ms is
# followed by 18 ms of the consumer's own work (or waiting) before the next one.
PURGE_SHARE = 0.1


class Purging(Middleware):
    """Goes through every retention once every `every` seconds (the first time at once), one
    batch a turn of the consumer, the next batch once the purge has taken no more than `share`
    of the time: a delivery waits for one batch at most, and on SQLite the other writers too. A
    database hiccup is logged, and the pass starts again at the next time."""

    def __init__(self, engine: Engine, retentions: Iterable[Retention], log: Any, clock: Clock, every: float,
                 share: float = PURGE_SHARE):
        self.engine, self.log, self.clock, self.every, self.share = engine, log, clock, every, share
        self.retentions = [retention for retention in retentions if retention.seconds > 0]
        self._due = 0.0
        self._pass: Iterator[Counts] | None = None
        self._removed: Counter[str] = Counter()  # in the pass under way

    def on_idle(self, now: float) -> None:
        if self.retentions and now >= self._due:
            self.step()

    def step(self) -> None:
        """Remove the next batch, of a new pass if none is under way."""
        started = self.clock.monotonic()
        if self._pass is None:
            self._pass, self._removed = batches(self.engine, self.retentions, self.clock.time()), Counter()
        try:
            removed = next(self._pass, None)
        except Exception as error:
            self.log.warning("purge failed, will retry", error=(str(error).splitlines() or [type(error).__name__])[0])
            self._pass, self._due = None, started + self.every
            return
        if removed is not None:
            self._removed.update(removed)
            self._due = started + (self.clock.monotonic() - started) / self.share
            return
        self._pass, self._due = None, started + self.every
        if any(self._removed.values()):
            self.log.info("purged", **self._removed)

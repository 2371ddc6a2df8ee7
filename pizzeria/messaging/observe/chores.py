"""A consumer's periodic chores, as middlewares run between batches: publishing what is due in
the outbox, forgetting what is past its retention, and the process's heartbeat. Each one logs
its own failures and tries again at its next turn: a chore never stops the consumer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from ..contracts.clock import Clock
from ..delivery.middleware import How, Middleware, Settled
from ..store import breakers, heartbeats, inbox, replies
from ..store import poison_counts as starts
from ..store.outbox import Relay

SWEEP_SECONDS = 1.0  # how often a consumer publishes what is due in the outbox
SWEEP_AFTER_ROWS = 200  # published rows to delete in one go, at the latest
PRUNE_SECONDS = 600.0  # how often a consumer forgets the inbox rows older than the retention


@dataclass(frozen=True)
class Chores:
    """How often a consumer does its chores: publishing what is due in the outbox, and forgetting
    what is older than `inbox_retention` seconds."""

    sweep_seconds: float = SWEEP_SECONDS
    prune_seconds: float = PRUNE_SECONDS
    inbox_retention: float = inbox.RETENTION_SECONDS


class OutboxSweep(Middleware):
    """Deletes what the relay published and publishes what is due, every `every` seconds (and
    once `after_rows` rows wait to be deleted), and once more as the consumer stops."""

    def __init__(self, relay: Relay, drop_connection: Any, log: Any, clock: Clock, every: float = SWEEP_SECONDS,
                 after_rows: int = SWEEP_AFTER_ROWS):
        self.relay, self.drop_connection, self.log, self.clock = relay, drop_connection, log, clock
        self.every, self.after_rows = every, after_rows
        self._due = 0.0

    def on_idle(self, now: float) -> None:
        if now >= self._due or len(self.relay.published) >= self.after_rows:
            self.sweep()

    def on_close(self) -> None:
        self.sweep()

    def sweep(self) -> None:
        """Sweep now; a broker hiccup is logged and the rows wait in the outbox for the next sweep."""
        self._due = self.clock.monotonic() + self.every
        try:
            self.relay.sweep()
        except Exception as error:
            self.log.warning("outbox relay failed, will retry", error=str(error))
            self.drop_connection()


class Pruning(Middleware):
    """Forgets the messages handled, the answers kept, the heartbeats of processes gone, the
    poison counts and the breakers' changes older than `retention` seconds, every `every` seconds."""

    def __init__(self, engine: Engine, retention: float, log: Any, clock: Clock, every: float = PRUNE_SECONDS):
        self.engine, self.retention, self.log, self.clock, self.every = engine, retention, log, clock, every
        self._due = 0.0

    def on_idle(self, now: float) -> None:
        if now >= self._due:
            self.prune()

    def prune(self) -> None:
        """Prune now; a database hiccup is logged and the rows wait for the next time."""
        self._due = self.clock.monotonic() + self.every
        try:
            before = self.clock.time() - self.retention
            pruned = sum(forget(self.engine, before) for forget in (inbox.prune, replies.prune, heartbeats.prune,
                                                                    starts.prune, breakers.prune))
        except Exception as error:
            self.log.warning("inbox pruning failed, will retry", error=str(error).splitlines()[0])
            return
        if pruned:
            self.log.info("inbox pruned", rows=pruned, retention_seconds=self.retention)


class Heartbeat(Middleware):
    """Writes the process's heartbeat row (its queues, when it started, how many messages it
    handled) every `heartbeats.INTERVAL_SECONDS`, and records its stop."""

    def __init__(self, engine: Engine, process: str, queues: list[str], log: Any, clock: Clock):
        self.engine, self.process, self.queues, self.log, self.clock = engine, process, queues, log, clock
        self.started_at = clock.time()
        self.handled = 0
        self._due = 0.0

    def after_settle(self, endpoint: str, settled: Sequence[Settled]) -> None:
        self.handled += sum(1 for each in settled if each.how is How.HANDLED)

    def on_idle(self, now: float) -> None:
        if now >= self._due:
            self.beat()

    def on_close(self) -> None:
        try:
            heartbeats.stop(self.engine, self.process, self.handled, self.clock.time())
        except Exception as error:
            self.log.warning("could not record the stop", error=str(error).splitlines()[0])

    def beat(self) -> None:
        """Beat now; a database hiccup is logged and it beats next time."""
        self._due = self.clock.monotonic() + heartbeats.INTERVAL_SECONDS
        try:
            heartbeats.beat(self.engine, self.process, self.queues, self.started_at, self.handled, self.clock.time())
        except Exception as error:
            self.log.warning("heartbeat failed, will retry", error=str(error).splitlines()[0])

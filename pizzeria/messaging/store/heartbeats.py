"""Each consumer process's heartbeat: a row it writes every few seconds (its queues, when it
started, how many messages it handled), so that anyone can see who consumes what; one that
stops beating is shown as gone after a deadline, one that stopped cleanly says so."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from .tables import heartbeats as heartbeats  # its table, for the modules that read or write it

INTERVAL_SECONDS = 5.0
GONE_AFTER_SECONDS = 3 * INTERVAL_SECONDS
ALIVE, GONE, STOPPED = "alive", "gone", "stopped"


def beat(engine: Engine, process: str, queues: list[str], started_at: float, handled: int, now: float) -> None:
    """Say that `process`, consuming `queues` since `started_at`, is alive at `now`."""
    values = {"queues": ",".join(queues), "started_at": started_at, "seen_at": now, "handled": handled,
              "stopped_at": None}
    with engine.begin() as conn:
        if not conn.execute(update(heartbeats).where(heartbeats.c.process == process).values(**values)).rowcount:
            conn.execute(insert(heartbeats).values(process=process, **values))


def stop(engine: Engine, process: str, handled: int, now: float) -> None:
    """Say that `process` stopped cleanly at `now`."""
    with engine.begin() as conn:
        conn.execute(update(heartbeats).where(heartbeats.c.process == process)
                     .values(seen_at=now, handled=handled, stopped_at=now))


def processes(engine: Engine, now: float, gone_after: float = GONE_AFTER_SECONDS) -> list[dict[str, Any]]:
    """Every consumer process known (a worker of a crew as `host:pid+N`), the latest seen first:
    alive, gone (no beat for longer than `gone_after`) or stopped."""
    with engine.connect() as conn:
        rows = conn.execute(select(heartbeats).order_by(heartbeats.c.seen_at.desc(), heartbeats.c.process)).all()
    return [{"process": row.process, "host": host, "pid": int(pid.partition("+")[0]), "queues": row.queues.split(","),
             "started_at": row.started_at, "seen_at": row.seen_at, "handled": row.handled,
             "status": STOPPED if row.stopped_at else GONE if now - row.seen_at > gone_after else ALIVE}
            for row in rows for host, _, pid in [row.process.rpartition(":")]]


def prune(engine: Engine, before: float) -> int:
    """Forget the processes not seen since `before`; return how many."""
    with engine.begin() as conn:
        return conn.execute(delete(heartbeats).where(heartbeats.c.seen_at < before)).rowcount

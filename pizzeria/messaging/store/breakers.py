"""The circuit breakers' changes of state, one row each, so that anyone can see which consumer
holds which queue, since when and why: `pizzeria health`, the endpoints page, the house's metrics."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, delete, func, insert, select

from .tables import breaker_changes as changes

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


def record(engine: Engine, process: str, queue: str, state: str, at: float, tries: int, failed: int,
           reason: str | None = None) -> None:
    """Record that the breaker of `process` on `queue` went to `state` at `at`."""
    with engine.begin() as conn:
        conn.execute(insert(changes).values(process=process, queue=queue, state=state, at=at, tries=tries,
                                            failed=failed, reason=reason[:255] if reason else None))


def history(engine: Engine, limit: int = 100) -> list[dict[str, Any]]:
    """The latest changes, the newest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(changes).order_by(changes.c.id.desc()).limit(limit)).mappings().all()
    return [dict(row) for row in rows]


def current(engine: Engine) -> list[dict[str, Any]]:
    """The state each process's breaker of each queue changed to last."""
    latest = select(func.max(changes.c.id)).group_by(changes.c.process, changes.c.queue)
    with engine.connect() as conn:
        rows = conn.execute(select(changes).where(changes.c.id.in_(latest)).order_by(changes.c.queue,
                                                                                     changes.c.process)).mappings()
        return [dict(row) for row in rows]


def prune(engine: Engine, before: float) -> int:
    """Forget the changes made before `before`; return how many."""
    with engine.begin() as conn:
        return conn.execute(delete(changes).where(changes.c.at < before)).rowcount

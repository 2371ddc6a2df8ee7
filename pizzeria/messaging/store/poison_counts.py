"""How often each redelivered message was started without being settled: a message that kills
its consumer comes back again and again, and is stopped at the delivery limit.

A redelivered message's start is counted, and committed, before its handler runs; a first
delivery is not counted (it would cost a write, and most messages come once). A crash while the
database is out counts nothing: the count cannot be written, and the delivery is requeued."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update

from .tables import redelivered_starts as starts

MOVE = (update(starts)
        .where(starts.c.consumer == bindparam("b_consumer"), starts.c.message_id == bindparam("b_id"))
        .values(started=starts.c.started + bindparam("b_by"), last_started_at=bindparam("b_at")))


def started(engine: Engine, consumer: str, message_ids: Sequence[str]) -> dict[str, int]:
    """How often each of the redelivered messages was started before, for those that were."""
    if not message_ids:
        return {}
    with engine.connect() as conn:
        return _started(conn, consumer, message_ids)


def count(engine: Engine, consumer: str, message_ids: Sequence[str], now: float) -> dict[str, int]:
    """Count one more start of each redelivered message; return how often each was started."""
    before = _move(engine, consumer, message_ids, now, 1)
    return {message_id: before.get(message_id, 0) + 1 for message_id in message_ids}


def forgive(engine: Engine, consumer: str, message_ids: Sequence[str], now: float) -> None:
    """Take one start off each message put back before it was a try (a breaker's release): its
    next delivery comes flagged redelivered, and its count is to stay as it was."""
    _move(engine, consumer, [message_id for message_id in message_ids if message_id], now, -1)


def _move(engine: Engine, consumer: str, message_ids: Sequence[str], now: float, by: int) -> dict[str, int]:
    """Move each message's count by `by` (from 0 for one not counted yet); return the counts before."""
    ids = list(dict.fromkeys(message_ids))
    if not ids:
        return {}
    with engine.begin() as conn:
        known = _started(conn, consumer, ids)
        if known:
            conn.execute(MOVE, [{"b_consumer": consumer, "b_id": message_id, "b_at": now, "b_by": by}
                                for message_id in known])
        new = [message_id for message_id in ids if message_id not in known]
        if new:
            conn.execute(insert(starts), [{"consumer": consumer, "message_id": message_id, "started": by,
                                           "last_started_at": now} for message_id in new])
    return known


def _started(conn: Connection, consumer: str, message_ids: Sequence[str]) -> dict[str, int]:
    query = select(starts.c.message_id, starts.c.started).where(
        starts.c.consumer == consumer, starts.c.message_id.in_(message_ids))
    return {message_id: times for message_id, times in conn.execute(query)}


def prune(engine: Engine, before: float) -> int:
    """Forget the counts of messages last started before `before`; return how many."""
    with engine.begin() as conn:
        return conn.execute(delete(starts).where(starts.c.last_started_at < before)).rowcount

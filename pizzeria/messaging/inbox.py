"""The inbox: which messages each consumer has already handled."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Column, Connection, Engine, Float, String, Table, delete, insert, select

from .db import metadata

inbox = Table(
    "inbox", metadata,
    Column("consumer", String(64), primary_key=True),
    Column("message_id", String(64), primary_key=True),
    Column("handled_at", Float, nullable=False, index=True),
)

RETENTION_SECONDS = 7 * 24 * 3600.0  # far longer than any lease, retry or redelivery


def handled(engine: Engine, consumer: str, message_ids: Iterable[str]) -> set[str]:
    """Which of `message_ids` `consumer` committed the handling of before."""
    wanted = list(message_ids)
    if not wanted:
        return set()
    query = select(inbox.c.message_id).where(inbox.c.consumer == consumer, inbox.c.message_id.in_(wanted))
    with engine.connect() as conn:
        return set(conn.execute(query).scalars())


def record(conn: Connection, consumer: str, message_ids: list[str], now: float) -> None:
    """Mark the messages handled by `consumer` at `now`; a duplicate raises IntegrityError."""
    conn.execute(insert(inbox), [{"consumer": consumer, "message_id": message_id, "handled_at": now}
                                 for message_id in message_ids])


def prune(engine: Engine, before: float) -> int:
    """Forget the messages handled before `before`; return how many. A copy of one that comes
    later is handled again: keep them longer than any copy can take to come."""
    with engine.begin() as conn:
        return conn.execute(delete(inbox).where(inbox.c.handled_at < before)).rowcount

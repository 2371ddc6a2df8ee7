"""The failed-message store: what could not be handled, kept whole with its error, to be
listed, shown, replayed or deleted."""

from __future__ import annotations

import json
import time
from typing import Any, Sequence

from sqlalchemy import (Column, Engine, Float, Integer, LargeBinary, Row, String, Table, Text, delete,
                        insert, select, update)

from .db import metadata
from .redact import hide_password
from .retry import REPLAYED_HEADER, TRIES_HEADERS

failed_messages = Table(
    "failed_messages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("queue", String(255), nullable=False),
    Column("message_id", String(64), nullable=True),
    Column("type", String(64), nullable=True),
    Column("correlation_id", String(64), nullable=True, index=True),
    Column("headers", Text, nullable=False),
    Column("content_type", String(255), nullable=True),
    Column("body", LargeBinary, nullable=False),
    Column("error_type", String(255), nullable=False),
    Column("error", Text, nullable=False),
    Column("traceback", Text, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("first_failed_at", Float, nullable=False),
    Column("last_failed_at", Float, nullable=False),
    Column("replayed_at", Float, nullable=True),
)


def store(engine: Engine, *, queue: str, body: bytes, headers: dict, content_type: str | None,
          error: BaseException, traceback: str | None, attempts: int,
          first_failed_at: float | None = None) -> int:
    """Keep a message that failed for good, with its error; a replay that fails again updates
    the entry it came from. Return the entry's id."""
    now = time.time()
    failure = {"error_type": type(error).__name__, "error": hide_password(str(error)),
               "traceback": hide_password(traceback) if traceback else None, "last_failed_at": now}
    with engine.begin() as conn:
        replayed = conn.execute(select(failed_messages.c.id, failed_messages.c.attempts).where(
            failed_messages.c.id == _number(headers.get(REPLAYED_HEADER)))).first()
        if replayed is not None:
            conn.execute(update(failed_messages).where(failed_messages.c.id == replayed.id).values(
                **failure, attempts=replayed.attempts + attempts, replayed_at=None))
            return replayed.id
        return conn.execute(insert(failed_messages).values(
            **failure, queue=queue, message_id=_text(headers.get("message_id")),
            type=_text(headers.get("type")), correlation_id=_text(headers.get("correlation_id")),
            headers=json.dumps(headers, default=str), content_type=content_type, body=body,
            attempts=attempts,
            first_failed_at=first_failed_at or now)).inserted_primary_key[0]


def entries(engine: Engine, ids: Sequence[int] | None = None) -> list[Row]:
    """The entries with these ids (every entry if None), oldest first."""
    query = select(failed_messages).order_by(failed_messages.c.id)
    if ids is not None:
        query = query.where(failed_messages.c.id.in_(ids))
    with engine.connect() as conn:
        return conn.execute(query).all()


def _replay_headers(entry: Row) -> dict[str, Any]:
    """The entry's original headers, its earlier tries forgotten, marked as a replay of it."""
    headers = {k: v for k, v in json.loads(entry.headers).items() if k not in TRIES_HEADERS}
    return {**headers, REPLAYED_HEADER: entry.id}


def _mark(engine: Engine, entry_id: int, replayed_at: float | None) -> None:
    with engine.begin() as conn:
        conn.execute(update(failed_messages).where(failed_messages.c.id == entry_id)
                     .values(replayed_at=replayed_at))


def remove(engine: Engine, ids: Sequence[int]) -> None:
    """Delete these entries."""
    with engine.begin() as conn:
        conn.execute(delete(failed_messages).where(failed_messages.c.id.in_(ids)))


def _text(value: object) -> str | None:
    return str(value)[:64] if value else None


def _number(value: object) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def replay(engine: Engine, publish, entry: Row) -> None:
    """Send the entry's message to its queue again, as it was, marked as a replay of it; the
    inbox lets it through if it never succeeded, and drops it if it did. The entry is marked
    first, so that a replay failing again at once unmarks it, not the other way round."""
    _mark(engine, entry.id, time.time())
    try:
        publish(entry.queue, entry.body, _replay_headers(entry), exchange="",
                content_type=entry.content_type or "application/octet-stream")
    except BaseException:
        _mark(engine, entry.id, None)
        raise

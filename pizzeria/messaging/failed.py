"""The failed-message store: what could not be handled, kept whole with its error."""

from __future__ import annotations

import json
import time

from sqlalchemy import Column, Engine, Float, Integer, LargeBinary, String, Table, Text, insert

from .db import metadata

failed_messages = Table(
    "failed_messages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("queue", String(255), nullable=False),
    Column("message_id", String(64), nullable=True),
    Column("type", String(64), nullable=True),
    Column("correlation_id", String(64), nullable=True, index=True),
    Column("headers", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("error_type", String(255), nullable=False),
    Column("error", Text, nullable=False),
    Column("traceback", Text, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("first_failed_at", Float, nullable=False),
    Column("last_failed_at", Float, nullable=False),
)


def store(engine: Engine, *, queue: str, body: bytes, headers: dict, error: BaseException,
          traceback: str | None, attempts: int) -> None:
    """Keep a message that failed for good, with its error, for a person to look at."""
    now = time.time()
    with engine.begin() as conn:
        conn.execute(insert(failed_messages).values(
            queue=queue, message_id=_text(headers.get("message_id")), type=_text(headers.get("type")),
            correlation_id=_text(headers.get("correlation_id")), headers=json.dumps(headers, default=str),
            body=body, error_type=type(error).__name__, error=str(error), traceback=traceback,
            attempts=attempts, first_failed_at=now, last_failed_at=now))


def _text(value: object) -> str | None:
    return str(value)[:64] if value else None

"""The visits asked for over HTTP, kept before their start is published: a request retried
with the same `Idempotency-Key` gets the same visit (its start published again, which the
process manager's inbox drops), and a visit the process manager has not opened yet is known."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Engine, Float, MetaData, String, Table, Text, insert, select
from sqlalchemy.exc import IntegrityError

metadata = MetaData()

visit_requests = Table(
    "web_visit_requests", metadata,
    Column("visit_id", String(64), primary_key=True),
    Column("idempotency_key", String(255), unique=True, nullable=True),
    Column("body", Text, nullable=False),  # the request, as canonical JSON
    Column("table_id", String(32), nullable=False),
    Column("requested_at", Float, nullable=False),
)


def by_key(engine: Engine, key: str) -> Any:
    """The request made with this idempotency key, or None."""
    with engine.connect() as conn:
        return conn.execute(select(visit_requests).where(visit_requests.c.idempotency_key == key)).first()


def by_visit(engine: Engine, visit_id: str) -> Any:
    """The request of this visit, or None."""
    with engine.connect() as conn:
        return conn.execute(select(visit_requests).where(visit_requests.c.visit_id == visit_id)).first()


def keep(engine: Engine, visit_id: str, key: str | None, body: str, table_id: str, now: float) -> bool:
    """Keep a new request; False if another one took its idempotency key first."""
    try:
        with engine.begin() as conn:
            conn.execute(insert(visit_requests).values(visit_id=visit_id, idempotency_key=key, body=body,
                                                       table_id=table_id, requested_at=now))
    except IntegrityError:
        return False
    return True

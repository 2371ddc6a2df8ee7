"""The alerts raised, one row each however many processes saw the same thing: raising one adds
its row and its event to the outbox in one transaction, or finds it raised already and updates
its count; the webhook's deliveries are claimed, retried and rate-limited through the rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..transport.delivery import Outgoing
from .outbox import add_raw
from .tables import alerts

POST_LEASE_SECONDS = 30.0  # a process trying to post an alert has it for this long
MAX_POST_ATTEMPTS = 8


def raise_once(engine: Engine, row: dict[str, Any], event: Callable[[], tuple[Outgoing, str]]) -> bool:
    """Add the alert `row` (key, kind, subject, summary, count, details, raised_at) and put its
    event (`event()`: the message and its id, made only then) in the outbox, in one transaction;
    True if this call raised it. An alert raised already gets the larger count and its time."""
    with engine.begin() as conn:
        if conn.execute(select(alerts.c.key).where(alerts.c.key == row["key"])).first() is not None:
            _recount(conn, row)
            return False
    try:
        with engine.begin() as conn:
            conn.execute(insert(alerts).values({**row, "details": json.dumps(row["details"]),
                                                "updated_at": row["raised_at"], "post_attempts": 0}))
            message, message_id = event()
            add_raw(conn, message, message_id, row["raised_at"])
        return True
    except IntegrityError:  # another process raised it in the meantime
        with engine.begin() as conn:
            _recount(conn, row)
        return False


def _recount(conn: Connection, row: dict[str, Any]) -> None:
    """Give the alert raised already the count of `row`, if larger, and its time."""
    conn.execute(update(alerts).where(alerts.c.key == row["key"], alerts.c.count < row["count"])
                 .values(count=row["count"], updated_at=row["raised_at"]))


def recent(engine: Engine, limit: int = 50, kind: str | None = None) -> list[Row[Any]]:
    """The latest alerts first."""
    query = select(alerts).order_by(alerts.c.raised_at.desc(), alerts.c.key).limit(limit)
    with engine.connect() as conn:
        return list(conn.execute(query if kind is None else query.where(alerts.c.kind == kind)).all())


def claim_posts(engine: Engine, now: float, limit: int) -> list[Row[Any]]:
    """Up to `limit` alerts not posted yet whose turn has come, each claimed for this process
    for POST_LEASE_SECONDS; the oldest first."""
    due = and_(alerts.c.posted_at.is_(None), alerts.c.post_attempts < MAX_POST_ATTEMPTS,
               or_(alerts.c.next_post_at.is_(None), alerts.c.next_post_at <= now))
    claimed = []
    with engine.connect() as conn:
        keys = conn.execute(select(alerts.c.key).where(due).order_by(alerts.c.raised_at).limit(limit)).scalars().all()
    for key in keys:
        with engine.begin() as conn:
            taken = conn.execute(update(alerts).where(alerts.c.key == key, due)
                                 .values(next_post_at=now + POST_LEASE_SECONDS)).rowcount
            if taken:
                claimed.append(conn.execute(select(alerts).where(alerts.c.key == key)).one())
    return claimed


def posted(engine: Engine, key: str, now: float) -> None:
    """The webhook took the alert."""
    with engine.begin() as conn:
        conn.execute(update(alerts).where(alerts.c.key == key).values(
            posted_at=now, post_attempts=alerts.c.post_attempts + 1, post_error=None))


def post_failed(engine: Engine, key: str, error: str, retry_at: float) -> None:
    """The webhook did not take the alert: try again at `retry_at` (past MAX_POST_ATTEMPTS, never)."""
    with engine.begin() as conn:
        conn.execute(update(alerts).where(alerts.c.key == key).values(
            post_attempts=alerts.c.post_attempts + 1, next_post_at=retry_at, post_error=error[:255]))


def posts_since(engine: Engine, since: float) -> int:
    """How many alerts the webhook took since `since`, by every process."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(alerts.c.posted_at >= since)).scalar_one())


def details(row: Row[Any]) -> dict[str, Any]:
    """An alert row as plain data."""
    return {**row._mapping, "details": json.loads(row.details)}

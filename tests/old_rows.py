"""Rows of any age written straight into the tables, for the tests of retention: visits with
their history, and failed messages with their edits; and what is left of them."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, func, insert, select

from pizzeria.messaging.store.tables import failed_edits, failed_messages
from pizzeria.process_manager.repository import history, visits

DAY = 86400.0


def add_visit(conn: Connection, visit_id: str, status: str, ended_at: float, history_rows: int = 3) -> None:
    """A visit of `status` last changed at `ended_at`, with that many rows of history."""
    conn.execute(insert(visits).values(visit_id=visit_id, table_id=visit_id[:32], status=status, version=1,
                                       state="{}", started_at=ended_at - 60, updated_at=ended_at))
    if history_rows:
        conn.execute(insert(history), [{"visit_id": visit_id, "direction": "received", "type": "Event",
                                        "message_id": f"{visit_id}-{n}", "at": ended_at - n}
                                       for n in range(history_rows)])


def add_failed(conn: Connection, failed_at: float, replayed_at: float | None, edits: int = 0) -> int:
    """A failed message that failed at `failed_at`, replayed at `replayed_at` (None: not yet), with
    that many edits; its id."""
    key = conn.execute(insert(failed_messages).values(
        queue="pizzeria.kitchen", message_id=f"m{failed_at}-{replayed_at}", type="DoPizza", headers="{}", body=b"{}",
        error_type="RuntimeError", error="oven down", attempts=3, first_failed_at=failed_at,
        last_failed_at=failed_at, replayed_at=replayed_at)).inserted_primary_key
    assert key is not None
    for n in range(edits):
        conn.execute(insert(failed_edits).values(failed_id=key[0], body=b"{}", changes="{}", edited_at=failed_at + n))
    return int(key[0])


def visit_ids(engine: Engine) -> set[str]:
    """The ids of the visits kept."""
    with engine.connect() as conn:
        return set(conn.execute(select(visits.c.visit_id)).scalars())


def history_of(engine: Engine) -> dict[str, int]:
    """How many rows of history each visit that has any keeps."""
    with engine.connect() as conn:
        return dict(conn.execute(select(history.c.visit_id, func.count()).group_by(history.c.visit_id)).all())


def failed_ids(engine: Engine) -> set[int]:
    """The ids of the failed messages kept."""
    with engine.connect() as conn:
        return set(conn.execute(select(failed_messages.c.id)).scalars())


def edited(engine: Engine) -> set[int]:
    """The ids of the failed messages that have edits kept."""
    with engine.connect() as conn:
        return set(conn.execute(select(failed_edits.c.failed_id)).scalars())

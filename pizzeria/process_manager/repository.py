"""Visits and their history, saved compare-and-set on a version so several process managers
can run at once without losing an update."""

from __future__ import annotations

import json
import time

from sqlalchemy import (Column, Connection, Float, Index, Integer, MetaData, String, Table, Text,
                        UniqueConstraint, insert, select, text, update)
from sqlalchemy.exc import IntegrityError

from pizzeria.messaging.codec import from_payload, to_payload
from pizzeria.messaging.envelope import Envelope
from pizzeria.messaging.handling import Conflict

from .saga import IN_PROGRESS, Visit

metadata = MetaData()

visits = Table(
    "visits", metadata,
    Column("visit_id", String(64), primary_key=True),
    Column("table_id", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("state", Text, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_visits_table_started", "table_id", "started_at"),
    Index("one_visit_in_progress_per_table", "table_id", unique=True,
          sqlite_where=text(f"status = '{IN_PROGRESS}'"), postgresql_where=text(f"status = '{IN_PROGRESS}'")),
)

history = Table(
    "visit_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("visit_id", String(64), nullable=False, index=True),
    Column("direction", String(8), nullable=False),
    Column("type", String(64), nullable=False),
    Column("message_id", String(64), nullable=False),
    Column("at", Float, nullable=False),
    UniqueConstraint("visit_id", "message_id", "direction"),
)


class VisitRepository:
    """Loads and saves visits in the caller's transaction."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def get(self, visit_id: str) -> tuple[Visit, int] | None:
        """The visit and its version, or None if it has not started."""
        row = self.conn.execute(
            select(visits.c.state, visits.c.version).where(visits.c.visit_id == visit_id)).first()
        return None if row is None else (from_payload(Visit, json.loads(row.state)), row.version)

    def visit_in_progress(self, table_id: str) -> str | None:
        """The id of the table's visit in progress, if any."""
        query = select(visits.c.visit_id).where(visits.c.table_id == table_id,
                                                visits.c.status == IN_PROGRESS)
        return self.conn.execute(query).scalar()

    def add(self, visit: Visit) -> None:
        """Save a new visit at version 1; raise Conflict if it or a table clash got there first."""
        now = time.time()
        try:
            self.conn.execute(insert(visits).values(
                visit_id=visit.visit_id, table_id=visit.table_id, status=visit.status,
                version=1, state=_dump(visit), started_at=now, updated_at=now))
        except IntegrityError as error:
            raise Conflict(f"visit {visit.visit_id} or table {visit.table_id} taken: {error}") from None

    def save(self, visit: Visit, version: int) -> None:
        """Save `visit` over `version`; raise Conflict if another save came in between."""
        result = self.conn.execute(
            update(visits).where(visits.c.visit_id == visit.visit_id, visits.c.version == version)
            .values(status=visit.status, version=version + 1, state=_dump(visit), updated_at=time.time()))
        if result.rowcount != 1:
            raise Conflict(f"visit {visit.visit_id} changed since version {version}")



def history_row(visit_id: str, direction: str, envelope: Envelope) -> dict:
    """A row of the visit's history: a message it received or sent, and when."""
    return {"visit_id": visit_id, "direction": direction, "type": envelope.type,
            "message_id": envelope.message_id, "at": time.time()}


def _dump(visit: Visit) -> str:
    return json.dumps(to_payload(visit), separators=(",", ":"))

"""Visits and their history, saved compare-and-set on a version so several process managers
can run at once without losing an update."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from pizzeria.messaging import (
    SYSTEM,
    Clock,
    Conflict,
    Envelope,
    HandlerContext,
    from_payload,
    insert_rows,
    on_sqlite,
    to_payload,
    update_rows,
)

from .saga import IN_PROGRESS, Visit

metadata = MetaData()

IN_PROGRESS_ONLY = text(f"status = '{IN_PROGRESS}'")  # the partial index's rows, on either database
ONE_IN_PROGRESS = Index("one_visit_in_progress_per_table", "table_id", unique=True, postgresql_where=IN_PROGRESS_ONLY)
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
    ONE_IN_PROGRESS,
)
on_sqlite(ONE_IN_PROGRESS, where=IN_PROGRESS_ONLY)

history = Table(
    "visit_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("visit_id", String(64), nullable=False, index=True),
    Column("direction", String(8), nullable=False),
    Column("type", String(64), nullable=False),
    Column("message_id", String(64), nullable=False),
    Column("at", Float, nullable=False),
    Column("note", String(255), nullable=True),  # why a message was ignored: the stage it met
    Column("stage", String(32), nullable=True),  # the visit's, after a message received or ignored
    Column("causation_id", String(64), nullable=True),  # the message that made this one go
    UniqueConstraint("visit_id", "message_id", "direction"),
)


AS_READ = {"visit_id": "visit_id", "version": "read_version"}  # a saved visit's row: its id, at the version read
UpdateLater = Callable[[Table, dict[str, Any], Mapping[str, str]], None]

# Read for update, in one order: a second process manager waits for the first one's commit
# instead of redoing its batch on a conflict, and two of them never deadlock.
READ = select(visits.c.visit_id, visits.c.state, visits.c.version).where(
    visits.c.visit_id.in_(bindparam("visit_ids", expanding=True))).order_by(visits.c.visit_id).with_for_update()


class VisitRepository:
    """Loads and saves visits in the caller's transaction, a unit of work: each visit is read at
    most once, and locked until the commit where the database can (PostgreSQL), and written at
    most once, by `flush`, compare-and-set on the version it was read at, so that several
    process managers can run at once without losing an update."""

    def __init__(self, conn: Connection, expected: Iterable[str] = (), clock: Clock = SYSTEM,
                 tables: Iterable[str] = ()):
        self.conn = conn
        self.clock = clock
        self.expected = set(expected)  # visits worth reading along with the first one asked for
        self.tables = set(tables)  # tables worth looking up along with the first one asked for
        self.known: dict[str, tuple[Visit, int] | None] = {}
        self.busy: dict[str, str | None] = {}  # table id: its visit in progress, if any
        self.added: list[dict[str, object]] = []
        self.changed: set[str] = set()

    @classmethod
    def of(cls, context: HandlerContext) -> VisitRepository:
        """The repository of the context's transaction: the visits of all its messages (and the
        tables they start visits at) are read at the first `get` (or look-up), and what they
        changed is written just before the commit."""
        tables = [envelope.payload["table_id"] for envelope in context.batch
                  if envelope.type == "StartTableService" and isinstance(envelope.payload.get("table_id"), str)]
        repository = cls(context.db, (envelope.correlation_id for envelope in context.batch), context.clock, tables)
        context.before_commit(partial(repository.flush, context.update_later))
        return repository

    def get(self, visit_id: str) -> tuple[Visit, int] | None:
        """The visit and the version it was read at, or None if it has not started."""
        if visit_id not in self.known:
            self._read({visit_id} | self.expected - self.known.keys())
        return self.known[visit_id]

    def visit_in_progress(self, table_id: str) -> str | None:
        """The id of the table's visit in progress, if any (one added in this unit included)."""
        if table_id not in self.busy:
            wanted = {table_id} | self.tables - self.busy.keys()
            self.busy.update(dict.fromkeys(wanted))
            query = select(visits.c.table_id, visits.c.visit_id).where(visits.c.table_id.in_(wanted),
                                                                       visits.c.status == IN_PROGRESS)
            self.busy.update({table: visit_id for table, visit_id in self.conn.execute(query)})
        return self.busy[table_id]

    def add(self, visit: Visit) -> None:
        """Keep a new visit, at version 1, for the next `flush`."""
        now = self.clock.time()
        self.added.append({"visit_id": visit.visit_id, "table_id": visit.table_id, "status": visit.status,
                           "version": 1, "state": _dump(visit), "started_at": now, "updated_at": now})
        self.known[visit.visit_id] = (visit, 1)
        if visit.status == IN_PROGRESS:
            self.busy[visit.table_id] = visit.visit_id

    def save(self, visit: Visit, version: int) -> None:
        """Keep `visit`, read at `version`, for the next `flush`."""
        self.known[visit.visit_id] = (visit, version)
        self.changed.add(visit.visit_id)

    def flush(self, update_later: UpdateLater | None = None) -> None:
        """Insert the new visits in one statement, and write the saved ones in another (or hand
        them to `update_later`, a context's, for the commit's one statement); raise Conflict if
        another process started one of the visits or one at its table first, or saved one of
        the others since it was read (the commit raises it, then)."""
        if self.added:
            try:
                insert_rows(self.conn, visits, self.added)
            except IntegrityError as error:
                raise Conflict(f"a visit or its table was taken meanwhile: {str(error).splitlines()[0]}") from None
            self.added = []
        if not self.changed:
            return
        now = self.clock.time()
        saved: dict[str, tuple[Visit, int]] = {}
        for visit_id in sorted(self.changed):  # one lock order
            known = self.known[visit_id]
            assert known is not None  # save() keeps every visit it marks changed
            saved[visit_id] = known
        rows = [{"visit_id": visit_id, "read_version": version, "version": version + 1, "status": visit.status,
                 "state": _dump(visit), "updated_at": now} for visit_id, (visit, version) in saved.items()]
        if update_later is not None:
            for row in rows:
                update_later(visits, row, AS_READ)
        elif update_rows(self.conn, visits, rows, AS_READ) != len(rows):
            raise Conflict(f"visit(s) {', '.join(saved)} changed since they were read")
        self.known.update((visit_id, (visit, version + 1)) for visit_id, (visit, version) in saved.items())
        self.changed.clear()

    def _read(self, visit_ids: set[str]) -> None:
        self.known.update(dict.fromkeys(visit_ids))
        for row in self.conn.execute(READ, {"visit_ids": list(visit_ids)}):
            self.known[row.visit_id] = (load(row.state), row.version)


def history_row(visit_id: str, direction: str, envelope: Envelope, at: float, note: str | None = None,
                stage: str | None = None) -> dict:
    """A row of the visit's history: a message it received, sent or ignored, when, a note (the
    stage that ignored it, the commands it made go again) and the visit's stage after it."""
    return {"visit_id": visit_id, "direction": direction, "type": envelope.type,
            "message_id": envelope.message_id, "at": at, "note": note, "stage": stage,
            "causation_id": envelope.causation_id}


def sent_before(conn: Connection, visit_id: str, message_ids: list[str]) -> set[str]:
    """Which of these commands the visit has sent before."""
    query = select(history.c.message_id).where(history.c.visit_id == visit_id, history.c.direction == "sent",
                                                history.c.message_id.in_(message_ids))
    return set(conn.execute(query).scalars()) if message_ids else set()


# The shape a visit's state is written in, kept in it: 1 before deadlines and compensation.
SHAPE = 2


def load(state: str) -> Visit:
    """A visit from its saved state, upgraded from the shape it was written in."""
    data = json.loads(state)
    for upgrade in UPGRADES[data.pop("shape", 1) - 1:]:
        data = upgrade(data)
    return from_payload(Visit, data)


def _from_shape_1(data: dict) -> dict:
    """Shape 1 had no re-sends, no compensation, no cancelled pizzas."""
    return {**data, "resends": 0, "cancelling": False,
            "pizzas": [{**pizza, "cancelled": False} for pizza in data["pizzas"]]}


UPGRADES = [_from_shape_1]  # UPGRADES[n - 1] takes shape n to n + 1


def _dump(visit: Visit) -> str:
    return json.dumps({"shape": SHAPE, **to_payload(visit)}, separators=(",", ":"))

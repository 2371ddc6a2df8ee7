"""One handler call as one unit of work: inbox row, the handler's writes and its outbox rows
commit together or not at all."""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from sqlalchemy import Connection, Engine, Row, Table, insert
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from . import inbox, outbox
from .envelope import Envelope, derived_id

T = TypeVar("T")
CONFLICT_ATTEMPTS = 100  # conflicts are short-lived: two writers of one visit, one wins each time
TOGETHER_CONFLICT_ATTEMPTS = 5  # then one by one: a batch has more to conflict on
OUTAGE_ATTEMPTS = 3


class AlreadyHandled(Exception):
    """The inbox shows this consumer handled the message before: ack it, do nothing."""


class Conflict(Exception):
    """Someone else changed the state first: reload and handle the message again."""


@dataclass
class Unit:
    """What the messages handled in one transaction share: their envelopes, rows to insert at
    the commit, work to do just before it, and what was made once for all of them."""

    envelopes: list[Envelope]
    deferred: list[tuple[Table, dict]] = field(default_factory=list)
    before_commit: list[Callable[[], None]] = field(default_factory=list)
    shared: dict[Callable, Any] = field(default_factory=dict)

    def commit(self, conn: Connection, sent: list[tuple[Envelope, str]]) -> list[Row]:
        """Do the work left for the commit, insert the deferred and the outbox rows, and
        commit; return the outbox rows."""
        for work in self.before_commit:
            work()
        by_table: dict[Table, list[dict]] = {}
        for table, row in self.deferred:
            by_table.setdefault(table, []).append(row)
        for table, rows in by_table.items():
            conn.execute(insert(table), rows)
        rows = outbox.add(conn, sent)
        conn.commit()
        return rows


@dataclass
class Context:
    """What a handler gets besides its message: the envelope, a transaction, a way to send, and
    which attempt at handling the message this is (1 for the first)."""

    consumer: str
    envelope: Envelope
    engine: Engine
    unit: Unit
    attempt: int = 1
    sent: list[tuple[Envelope, str]] = field(default_factory=list)
    _conn: Connection | None = None

    @property
    def db(self) -> Connection:
        """The unit of work's connection; the transaction (and the inbox row) begin on first use,
        so a handler may do slow work that needs no database before it touches this."""
        if self._conn is None:
            self._conn = self.engine.connect()
            try:
                inbox.record(self._conn, self.consumer, self.envelope.message_id)
            except IntegrityError:
                raise AlreadyHandled(self.envelope.message_id) from None
        return self._conn

    def send(self, message: Any, key: str | None = None) -> Envelope:
        """Queue `message` for the outbox, in this visit; its id is derived from `key` within the
        visit when given, else from the message being handled, so a re-run sends the same ids."""
        message_id = (derived_id(self.envelope.correlation_id, key) if key is not None
                      else derived_id(self.envelope.message_id, type(message).__name__))
        envelope = Envelope.wrap(message, message_id=message_id,
                                 correlation_id=self.envelope.correlation_id,
                                 causation_id=self.envelope.message_id)
        self.sent.append((envelope, type(message).route))
        return envelope

    def insert_later(self, table: Table, row: dict) -> None:
        """Insert `row` into `table` at the commit, in one statement with the others (and with
        those of the other messages handled in the same transaction)."""
        self.unit.deferred.append((table, row))

    def shared(self, make: Callable[[Context], T]) -> T:
        """The one `make(context)` of this transaction, made on first use and shared by every
        message handled in it: a repository that reads and writes for all of them, say."""
        if make not in self.unit.shared:
            self.unit.shared[make] = make(self)
        return self.unit.shared[make]

    def before_commit(self, work: Callable[[], None]) -> None:
        """Call `work` just before the transaction commits (once, however many messages)."""
        self.unit.before_commit.append(work)

    def commit(self) -> list[Row]:
        """Commit this message's unit of work; return its outbox rows."""
        return self.unit.commit(self.db, self.sent)

    def close(self) -> None:
        """Roll back whatever was not committed and give the connection back."""
        if self._conn is not None:
            self._conn.close()


Handler = Callable[[Any, Context], None]


def handle(handler: Handler, message: Any, envelope: Envelope, consumer: str,
           engine: Engine, attempt: int = 1) -> list[Row] | None:
    """Handle `message` exactly once: return the outbox rows of what it sent (claimed, to be
    published by the caller), or None if it was handled before.
    A conflict reloads and runs the handler again; a database outage that outlasts a few quick
    retries, and any other error, is raised for the caller to requeue or store as failed."""
    def once() -> list[Row]:
        return _handle_once(handler, message, Context(consumer, envelope, engine, Unit([envelope]), attempt))

    for again in itertools.count(1):
        try:
            return _until_no_conflict(once, CONFLICT_ATTEMPTS)
        except AlreadyHandled:
            return None
        except DBAPIError as error:
            if not is_outage(error) or again >= OUTAGE_ATTEMPTS:
                raise
            time.sleep(0.1 * again)


def handle_together(work: list[tuple[Handler, Any, Envelope]], consumer: str, engine: Engine) -> list[list[Row]]:
    """Handle several messages in one transaction, all or nothing (one commit where each would
    take its own); return the outbox rows of each. A conflict runs them all again, a few times;
    any other error, a duplicate among them say, rolls them all back and is raised: the caller
    then handles them one by one."""
    return _until_no_conflict(lambda: _handle_together_once(work, consumer, engine), TOGETHER_CONFLICT_ATTEMPTS)


def _handle_together_once(work: list[tuple[Handler, Any, Envelope]], consumer: str,
                          engine: Engine) -> list[list[Row]]:
    unit = Unit([envelope for _, _, envelope in work])
    with engine.connect() as conn:
        contexts = [Context(consumer, envelope, engine, unit, _conn=conn) for _, _, envelope in work]
        for (handler, message, _), context in zip(work, contexts):
            handler(message, context)
        inbox.record(conn, consumer, *(envelope.message_id for envelope in unit.envelopes))
        rows = unit.commit(conn, [sent for context in contexts for sent in context.sent])
    counts = [len(context.sent) for context in contexts]
    return [rows[sum(counts[:i]):sum(counts[:i + 1])] for i in range(len(counts))]


def _until_no_conflict(attempt: Callable[[], T], attempts: int) -> T:
    """Run `attempt` until it meets no conflict, at most `attempts` times."""
    for again in range(1, attempts):
        try:
            return attempt()
        except Conflict:
            time.sleep(random.uniform(0, 0.002 * again))  # let the other writer finish
    return attempt()


def is_outage(error: BaseException) -> bool:
    """True for a database error that says nothing about the message: lost, locked, restarting."""
    return isinstance(error, (OperationalError, InterfaceError)) or (
        isinstance(error, DBAPIError) and error.connection_invalidated)


def _handle_once(handler: Handler, message: Any, context: Context) -> list[Row]:
    try:
        handler(message, context)
        return context.commit()
    finally:
        context.close()

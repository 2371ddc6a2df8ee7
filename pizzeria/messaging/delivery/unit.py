"""The unit of work of a batch of messages.

Every message handled together shares one unit: one transaction, begun on first use; the
rows the handlers asked to update or insert at the commit; what they sent, written to the outbox; and
the inbox rows that mark the messages handled, with how their handling went. It commits once, or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Row, Table

from ..contracts.clock import Clock
from ..contracts.envelope import Envelope
from ..contracts.errors import HandlerMisused
from ..store import inbox, outbox, replies
from ..store.writes import Writes
from .middleware import Middleware

T = TypeVar("T")


class Unit:
    """One transaction for the messages handled together; private to the core."""

    def __init__(self, engine: Engine, consumer: str, envelopes: list[Envelope], clock: Clock,
                 commands: frozenset[str] = frozenset(), exchange: str = "", process: str = "",
                 middleware: Middleware | None = None):
        self.engine = engine
        self.clock = clock
        self.commands = commands  # the ids of the envelopes that are commands, whose answers are kept
        self.consumer = consumer
        self.envelopes = envelopes
        self.process = process  # host:pid, for the inbox
        self.handlings: list[inbox.Handling] = []  # one per message whose handler ran, for the inbox
        self.conn: Connection | None = None
        self.deferred: dict[Table, list[dict[str, Any]]] = {}
        self.updates: dict[tuple[Table, tuple[tuple[str, str], ...]], list[dict[str, Any]]] = {}
        self.sent: list[tuple[Envelope, str]] = []
        self.later: list[tuple[Envelope, str, float]] = []
        self.withdrawn: list[str] = []  # delayed messages sent before, to delete at the commit
        self.traced: dict[str, dict[str, str]] = {}  # message id -> the headers of its `create` span
        self.exchange = exchange  # the topology's, for the traces
        self.middleware = middleware or Middleware()  # asked for the headers of what is sent
        self.sent_ids: set[str] = set()
        self.before_commit: list[Callable[[], None]] = []
        self.once: dict[Callable[..., Any], Any] = {}
        self.committed = False

    def connection(self) -> Connection:
        """The transaction's connection, begun on first use."""
        if self.conn is None:
            self.conn = self.engine.connect()
        return self.conn

    def commit(self) -> Sequence[Row[Any]]:
        """Do the work left for the commit; then mark the messages handled, insert the deferred
        and the outbox rows, update the rows asked for, and commit, all at once; return the outbox
        rows, claimed. Raises Clash if a row clashes with one committed before (a message handled
        before, say), and Conflict if a row to update changed since it was read."""
        if self.committed:
            raise HandlerMisused("a unit of work commits once")
        for work in self.before_commit:
            work()
        now = self.clock.time()
        writes = Writes()
        for (table, where), values in self.updates.items():
            writes.update(table, values, dict(where))
        writes.insert(inbox.inbox, inbox.rows(self.consumer, self.process, self.handlings, now))
        for table, values in self.deferred.items():
            writes.insert(table, values)
        writes.insert(replies.replies, replies.rows(self.consumer, self._answers(), now))
        outbox.withdraw(writes, self.withdrawn)
        writes.insert(outbox.outbox, outbox.to_send_later(self.later, now, self.traced))
        conn = self._committing_connection()
        rows = writes.run(conn, outbox.outbox, outbox.to_send(self.sent, now, self.traced), outbox.COLUMNS)
        conn.commit()
        self.committed = True
        return sorted(rows, key=lambda row: row.id)  # in the order sent

    def _answers(self) -> dict[str, list[tuple[Envelope, str]]]:
        """What was sent in answer to each command handled, to keep with it."""
        answers: dict[str, list[tuple[Envelope, str]]] = {command_id: [] for command_id in self.commands}
        for envelope, routing_key in self.sent:
            if envelope.causation_id in answers:
                answers[envelope.causation_id].append((envelope, routing_key))
        return answers

    def _committing_connection(self) -> Connection:
        """The transaction's connection; if nothing was read or written before the commit, and
        nothing is to be updated (whose conflict would undo the rest), on PostgreSQL, one in
        autocommit mode: the commit's writes are then one statement, a transaction of its own,
        and no BEGIN or COMMIT waits for the database."""
        if self.conn is None and not self.updates and self.engine.dialect.name == "postgresql":
            self.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self.connection()

    def close(self) -> None:
        """Roll back whatever was not committed and give the connection back."""
        if self.conn is not None:
            self.conn.close()

"""The unit of work of a batch of messages, and the narrow context a handler sees of it.

Every message handled together shares one unit: one transaction, begun on first use; the
rows the handlers asked to insert at the commit; what they sent, written to the outbox; and
the inbox rows that mark the messages handled, with how their handling went. It commits once, or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, Row, Table

from ..contracts.clock import Clock
from ..contracts.envelope import Envelope, derived_id
from ..contracts.errors import HandlerMisused
from ..contracts.message import Command
from ..observe import tracing
from ..store import inbox, outbox, replies
from ..store.writes import Writes

T = TypeVar("T")


def answer(cause: Envelope, message: Any, at: float) -> Envelope:
    """The envelope of `message` sent at `at` while handling `cause`, in its correlation: a
    command's id derives from its idempotency key there, an event's from the cause."""
    if isinstance(message, Command):
        message_id = derived_id(cause.correlation_id, message.idempotency_key())
    else:
        message_id = derived_id(cause.message_id, type(message).__name__)
    return Envelope.wrap(message, message_id=message_id, correlation_id=cause.correlation_id,
                         causation_id=cause.message_id, at=at)


class LentConnection:
    """The unit's connection as a handler gets it: it may do anything but end the transaction."""

    __slots__ = ("_conn",)
    ENDS = frozenset({"commit", "rollback", "close", "begin", "begin_nested", "detach", "invalidate"})

    def __init__(self, conn: Connection):
        self._conn = conn

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        """Execute a statement in the transaction."""
        return self._conn.execute(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name in self.ENDS:
            raise HandlerMisused(f"a handler cannot {name} the transaction it was lent: the core commits it")
        return getattr(self._conn, name)


class Unit:
    """One transaction for the messages handled together; private to the core."""

    def __init__(self, engine: Engine, consumer: str, envelopes: list[Envelope], clock: Clock,
                 commands: frozenset[str] = frozenset(), exchange: str = "", process: str = ""):
        self.engine = engine
        self.clock = clock
        self.commands = commands  # the ids of the envelopes that are commands, whose answers are kept
        self.consumer = consumer
        self.envelopes = envelopes
        self.process = process  # host:pid, for the inbox
        self.handlings: list[inbox.Handling] = []  # one per message whose handler ran, for the inbox
        self.conn: Connection | None = None
        self.deferred: dict[Table, list[dict[str, Any]]] = {}
        self.sent: list[tuple[Envelope, str]] = []
        self.later: list[tuple[Envelope, str, float]] = []
        self.withdrawn: list[str] = []  # delayed messages sent before, to delete at the commit
        self.traced: dict[str, dict[str, str]] = {}  # message id -> the headers of its `create` span
        self.exchange = exchange  # the topology's, for the traces
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
        and the outbox rows, and commit, all at once; return the outbox rows, claimed. Raises
        Clash if a row clashes with one committed before: a message handled before, say."""
        if self.committed:
            raise HandlerMisused("a unit of work commits once")
        for work in self.before_commit:
            work()
        now = self.clock.time()
        writes = Writes()
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
        """The transaction's connection; if nothing was read or written before the commit, on
        PostgreSQL, one in autocommit mode: the commit's writes are then one statement, a
        transaction of its own, and no BEGIN or COMMIT waits for the database."""
        if self.conn is None and self.engine.dialect.name == "postgresql":
            self.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self.connection()

    def close(self) -> None:
        """Roll back whatever was not committed and give the connection back."""
        if self.conn is not None:
            self.conn.close()


class Context:
    """What a handler sees besides its message: the envelope, which attempt this is (1 for the
    first), the transaction's connection, a way to send, rows to insert at the commit, and work
    done once for every message handled together, and the clock to read the time from. It
    cannot commit: the core does."""

    __slots__ = ("envelope", "attempt", "_unit")

    def __init__(self, envelope: Envelope, attempt: int, unit: Unit):
        self.envelope = envelope
        self.attempt = attempt
        self._unit = unit

    @property
    def batch(self) -> tuple[Envelope, ...]:
        """The envelopes of every message handled in this transaction, this one's included."""
        return tuple(self._unit.envelopes)

    @property
    def clock(self) -> Clock:
        """The clock of the process: read the time from it, never from the system."""
        return self._unit.clock

    @property
    def db(self) -> Connection:
        """The unit of work's connection; the transaction begins on first use, so a handler may
        do slow work that needs no database before it touches this."""
        return cast(Connection, LentConnection(self._unit.connection()))

    def send(self, message: Any, delay: float = 0.0) -> Envelope:
        """Queue `message` for the outbox, in this correlation; with a `delay` in seconds, it
        goes then (a timeout), kept durably meanwhile. A command's id derives from its
        idempotency key, an event's from the message it answers: a re-run sends the same ids."""
        envelope = answer(self.envelope, message, self._unit.clock.time())
        if envelope.message_id in self._unit.sent_ids:
            raise HandlerMisused(f"{envelope.type} was sent twice with one id: a command needs a unique_by "
                                 f"that tells the two apart, an event answers its cause once")
        route = type(message).route
        if delay > 0:
            self._unit.traced[envelope.message_id] = tracing.scheduled()
            self._unit.later.append((envelope, route, delay))
        else:
            self._unit.traced[envelope.message_id] = tracing.created(envelope, self._unit.exchange, route)
            self._unit.sent.append((envelope, route))
        self._unit.sent_ids.add(envelope.message_id)
        return envelope

    def withdraw(self, message: Any) -> None:
        """Take back a message this correlation sent with a delay, if it has not gone yet (a
        timeout whose step was answered): it will not come at all. The row goes at the commit,
        with those of the other messages handled in the same transaction; one sent in this
        transaction is not saved at all."""
        message_id = answer(self.envelope, message, self._unit.clock.time()).message_id
        unit = self._unit
        unit.later = [later for later in unit.later if later[0].message_id != message_id]
        unit.sent_ids.discard(message_id)
        unit.withdrawn.append(message_id)

    def insert_later(self, table: Table, row: dict[str, Any]) -> None:
        """Insert `row` into `table` at the commit, in one statement with the others (and with
        those of the other messages handled in the same transaction)."""
        self._unit.deferred.setdefault(table, []).append(row)

    def once(self, make: Callable[[Context], T]) -> T:
        """The one `make(context)` of this transaction, made on first use and shared by every
        message handled in it: a repository that reads and writes for all of them, an oven
        that bakes them all at once."""
        if make not in self._unit.once:
            self._unit.once[make] = make(self)
        return self._unit.once[make]  # type: ignore[no-any-return]

    def before_commit(self, work: Callable[[], None]) -> None:
        """Call `work` just before the transaction commits (once, however many messages)."""
        self._unit.before_commit.append(work)

"""The narrow context a handler sees of its unit of work, and the connection it is lent."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Connection, Table

from ..contracts.clock import Clock
from ..contracts.envelope import Envelope, derived_id
from ..contracts.errors import HandlerMisused
from ..contracts.message import Command
from ..observe import tracing

if TYPE_CHECKING:
    from .unit import Unit

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

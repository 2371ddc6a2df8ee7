"""The narrow context a handler sees of its unit of work, and the connection it is lent."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Connection, Table

from ..contracts.clock import Clock
from ..contracts.context import HandlerContext
from ..contracts.envelope import Envelope, derived_id
from ..contracts.errors import HandlerMisused
from ..contracts.message import Command

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


def refuse_a_second(envelope: Envelope, sent_ids: set[str]) -> None:
    """Raise `HandlerMisused` if a message with `envelope`'s id was sent before in the transaction."""
    if envelope.message_id in sent_ids:
        raise HandlerMisused(f"{envelope.type} was sent twice with one id: a command needs a unique_by "
                             f"that tells the two apart, an event answers its cause once")


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
    """The core's `HandlerContext`, over the unit of work of the messages handled together: the
    envelope, which attempt this is (1 for the first), the transaction's connection, ways to
    send and take back, rows to insert at the commit, work done once for every message handled
    together, and the clock to read the time from. It cannot commit: the core does."""

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
        refuse_a_second(envelope, self._unit.sent_ids)
        route, unit = type(message).route, self._unit
        unit.traced[envelope.message_id] = dict(unit.middleware.sending(envelope, unit.exchange, route, delay > 0))
        if delay > 0:
            unit.later.append((envelope, route, delay))
        else:
            unit.sent.append((envelope, route))
        self._unit.sent_ids.add(envelope.message_id)
        return envelope

    def withdraw(self, message: Any) -> None:
        """Take back `message`, sent with a delay in this correlation, if it has not gone yet (a
        deadline whose step was answered): it will not come at all. Its id is derived as `send`
        derives it, so the handler names the message, not its id. Sent in an earlier
        transaction, its outbox row is deleted at the commit, unless a relay has claimed it
        (it is going: too late); sent in this one, by any message of it, it is not saved at
        all, and may be sent again. A message sent without a delay is not taken back."""
        message_id = answer(self.envelope, message, self._unit.clock.time()).message_id
        unit = self._unit
        kept = [later for later in unit.later if later[0].message_id != message_id]
        if len(kept) < len(unit.later):
            unit.sent_ids.discard(message_id)
        unit.later = kept
        unit.withdrawn.append(message_id)

    def insert_later(self, table: Table, row: dict[str, Any]) -> None:
        """Insert `row` into `table` at the commit, in one statement with the others (and with
        those of the other messages handled in the same transaction)."""
        self._unit.deferred.setdefault(table, []).append(row)

    def update_later(self, table: Table, row: dict[str, Any], where: Mapping[str, str]) -> None:
        """Update at the commit, in one statement with the other writes, the row of `table`
        that `row` names by `where` (a column: the key of `row` holding its value), setting the
        columns of `row`'s other keys; if it is not there (changed since it was read), the
        commit raises Conflict and the messages are handled again."""
        self._unit.updates.setdefault((table, tuple(where.items())), []).append(row)

    def once(self, make: Callable[[HandlerContext], T]) -> T:
        """The one `make(context)` of this transaction, made on first use and shared by every
        message handled in it: a repository that reads and writes for all of them, an oven
        that bakes them all at once."""
        if make not in self._unit.once:
            self._unit.once[make] = make(self)
        return self._unit.once[make]  # type: ignore[no-any-return]

    def before_commit(self, work: Callable[[], None]) -> None:
        """Call `work` just before the transaction commits (once, however many messages)."""
        self._unit.before_commit.append(work)

"""What a handler may do besides reading its message: the one interface of the core's context
and of the harness's fake."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Table

from .clock import Clock
from .envelope import Envelope

T = TypeVar("T")


class HandlerContext(Protocol):
    """A handler's context: its envelope, which attempt this is, the clock, the envelopes
    handled in the same transaction, a lent connection that cannot end the transaction, and the
    ways to send, take back, update and insert at the commit and share work. It cannot commit: whoever
    lent it does (the core, or a test)."""

    @property
    def envelope(self) -> Envelope:
        """The envelope of the message being handled: its ids, type, time and payload."""

    @property
    def attempt(self) -> int:
        """Which run of the handler on this message this is, every delivery counted: 1 for the first."""

    @property
    def clock(self) -> Clock:
        """The clock of the process: read the time from it, never from the system."""

    @property
    def batch(self) -> tuple[Envelope, ...]:
        """The envelopes of every message handled in this transaction, this one's included."""

    @property
    def db(self) -> Connection:
        """The transaction's connection, begun on first use; its `commit`, `rollback` and
        `close` raise `HandlerMisused`: the transaction ends when its lender says."""

    def send(self, message: Any, delay: float = 0.0) -> Envelope:
        """Send `message` at the commit, in this correlation, or `delay` seconds after it; return
        its envelope. A command's id derives from its idempotency key, an event's from its cause;
        a second message with one id in the transaction raises `HandlerMisused`."""

    def withdraw(self, message: Any) -> None:
        """Take back `message`, sent with a delay in this correlation, if it has not gone yet: it
        will not come at all (sent in this transaction, it is not saved; and may be sent again)."""

    def insert_later(self, table: Table, row: dict[str, Any]) -> None:
        """Insert `row` into `table` at the commit, with the other rows left for it."""

    def update_later(self, table: Table, row: dict[str, Any], where: Mapping[str, str]) -> None:
        """Update at the commit the row of `table` that `row` names by `where` (a column: the
        key of `row` holding its value), setting the columns of `row`'s other keys; if it is not
        there (changed since it was read), the commit raises Conflict."""

    def once(self, make: Callable[[HandlerContext], T]) -> T:
        """The one `make(context)` of this transaction, made on first use and shared by every
        message handled in it."""

    def before_commit(self, work: Callable[[], None]) -> None:
        """Call `work` once, just before the transaction commits, inside it."""

"""What a handler may do besides reading its message: the one interface of the core's context
and of the harness's fake."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Table

from .clock import Clock
from .envelope import Envelope

T = TypeVar("T")


class HandlerContext(Protocol):
    """A handler's context: its envelope, which attempt this is (1 for the first), the clock,
    the envelopes handled in the same transaction, a lent connection that cannot end the
    transaction, and the ways to send, take back, insert at the commit and share work."""

    envelope: Envelope
    attempt: int

    @property
    def clock(self) -> Clock: ...

    @property
    def batch(self) -> tuple[Envelope, ...]: ...

    @property
    def db(self) -> Connection: ...

    def send(self, message: Any, delay: float = 0.0) -> Envelope: ...

    def withdraw(self, message: Any) -> None: ...

    def insert_later(self, table: Table, row: dict[str, Any]) -> None: ...

    def once(self, make: Callable[[Any], T]) -> T: ...

    def before_commit(self, work: Callable[[], None]) -> None: ...

"""The one failure policy: what comes next when a try of a message fails, and the headers that
carry a message's tries from one delivery to the next.

Every rule of what happens when something goes wrong lives in `FailurePolicy`:

1. a conflict (two writers of one state) runs the handlers again at once, up to
   `conflict_attempts` times for a message alone, `group_conflict_attempts` for a group;
2. a brief database outage inside a unit of work is tried again `outage_attempts` times, then
   the deliveries in hand are requeued;
3. a handler's error is tried again at once, `immediate` times in this delivery;
4. then the message comes back later through the outbox, `delayed` rounds, after a delay that
   starts at `first_delay` and grows by `factor` up to `max_delay`;
5. a message that can never be handled (`BadMessage`) and one out of rounds go to the failed store;
6. a redelivered message started `delivery_limit` times and never settled (it kills its
   consumer, say) goes to the failed store without running again; the broker's own guard,
   behind it, is `broker_delivery_limit` (high: a requeue in an outage counts as a delivery);
7. while the database stays out, a consumer waits `outage_backoff` seconds, doubled each time
   up to `max_outage_backoff`, before its next batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from ..contracts.errors import BadMessage, Unsettled
from ..contracts.names import Names


@dataclass(frozen=True)
class RetryNow:
    """Run the handler again, in this delivery."""


@dataclass(frozen=True)
class RetryLater:
    """Send the message back through the outbox, to come again after `delay` seconds."""

    delay: float


@dataclass(frozen=True)
class Dead:
    """Keep the message in the failed store, with the reason."""


@dataclass(frozen=True)
class Requeue:
    """The database is out: give the delivery back to the broker, to come again."""


@dataclass(frozen=True)
class Release:
    """Put the delivery back uncounted: a middleware holds consumption (an open circuit breaker)."""


Decision = RetryNow | RetryLater | Dead | Requeue | Release


def is_outage(error: BaseException) -> bool:
    """True for a database error that says nothing about the message: lost, locked, restarting."""
    return isinstance(error, (OperationalError, InterfaceError)) or (
        isinstance(error, DBAPIError) and error.connection_invalidated)


@dataclass(frozen=True)
class FailurePolicy:
    """What comes next after a failure; the module's docstring lists every rule."""

    immediate: int = 2
    delayed: int = 2
    first_delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 60.0
    delivery_limit: int = 5
    broker_delivery_limit: int = 100
    conflict_attempts: int = 100  # conflicts are short-lived: two writers of one state, one wins each time
    group_conflict_attempts: int = 5  # then one by one: a group has more to conflict on
    outage_attempts: int = 3
    outage_backoff: float = 1.0
    max_outage_backoff: float = 16.0

    def after_failure(self, error: BaseException, failures: int, rounds: int) -> Decision:
        """What comes next for a message whose handler raised `error`, after `failures` failed
        tries in this delivery and `rounds` delayed rounds before it."""
        if is_outage(error):
            return Requeue()
        if isinstance(error, BadMessage):
            return Dead()
        if failures <= self.immediate:
            return RetryNow()
        if rounds < self.delayed:
            return RetryLater(self.delay(rounds))
        return Dead()

    def after_starts(self, started: int) -> Decision | None:
        """Dead for a redelivered message started `started` times (this one included) past the
        delivery limit; None while it may run."""
        return Dead() if started > self.delivery_limit else None

    def unsettled(self, started: int) -> Unsettled:
        """The reason a message started too often is dead."""
        return Unsettled(f"delivered {started} times and never settled: it may kill its consumer")

    def retry_conflict(self, again: int, group_size: int) -> bool:
        """True if a unit of work that conflicted `again` times in a row runs once more."""
        return again < (self.conflict_attempts if group_size == 1 else self.group_conflict_attempts)

    def outage_pause(self, again: int) -> float | None:
        """Seconds to wait before running a unit of work again after its `again`-th outage in a
        row; None once the deliveries are to be requeued."""
        return 0.1 * again if again < self.outage_attempts else None

    def backoff(self, outages: int) -> float:
        """Seconds a consumer waits after `outages` batches in a row requeued for an outage."""
        return min(self.max_outage_backoff, self.outage_backoff * 2.0 ** (outages - 1))

    def delay(self, round_done: int) -> float:
        """Seconds to wait before delayed round `round_done + 1`."""
        return min(self.max_delay, self.first_delay * self.factor ** round_done)


@dataclass(frozen=True)
class Tries:
    """What earlier deliveries of a message went through, read from its headers."""

    attempts: int = 0
    rounds: int = 0
    first_failed_at: float | None = None
    last_error: str | None = None

    @classmethod
    def of(cls, headers: Mapping[str, Any], names: Names) -> Tries:
        """Read the headers; missing or garbled values count as none."""
        last_error = headers.get(names.header("last-error"))
        return cls(_number(headers.get(names.header("attempts")), int) or 0,
                   _number(headers.get(names.header("retry-round")), int) or 0,
                   _number(headers.get(names.header("first-failed-at")), float),
                   str(last_error) if last_error is not None else None)

    def next_round(self, headers: Mapping[str, Any], names: Names, attempts: int, failed_at: float,
                   error: str) -> dict[str, Any]:
        """The headers of the copy that comes back for the next delayed round, after `error`."""
        return {**headers, names.header("attempts"): attempts, names.header("retry-round"): self.rounds + 1,
                names.header("first-failed-at"): self.first_failed_at or failed_at,
                names.header("last-error"): error[:255]}

    @staticmethod
    def forgotten(headers: Mapping[str, Any], names: Names) -> dict[str, Any]:
        """`headers` without the tries they carry."""
        ours = {names.header(what) for what in ("attempts", "retry-round", "first-failed-at", "last-error")}
        return {key: value for key, value in headers.items() if key not in ours}


def _number(value: Any, kind: type) -> Any:
    try:
        return kind(value) if value is not None else None
    except (TypeError, ValueError, ArithmeticError):
        return None

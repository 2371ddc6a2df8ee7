"""One try of a group of messages: their handlers in one unit of work, and its outcome.

A try ends in one outcome for the group: `Committed`, `Failed` (naming the message whose handler
raised, or none when the commit failed), `Clashed` (a row clashed with one committed before: a
message handled before, most likely) or `Outage` (the database stayed out of reach). Conflicts
and brief outages are tried again inside, as the failure policy says; nothing else is decided here.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import structlog
from sqlalchemy import Engine, Row
from sqlalchemy.exc import DBAPIError

from ..contracts.clock import Clock
from ..contracts.endpoint import Handler
from ..contracts.envelope import Envelope
from ..contracts.errors import Conflict
from ..contracts.message import Command
from ..store.inbox import Handling
from ..store.writes import Clash
from ..transport.delivery import Delivery
from .context import Context
from .middleware import Middleware, Step
from .policy import FailurePolicy, Tries, is_outage
from .unit import Unit


@dataclass(eq=False)
class InFlight:
    """One decoded delivery on its way through the pipeline, with its tries so far."""

    delivery: Delivery
    envelope: Envelope
    message: Any
    handler: Handler
    tries: Tries
    exchange: str  # where it came through, for its trace
    queue: str
    attempt: int = field(init=False)  # runs of its handler, every delivery of it counted
    failures: int = 0  # tries of this delivery that failed through its own handler
    last_error: str | None = field(init=False)  # of its last try that failed, this delivery's or before
    duplicates: int = 0  # copies of it dropped from its batch

    def __post_init__(self) -> None:
        self.attempt = self.tries.attempts
        self.last_error = self.tries.last_error

    @property
    def routing_key(self) -> str:
        """The route of its message type."""
        return str(type(self.message).route)

    def bound(self) -> AbstractContextManager[None]:
        """Bind the message's ids to every log line logged in the block."""
        return structlog.contextvars.bound_contextvars(
            correlation_id=self.envelope.correlation_id, message_id=self.envelope.message_id, type=self.envelope.type)


@dataclass(frozen=True)
class Committed:
    """The unit of work committed: the outbox rows to publish, and what each message sent."""

    rows: Sequence[Row[Any]]
    sent: Sequence[tuple[Envelope, str]]


@dataclass(frozen=True)
class Failed:
    """`message`'s handler raised `error`; or (message None) the commit failed."""

    message: InFlight | None
    error: BaseException


@dataclass(frozen=True)
class Clashed:
    """A row clashed with one committed before."""

    error: BaseException


@dataclass(frozen=True)
class Outage:
    """The database stayed out of reach: the deliveries in hand are to be requeued."""

    error: BaseException


Outcome = Committed | Failed | Clashed | Outage


class _HandlerFailed(Exception):
    def __init__(self, message: InFlight, error: BaseException):
        self.message, self.error = message, error


def run_unit(engine: Engine, consumer: str, group: list[InFlight], clock: Clock, middleware: Middleware,
             policy: FailurePolicy, process: str) -> Outcome:
    """Run the group's handlers in one unit of work and commit it: its outcome. The inbox
    names `process` as the one that handled them."""
    commands = frozenset(item.envelope.message_id for item in group if isinstance(item.message, Command))
    unit = partial(Unit, engine, consumer, [item.envelope for item in group], clock, commands, group[0].exchange,
                   process, middleware)
    for again in itertools.count(1):
        try:
            return _until_no_conflict(unit, group, middleware, policy, clock)
        except _HandlerFailed as failed:
            return Failed(failed.message, failed.error)
        except Clash as clash:
            return Clashed(clash.error)
        except DBAPIError as error:
            if not is_outage(error):
                return Failed(None, error)
            pause = policy.outage_pause(again)
            if pause is None:
                return Outage(error)
            clock.sleep(pause)
        except Exception as error:  # the commit failed: nobody to blame
            return Failed(None, error)
    raise AssertionError("unreachable")


def _until_no_conflict(unit: partial[Unit], group: list[InFlight], middleware: Middleware, policy: FailurePolicy,
                       clock: Clock) -> Outcome:
    for again in itertools.count(1):
        try:
            return _run_once(unit(), group, middleware)
        except Conflict as conflict:
            if not policy.retry_conflict(again, len(group)):
                return Failed(None, conflict)
            clock.sleep(random.uniform(0, 0.002 * again))  # let the other writer finish
    raise AssertionError("unreachable")


def _run_once(unit: Unit, group: list[InFlight], middleware: Middleware) -> Committed:
    for item in group:
        item.attempt += 1
    ran = 0
    try:
        for ran, item in enumerate(group, start=1):  # noqa: B007 (read after the loop, on failure)
            unit.handlings.append(Handling(item.envelope.message_id, unit.clock.time(), item.attempt,
                                           item.last_error, item.duplicates))
            middleware.reached(Step.BEFORE_HANDLER)
            _call(item, Context(item.envelope, item.attempt, unit), middleware)
        middleware.reached(Step.BEFORE_COMMIT)
        return Committed(unit.commit(), unit.sent)
    except BaseException:
        _uncount_untouched(group[ran:], unit)
        raise
    finally:
        unit.close()


def _uncount_untouched(waiting: list[InFlight], unit: Unit) -> None:
    """A try counts for a message if its handler ran, or if work done once for the group (which
    acts for every message of it) did; not for the messages that waited their turn in vain."""
    if not unit.once:
        for item in waiting:
            item.attempt -= 1


def _call(item: InFlight, context: Context, middleware: Middleware) -> None:
    middleware.before_handler(item)
    try:
        item.handler(item.message, context)
    except BaseException as error:
        middleware.after_handler(item, error)
        if isinstance(error, Conflict) or not isinstance(error, Exception) or is_outage(error):
            raise
        raise _HandlerFailed(item, error) from error
    middleware.after_handler(item, None)

"""Handlers run in one unit of work: conflicts run them again, a brief outage too, and a
failure names the message whose handler raised."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import structlog
from sqlalchemy import Engine, Row
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from ..contracts.clock import Clock
from ..contracts.endpoint import Handler
from ..contracts.envelope import Envelope
from ..contracts.errors import Conflict
from ..contracts.message import Command
from ..observe import tracing
from ..store.inbox import Handling
from ..transport.delivery import Delivery
from .context import Context
from .middleware import Hooks, Step
from .policy import Tries
from .unit import Unit

CONFLICT_ATTEMPTS = 100  # conflicts are short-lived: two writers of one state, one wins each time
GROUP_CONFLICT_ATTEMPTS = 5  # then one by one: a group has more to conflict on
OUTAGE_ATTEMPTS = 3

T = TypeVar("T")


class Outage(Exception):
    """The database stayed out of reach: the deliveries in hand are requeued."""


class Failure(Exception):
    """A try of a group failed: `item`'s handler raised `error`, or (item None) the commit did."""

    def __init__(self, item: Item | None, error: BaseException):
        super().__init__(f"{type(error).__name__}: {error}")
        self.item = item
        self.error = error


@dataclass(eq=False)
class Item:
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

    def note(self, what: str, **attributes: Any) -> None:
        """Put what became of the message outside its handler into its trace."""
        tracing.noted(what, self.exchange, type(self.message).route, self.queue, self.envelope,
                      self.delivery.headers, **attributes)

    def bound(self) -> AbstractContextManager[None]:
        """Bind the message's ids to every log line logged in the block."""
        return structlog.contextvars.bound_contextvars(
            correlation_id=self.envelope.correlation_id, message_id=self.envelope.message_id, type=self.envelope.type)


def is_outage(error: BaseException) -> bool:
    """True for a database error that says nothing about the message: lost, locked, restarting."""
    return isinstance(error, (OperationalError, InterfaceError)) or (
        isinstance(error, DBAPIError) and error.connection_invalidated)


def raise_if_outage(error: BaseException) -> None:
    """Raise Outage from `error` if it is one, or says the database is out of reach."""
    if isinstance(error, Outage) or is_outage(error):
        raise Outage(str(error)) from error


def run_unit(engine: Engine, consumer: str, group: list[Item], clock: Clock, hooks: Hooks,
             process: str) -> tuple[Sequence[Row[Any]], Unit]:
    """Run the group's handlers in one unit of work and commit it; return the outbox rows and
    the unit. Raises Clash; Outage once quick retries of an outage ran out; Failure naming
    the item whose handler raised, or none when the commit failed (conflicts ran out, say). The
inbox names `process` as the one that handled them."""
    conflicts = CONFLICT_ATTEMPTS if len(group) == 1 else GROUP_CONFLICT_ATTEMPTS
    commands = frozenset(item.envelope.message_id for item in group if isinstance(item.message, Command))
    unit = partial(Unit, engine, consumer, [item.envelope for item in group], clock, commands, group[0].exchange,
                   process)
    for again in itertools.count(1):
        try:
            return _until_no_conflict(lambda: _run_once(unit(), group, hooks), conflicts, clock)
        except DBAPIError as error:
            if not is_outage(error):
                raise Failure(None, error) from error
            if again >= OUTAGE_ATTEMPTS:
                raise Outage(str(error)) from error
            clock.sleep(0.1 * again)
    raise AssertionError("unreachable")


def _until_no_conflict(attempt: Callable[[], T], attempts: int, clock: Clock) -> T:
    for again in range(1, attempts + 1):
        try:
            return attempt()
        except Conflict as conflict:
            if again == attempts:
                raise Failure(None, conflict) from conflict
            clock.sleep(random.uniform(0, 0.002 * again))  # let the other writer finish
    raise AssertionError("unreachable")  # attempts is at least 1


def _run_once(unit: Unit, group: list[Item], hooks: Hooks) -> tuple[Sequence[Row[Any]], Unit]:
    for item in group:
        item.attempt += 1
    ran = 0
    try:
        for ran, item in enumerate(group, start=1):  # noqa: B007 (read after the loop, on failure)
            with item.bound(), tracing.processing(item.exchange, type(item.message).route, item.queue,
                                                  item.envelope, item.delivery.headers):
                unit.handlings.append(Handling(item.envelope.message_id, unit.clock.time(), item.attempt,
                                               item.last_error, item.duplicates))
                hooks.reach(Step.BEFORE_HANDLER)
                _call(item, Context(item.envelope, item.attempt, unit))
        hooks.reach(Step.BEFORE_COMMIT)
        return unit.commit(), unit
    except BaseException:
        _uncount_untouched(group[ran:], unit)
        raise
    finally:
        unit.close()


def _uncount_untouched(waiting: list[Item], unit: Unit) -> None:
    """A try counts for a message if its handler ran, or if work done once for the group (which
    acts for every message of it) did; not for the messages that waited their turn in vain."""
    if not unit.once:
        for item in waiting:
            item.attempt -= 1


def _call(item: Item, context: Context) -> None:
    try:
        item.handler(item.message, context)
    except Conflict:
        raise
    except Exception as error:
        if is_outage(error):
            raise
        raise Failure(item, error) from error

"""Middleware: everything that watches or steers the pipeline, outside of it.

A middleware overrides the hooks it needs; every hook of `Middleware` does nothing. The
pipeline, the relay, the publisher and the consumer loop call them through one `Middlewares`
chain, in the order the middlewares were given. Tracing, the log lines, the simulator's crash
points and a consumer's periodic chores are middlewares; so is a test's counter:

    class Counter(Middleware):
        def __init__(self) -> None:
            self.handled = 0

        def after_settle(self, endpoint: str, settled: Sequence[Settled]) -> None:
            self.handled += sum(1 for each in settled if each.how is How.HANDLED)

A hook that raises stops the pipeline as a crash would, so a hook that may fail catches its own
errors: the pipeline never swallows them (the simulator's crash points rely on it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ..contracts.envelope import Envelope

if TYPE_CHECKING:
    from ..transport.delivery import Delivery
    from .attempt import InFlight
    from .policy import Decision

# What a relay publishes at once, as the hooks see it: (exchange, routing key, headers).
Publishing = tuple[str, str, MutableMapping[str, Any]]


class Step(StrEnum):
    """The named points on a message's way where a process may die, in the order they come."""

    STARTS_COUNTED = "starts_counted"  # a redelivered message's start is counted; no handler ran
    BEFORE_HANDLER = "before_handler"  # a handler is about to run
    BEFORE_COMMIT = "before_commit"  # the handlers ran; nothing is committed
    AFTER_COMMIT = "after_commit"  # state, inbox and outbox committed; nothing published
    AFTER_ROUTE = "after_route"  # a retry scheduled or a failure stored; the delivery not acked
    STARTS_FORGIVEN = "starts_forgiven"  # deliveries to release are forgiven their start; not put back
    AFTER_PUBLISH = "after_publish"  # messages sent; the broker has not confirmed them
    AFTER_CONFIRM = "after_confirm"  # what the batch sent is confirmed; its deliveries not acked
    RELAY_CLAIMED = "relay_claimed"  # a relay claimed outbox rows; nothing published
    RELAY_CONFIRMED = "relay_confirmed"  # a relay's rows are confirmed; not deleted


class How(StrEnum):
    """How a delivery was settled."""

    HANDLED = "handled"  # its unit of work committed
    DUPLICATE = "duplicate"  # the inbox knew it, or the batch held it twice: dropped
    RETRY_LATER = "retry_later"  # out of tries in this delivery: it comes back through the outbox
    DEAD = "dead"  # kept in the failed store, with the reason
    REQUEUED = "requeued"  # the database was out: the broker delivers it again
    RELEASED = "released"  # put back by a middleware that holds consumption (an open breaker); no try counted


@dataclass(frozen=True)
class Settled:
    """What became of one delivery of a batch: `how`, the message it held (None for one that
    could not be opened, or was requeued unopened), and what its handler sent, once handled."""

    delivery: Delivery
    how: How
    message: InFlight | None = None
    sent: tuple[Envelope, ...] = field(default=())


class Middleware:
    """A middleware's hooks, each a no-op; override the ones you need.

    - `reached(step)`: the process passes a named `Step` (a simulator may crash it there).
    - `before_handler(message)`, `after_handler(message, error)`: around each handler's run,
      `error` None when it returned; a try rolled back later still counts as a run.
    - `sending(envelope, exchange, routing_key, delayed)`: a handler sends a message; the
      headers returned go with it (kept in its outbox row until it is published).
    - `before_publish(messages)`, `after_publish(messages, error)`: around a relay's publish of
      outbox rows, confirms included; headers may be changed before.
    - `after_commit(endpoint, messages)`: a unit of work committed for these messages.
    - `deciding(message, error, decision)`: a handler's try failed and the failure policy
      decided; the decision returned is carried out (a middleware may steer it: `Release`).
    - `on_failure(message, error, decision)`: a failed try, and what the failure policy
      decided; `message` None for a delivery that could not be opened.
    - `admits(endpoint)`: whether the consumer takes deliveries for the endpoint now; those it
      holds for one that is not admitted are released.
    - `after_settle(endpoint, settled)`: the deliveries of a batch are acked or requeued.
    - `on_idle(now)`: a turn of the consumer loop, between batches (periodic chores).
    - `on_close()`: the consumer is stopping.
    """

    def reached(self, step: Step) -> None:
        """The process passes `step`."""

    def before_handler(self, message: InFlight) -> None:
        """A handler is about to run for `message`."""

    def after_handler(self, message: InFlight, error: BaseException | None) -> None:
        """The handler of `message` returned (error None) or raised `error`."""

    def sending(self, envelope: Envelope, exchange: str, routing_key: str, delayed: bool) -> Mapping[str, str]:
        """Headers to send with a message a handler sends."""
        return {}

    def before_publish(self, messages: Sequence[Publishing]) -> None:
        """A relay is about to publish `messages`."""

    def after_publish(self, messages: Sequence[Publishing], error: BaseException | None) -> None:
        """A relay published `messages`, confirmed (error None), or failed with `error`."""

    def after_commit(self, endpoint: str, messages: Sequence[InFlight]) -> None:
        """The unit of work of `messages` committed."""

    def deciding(self, message: InFlight, error: BaseException, decision: Decision) -> Decision:
        """What is to be done after a failed try of `message`, the policy having decided `decision`."""
        return decision

    def on_failure(self, message: InFlight | None, error: BaseException, decision: Decision) -> None:
        """A try of `message` failed with `error`; `decision` says what comes next."""

    def admits(self, endpoint: str) -> bool:
        """Whether the consumer takes deliveries for `endpoint` now."""
        return True

    def after_settle(self, endpoint: str, settled: Sequence[Settled]) -> None:
        """The deliveries of a batch are settled."""

    def on_idle(self, now: float) -> None:
        """A turn of the consumer loop, between batches."""

    def on_close(self) -> None:
        """The consumer is stopping."""


HOOKS = ("reached", "before_handler", "after_handler", "sending", "before_publish", "after_publish", "after_commit",
         "deciding", "on_failure", "admits", "after_settle", "on_idle", "on_close")


class Middlewares(Middleware):
    """The middlewares of one process, called in order: the one the pipeline talks to. Each hook
    calls only the middlewares that override it, so a hook nobody needs costs one empty loop."""

    def __init__(self, middlewares: Iterable[Middleware] = ()):
        self.chain: list[Middleware] = list(middlewares)
        self._calls: dict[str, list[Any]] = {}
        self._bind()

    def add(self, middleware: Middleware) -> None:
        """Call `middleware` too, after the others."""
        self.chain.append(middleware)
        self._bind()

    def remove(self, middleware: Middleware) -> None:
        """No longer call `middleware`."""
        self.chain.remove(middleware)
        self._bind()

    def _bind(self) -> None:
        """For each hook, the bound hooks of the middlewares that override it, in order."""
        self._calls = {hook: [getattr(each, hook) for each in self.chain
                              if getattr(type(each), hook) is not getattr(Middleware, hook)] for hook in HOOKS}

    def reached(self, step: Step) -> None:
        for hook in self._calls["reached"]:
            hook(step)

    def before_handler(self, message: InFlight) -> None:
        for hook in self._calls["before_handler"]:
            hook(message)

    def after_handler(self, message: InFlight, error: BaseException | None) -> None:
        for hook in reversed(self._calls["after_handler"]):  # the last one in is the first one out, as a with block
            hook(message, error)

    def sending(self, envelope: Envelope, exchange: str, routing_key: str, delayed: bool) -> Mapping[str, str]:
        headers: dict[str, str] = {}
        for hook in self._calls["sending"]:
            headers.update(hook(envelope, exchange, routing_key, delayed))
        return headers

    def before_publish(self, messages: Sequence[Publishing]) -> None:
        for hook in self._calls["before_publish"]:
            hook(messages)

    def after_publish(self, messages: Sequence[Publishing], error: BaseException | None) -> None:
        for hook in reversed(self._calls["after_publish"]):
            hook(messages, error)

    def after_commit(self, endpoint: str, messages: Sequence[InFlight]) -> None:
        for hook in self._calls["after_commit"]:
            hook(endpoint, messages)

    def deciding(self, message: InFlight, error: BaseException, decision: Decision) -> Decision:
        for hook in self._calls["deciding"]:
            decision = hook(message, error, decision)
        return decision

    def on_failure(self, message: InFlight | None, error: BaseException, decision: Decision) -> None:
        for hook in self._calls["on_failure"]:
            hook(message, error, decision)

    def admits(self, endpoint: str) -> bool:
        return all(hook(endpoint) for hook in self._calls["admits"])

    def after_settle(self, endpoint: str, settled: Sequence[Settled]) -> None:
        for hook in self._calls["after_settle"]:
            hook(endpoint, settled)

    def on_idle(self, now: float) -> None:
        for hook in self._calls["on_idle"]:
            hook(now)

    def on_close(self) -> None:
        for hook in self._calls["on_close"]:
            hook()

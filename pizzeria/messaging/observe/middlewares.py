"""The middlewares every consumer runs: the log context of a handler, and traces."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import structlog

from ..contracts.envelope import Envelope
from ..contracts.errors import Unsettled
from ..delivery.middleware import How, Middleware, Publishing, Settled
from ..delivery.policy import Decision, Release, RetryNow
from . import tracing

if TYPE_CHECKING:
    from ..delivery.attempt import InFlight


class LogContext(Middleware):
    """Binds a message's ids (correlation, message, type) to every line logged while its handler runs."""

    def __init__(self) -> None:
        self._bound: list[Mapping[str, Any]] = []

    def before_handler(self, message: InFlight) -> None:
        envelope = message.envelope
        self._bound.append(structlog.contextvars.bind_contextvars(
            correlation_id=envelope.correlation_id, message_id=envelope.message_id, type=envelope.type))

    def after_handler(self, message: InFlight, error: BaseException | None) -> None:
        structlog.contextvars.reset_contextvars(**self._bound.pop())


class Tracing(Middleware):
    """Spans of every message's way (see `tracing`): a `process` span around each handler, a
    `create` span for what it sends, a `send` span for what a relay publishes, and a span of
    its own for what became of a message outside its handler (a duplicate dropped, out of tries)."""

    def __init__(self) -> None:
        self._processing: list[AbstractContextManager[None]] = []
        self._sending: list[list[Any]] = []

    def before_handler(self, message: InFlight) -> None:
        span = tracing.processing(message.exchange, message.routing_key, message.queue, message.envelope,
                                  message.delivery.headers)
        span.__enter__()
        self._processing.append(span)

    def after_handler(self, message: InFlight, error: BaseException | None) -> None:
        span = self._processing.pop()
        span.__exit__(type(error) if error else None, error, error.__traceback__ if error else None)

    def sending(self, envelope: Envelope, exchange: str, routing_key: str, delayed: bool) -> Mapping[str, str]:
        return tracing.scheduled() if delayed else tracing.created(envelope, exchange, routing_key)

    def before_publish(self, messages: Sequence[Publishing]) -> None:
        self._sending.append(tracing.sends(messages))

    def after_publish(self, messages: Sequence[Publishing], error: BaseException | None) -> None:
        tracing.end(self._sending.pop())

    def on_failure(self, message: InFlight | None, error: BaseException, decision: Decision) -> None:
        if message is None or isinstance(decision, RetryNow):
            return
        if isinstance(decision, Release):
            _note(message, "put back: consumption held", error=f"{type(error).__name__}: {error}")
        elif isinstance(error, Unsettled):
            _note(message, "out of deliveries", error=str(error))
        else:
            _note(message, "out of tries here", error=f"{type(error).__name__}: {error}", attempts=message.attempt)

    def after_settle(self, endpoint: str, settled: Sequence[Settled]) -> None:
        for each in settled:
            if each.how is How.DUPLICATE and each.message is not None:
                _note(each.message, "duplicate ignored")


def _note(message: InFlight, what: str, **attributes: Any) -> None:
    tracing.noted(what, message.exchange, message.routing_key, message.queue, message.envelope,
                  message.delivery.headers, **attributes)


def standard() -> list[Middleware]:
    """The middlewares of every pipeline: the log context, then traces."""
    return [LogContext(), Tracing()]

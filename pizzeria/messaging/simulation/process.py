"""One consumer process of a simulated system: an endpoint's pipeline and outbox relay with an
engine of their own (their pool shared: one thread runs them all), and its circuit breaker if
the system has one. A crash throws the process
away, as `kill -9` would: what it held in memory is lost, and the database refuses it from then
on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from sqlalchemy import Engine, event

from ..contracts.clock import Clock
from ..contracts.endpoint import Endpoint
from ..contracts.envelope import Envelope
from ..contracts.names import Names
from ..delivery.middleware import How, Middleware, Middlewares, Settled, Step
from ..delivery.pipeline import Pipeline
from ..delivery.policy import FailurePolicy
from ..observe.breaker import BreakerPolicy, CircuitBreaker
from ..observe.middlewares import standard
from ..store.outbox import Relay
from ..transport.delivery import Outgoing
from .broker import SimBroker

Handled = Callable[[str, Envelope, list[Envelope]], None]  # (consumer, envelope handled, envelopes sent)


class CrashPoints(Middleware):
    """The simulator's eyes on a process: `reached(step)` at each named step, where it may crash
    the process, and `handled(consumer, envelope, sent)` for each message handled."""

    def __init__(self, reached: Callable[[Step], None], handled: Handled):
        self._reached, self._handled = reached, handled

    def reached(self, step: Step) -> None:
        self._reached(step)

    def after_settle(self, endpoint: str, settled: Sequence[Settled]) -> None:
        for each in settled:
            if each.how is How.HANDLED and each.message is not None:
                self._handled(endpoint, each.message.envelope, list(each.sent))


class Crash(BaseException):
    """The process died here: nothing of it runs on (a BaseException, which no handler of the
    pipeline catches)."""


class Process:
    """An incarnation of the consumer of one endpoint; `reached(process, step)` is called at each
    step it passes, and may crash it there, and `handled(process, consumer, envelope, sent)` for
    each message it handled."""

    def __init__(self, name: str, endpoint: Endpoint, engine: Engine, broker: SimBroker, clock: Clock, names: Names,
                 policy: FailurePolicy, reached: Callable[[Process, Step], None],
                 handled: Callable[[Process, str, Envelope, list[Envelope]], None], breaker: BreakerPolicy | None = None):
        self.endpoint = endpoint
        self.name = name
        self.queues = {names.queue(queue): endpoint.prefetch_of(queue) for queue in endpoint.queues}  # and prefetch
        self.alive = True
        self.broker = broker
        self.engine = engine.execution_options()  # its own events; the pool and the statements shared
        event.listen(self.engine, "before_cursor_execute", self._refuse_the_dead)
        self.middleware = Middlewares([*standard(), CrashPoints(partial(reached, self), partial(handled, self))])
        if breaker is not None:
            self.middleware.add(CircuitBreaker(breaker, self.engine, name, names, clock, names.logger("consumer")))
        relay = Relay(self.engine, self._publish_many, clock=clock, middleware=self.middleware)
        self.pipeline = Pipeline(self.engine, relay, names, policy, middleware=self.middleware, clock=clock,
                                 process=name)

    @property
    def admitted(self) -> bool:
        """Whether its consumer takes deliveries now: not while its breaker holds the queue."""
        return self.middleware.admits(self.endpoint.name)

    def handle(self, deliveries: Sequence[Any]) -> None:
        """Hand a batch of deliveries to the pipeline; a batch taken while its breaker holds the
        queue (in flight as its consumer was cancelled) is released."""
        if self.admitted:
            self.pipeline.handle(self.endpoint, deliveries)
        else:
            self.pipeline.release(self.endpoint, deliveries)

    def idle(self, now: float) -> None:
        """A turn of its loop between batches: its breaker may try a batch again."""
        self.middleware.on_idle(now)

    def sweep(self) -> int:
        """Let the relay publish what is due, and delete what it published."""
        return self.pipeline.relay.sweep()

    def crash(self) -> None:
        """Die: nothing of this incarnation touches the database again."""
        self.alive = False

    def _publish_many(self, messages: list[Outgoing]) -> None:
        self.broker.publish_many(messages, confirmed=partial(self.middleware.reached, Step.AFTER_PUBLISH))

    def _refuse_the_dead(self, *_args: Any) -> None:
        if not self.alive:
            raise Crash(f"{self.name} is dead")

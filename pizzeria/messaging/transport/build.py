"""How a process's workers are put together: a worker with its publisher, relay, pipeline and
middlewares, and a crew of them for endpoints that want more than one consumer."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Engine

from ..contracts.clock import SYSTEM, Clock
from ..contracts.endpoint import Endpoint
from ..delivery.middleware import Middleware, Middlewares
from ..delivery.pipeline import MAX_BODY_BYTES, Pipeline
from ..delivery.policy import FailurePolicy
from ..observe.breaker import BreakerPolicy, CircuitBreaker
from ..observe.chores import Chores, Heartbeat, OutboxSweep, Pruning
from ..observe.middlewares import standard
from ..store.inbox import this_process
from ..store.outbox import Relay
from .broker import Broker, Publisher
from .consumer import Worker
from .crew import Crew, shares


def build_worker(broker: Broker, engine: Engine, endpoints: list[Endpoint], policy: FailurePolicy | None = None,
                 max_body_bytes: int = MAX_BODY_BYTES, middlewares: Sequence[Middleware] = (), clock: Clock = SYSTEM,
                 chores: Chores | None = None, breaker: BreakerPolicy | None = None,
                 process: str | None = None) -> Worker:
    """A worker for the endpoints, with its own publisher, relay and pipeline; its middlewares
    are the standard ones (log context, traces), the chores (outbox sweep, pruning, heartbeat)
    at the intervals of `chores`, a circuit breaker per endpoint if `breaker` says when, then
    `middlewares`, in that order. It goes by `process` (default: host:pid) in the inbox, the
    heartbeats and the breakers' records."""
    chain = Middlewares(standard())
    publisher = Publisher(broker, chain)
    relay = Relay(engine, publisher.publish_many, clock=clock, middleware=chain, exchange=broker.topology.exchange.name)
    pipeline = Pipeline(engine, relay, broker.topology.names, policy, max_body_bytes, chain, clock, process)
    log = broker.topology.names.logger("consumer")
    queues = [broker.topology.queues[name].name for endpoint in endpoints for name in endpoint.queues]
    chores = chores or Chores()
    for chore in (OutboxSweep(relay, publisher.drop, log, clock, chores.sweep_seconds),
                  Pruning(engine, chores.inbox_retention, log, clock, chores.prune_seconds),
                  Heartbeat(engine, pipeline.process, queues, log, clock)):
        chain.add(chore)
    if breaker is not None:
        chain.add(CircuitBreaker(breaker, engine, pipeline.process, broker.topology.names, clock, log))
    for middleware in middlewares:
        chain.add(middleware)
    return Worker(broker, endpoints, pipeline, publisher)


def build_crew(endpoints: Sequence[Endpoint], build: Callable[[list[Endpoint], str], Worker],
               first_only: Sequence[Middleware] = ()) -> Crew:
    """A crew for the endpoints: `build(endpoints, process)` makes each worker, the first named
    as the inbox names this process (host:pid), the others `host:pid+N`; `first_only`
    middlewares go to the first alone."""
    process = this_process()
    workers = [build(share, process if number == 0 else f"{process}+{number}")
               for number, share in enumerate(shares(endpoints))]
    for middleware in first_only:
        workers[0].middleware.add(middleware)
    return Crew(workers)

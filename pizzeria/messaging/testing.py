"""A harness for users of the core: test a handler alone, or a whole flow in one process.

`FakeContext` stands in for the context a handler gets and records what it did:

    context = FakeContext.of(GetMenu())
    get_menu(GetMenu(), context)
    assert context.messages == [MenuGot(MENU)]

`Bus` runs endpoints in this process on kombu's `memory://` transport and a real database,
through the same pipeline as a worker, until the queues and the outbox are empty, on a virtual
clock that jumps to the next delayed message (a retry, a timeout) whenever nothing else is to
be done; `wait_for` is fed by the pipeline's hook, never by log text:

    bus = Bus(endpoints, engine, Names("shop"))
    bus.send(PlaceOrder(...), correlation_id="order-1")
    bus.wait_for(OrderShipped, "order-1")
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from kombu import Queue
from sqlalchemy import Connection, Engine, Table, insert

from .contracts.clock import SYSTEM, Clock, VirtualClock
from .contracts.endpoint import Endpoint
from .contracts.envelope import Envelope, derived_id, new_id
from .contracts.names import Names
from .delivery.context import answer
from .delivery.middleware import Hooks
from .delivery.policy import RetryPolicy
from .simulation.state import next_due
from .transport.broker import Broker
from .transport.consumer import build_worker
from .transport.delivery import KombuDelivery, Outgoing
from .transport.topology import Topology

T = TypeVar("T")
FAST_RETRIES = RetryPolicy(immediate=1, delayed=1, first_delay=0.0)


class FakeContext:
    """A handler's context for a unit test: records the messages the handler sent (at once, or
    `later`), the rows it asked to insert at the commit and the work it left for the commit; lends a connection to
    `engine` if there is one, and `commit()` does what the core would at the end."""

    def __init__(self, envelope: Envelope, attempt: int = 1, engine: Engine | None = None,
                 batch: Sequence[Envelope] = (), clock: Clock = SYSTEM):
        self.envelope = envelope
        self.clock = clock
        self.attempt = attempt
        self.batch = tuple(batch) or (envelope,)
        self.sent: list[Envelope] = []
        self.messages: list[Any] = []
        self.later: list[tuple[Any, float]] = []
        self.withdrawn: list[Any] = []
        self.inserted: dict[Table, list[dict[str, Any]]] = {}
        self._engine = engine
        self._conn: Connection | None = None
        self._before_commit: list[Callable[[], None]] = []
        self._once: dict[Callable[..., Any], Any] = {}

    @classmethod
    def of(cls, message: Any, correlation_id: str = "correlation-1", **kwargs: Any) -> FakeContext:
        """The context of a first delivery of `message` in `correlation_id`."""
        return cls(Envelope.wrap(message, message_id=new_id(), correlation_id=correlation_id), **kwargs)

    @property
    def db(self) -> Connection:
        """A connection to the engine, in a transaction that `commit` ends."""
        if self._engine is None:
            raise AssertionError("this handler uses the database: give FakeContext an engine")
        if self._conn is None:
            self._conn = self._engine.connect()
        return self._conn

    def send(self, message: Any, delay: float = 0.0) -> Envelope:
        """Record `message`, in the envelope the core would give it; one sent with a `delay` in
        `later`, with its delay."""
        envelope = answer(self.envelope, message, self.clock.time())
        if delay > 0:
            self.later.append((message, delay))
            return envelope
        self.sent.append(envelope)
        self.messages.append(message)
        return envelope

    def withdraw(self, message: Any) -> None:
        """Record a delayed message taken back."""
        self.withdrawn.append(message)

    def insert_later(self, table: Table, row: dict[str, Any]) -> None:
        """Record a row to insert at the commit."""
        self.inserted.setdefault(table, []).append(row)

    def once(self, make: Callable[[Any], T]) -> T:
        """`make(self)`, made once."""
        if make not in self._once:
            self._once[make] = make(self)
        return self._once[make]  # type: ignore[no-any-return]

    def before_commit(self, work: Callable[[], None]) -> None:
        """Record work for the commit."""
        self._before_commit.append(work)

    def commit(self) -> None:
        """Do the work left for the commit, insert the rows, and commit."""
        for work in self._before_commit:
            work()
        for table, rows in self.inserted.items():
            self.db.execute(insert(table), rows)
        if self._conn is not None:
            self._conn.commit()
        self.close()

    def close(self) -> None:
        """Roll back what was not committed and give the connection back."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> FakeContext:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class Bus:
    """Endpoints run in this process on kombu's memory:// transport and `engine`, through the
    same pipeline as a worker, one batch at a time; every message handled, and every message
    its handler sent, is recorded for `wait_for`."""

    def __init__(self, endpoints: Sequence[Endpoint], engine: Engine, names: Names,
                 policy: RetryPolicy = FAST_RETRIES, hooks: Hooks | None = None, clock: VirtualClock | None = None):
        self.endpoints = list(endpoints)
        self.engine = engine
        self.clock = clock or VirtualClock(start=time.time())
        self.seen: list[Envelope] = []
        self.hooks = hooks or Hooks()
        self.hooks.handled.append(self._record)
        topology = Topology(names, {endpoint.name: endpoint.routes for endpoint in self.endpoints})
        self.worker = build_worker(Broker("memory://", topology), engine, self.endpoints, policy, hooks=self.hooks,
                                   clock=self.clock)
        self.connection = self.worker.broker.open()
        self.queues = {endpoint.name: topology.queues[endpoint.name](self.connection.default_channel)
                       for endpoint in self.endpoints}
        for queue in self.queues.values():
            queue.purge()

    def send(self, message: Any, correlation_id: str, message_id: str | None = None) -> Envelope:
        """Publish `message` as the start of `correlation_id`; return its envelope."""
        envelope = Envelope.wrap(message, correlation_id=correlation_id,
                                 message_id=message_id or derived_id(correlation_id, type(message).__name__))
        self.publish(Outgoing(type(message).route, envelope.encode(), envelope.headers()))
        return envelope

    def publish(self, message: Outgoing) -> None:
        """Publish a message as it is, garbage included."""
        self.worker.publisher.publish(message)

    def run(self, until: Callable[[], bool] = lambda: False, timeout: float = 10.0) -> None:
        """Handle batches until `until()` holds, or the queues and the outbox are empty; when
        only delayed messages are left, move the clock on to the first. `timeout` is real time."""
        deadline = time.monotonic() + timeout
        while not until():
            if not self.step():
                due = next_due(self.engine)
                if due is None:
                    return
                self.clock.advance(due - self.clock.time())
            if time.monotonic() > deadline:
                raise TimeoutError(f"the bus was still busy after {timeout:g}s")

    def step(self) -> bool:
        """Hand each endpoint the deliveries waiting in its queue, then sweep the outbox;
        False if there was nothing to do."""
        busy = False
        for endpoint in self.endpoints:
            deliveries = self._take(self.queues[endpoint.name], endpoint.prefetch)
            if deliveries:
                self.worker.pipeline.handle(endpoint, deliveries)
                busy = True
        return self.worker.relay.sweep() > 0 or busy

    def wait_for(self, kind: type | str, correlation_id: str, timeout: float = 10.0) -> Envelope:
        """Run until a message of `kind` in `correlation_id` was handled or sent; return it."""
        name = kind if isinstance(kind, str) else kind.__name__
        self.run(until=lambda: self._found(name, correlation_id) is not None, timeout=timeout)
        found = self._found(name, correlation_id)
        if found is None:
            raise AssertionError(f"no {name} in {correlation_id}: the bus ran dry without one")
        return found

    def close(self) -> None:
        """Close the bus's connections."""
        self.worker.close()
        self.connection.release()

    def __enter__(self) -> Bus:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _record(self, _consumer: str, envelope: Envelope, sent: list[Envelope]) -> None:
        self.seen += [envelope, *sent]

    def _found(self, name: str, correlation_id: str) -> Envelope | None:
        return next((envelope for envelope in self.seen
                     if envelope.type == name and envelope.correlation_id == correlation_id), None)

    @staticmethod
    def _take(queue: Queue, limit: int) -> list[KombuDelivery]:
        deliveries: list[KombuDelivery] = []
        while len(deliveries) < limit and (message := queue.get(no_ack=False)) is not None:
            deliveries.append(KombuDelivery(message))
        return deliveries

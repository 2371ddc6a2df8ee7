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

import copy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from kombu import Queue
from sqlalchemy import Connection, Engine, Table, insert

from .contracts.clock import SYSTEM, Clock, VirtualClock
from .contracts.context import HandlerContext
from .contracts.endpoint import Endpoint
from .contracts.envelope import Envelope, new_id
from .contracts.names import Names
from .delivery.attempt import InFlight
from .delivery.context import LentConnection, answer, refuse_a_second
from .delivery.middleware import How, Middleware, Settled
from .delivery.policy import Dead, Decision, FailurePolicy
from .simulation.state import next_due
from .store.writes import update_all
from .transport.broker import Broker
from .transport.build import build_worker
from .transport.delivery import KombuDelivery, Outgoing
from .transport.sending import send
from .transport.topology import Topology

T = TypeVar("T")
FAST_RETRIES = FailurePolicy(immediate=1, delayed=1, first_delay=0.0)


@dataclass(eq=False)
class _Transaction:
    """What the contexts of the messages handled together share besides their records: the
    connection, the ids sent, the envelopes of `later`, the work left for the commit, and what
    `once` made."""

    engine: Engine | None
    conn: Connection | None = None
    sent_ids: set[str] = field(default_factory=set)
    delayed: list[Envelope] = field(default_factory=list)
    before_commit: list[Callable[[], None]] = field(default_factory=list)
    once: dict[Callable[..., Any], Any] = field(default_factory=dict)


class FakeContext:
    """A `HandlerContext` for a unit test that behaves as the core's: records the messages the
    handler sent (at once, or `later` until withdrawn), the rows it asked to update or insert at
    the commit and the work it left for the commit; lends a connection to `engine` if there is
    one, which the handler cannot commit, and `commit()` does what the core would at the end. For the
    other messages of its `batch`, `for_message` gives contexts of the same transaction."""

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
        self.updated: dict[tuple[Table, tuple[tuple[str, str], ...]], list[dict[str, Any]]] = {}
        self._transaction = _Transaction(engine)

    @classmethod
    def of(cls, message: Any, correlation_id: str = "correlation-1", **kwargs: Any) -> FakeContext:
        """The context of a first delivery of `message` in `correlation_id`."""
        return cls(Envelope.wrap(message, message_id=new_id(), correlation_id=correlation_id), **kwargs)

    def for_message(self, envelope: Envelope, attempt: int = 1) -> FakeContext:
        """The context of another message of `batch`, handled in the same transaction: its own
        envelope and attempt; the records, the connection, `once` and the commit shared."""
        if envelope not in self.batch:
            raise AssertionError(f"{envelope.type} {envelope.message_id} is not in the batch of this context")
        other = copy.copy(self)
        other.envelope, other.attempt = envelope, attempt
        return other

    @property
    def db(self) -> Connection:
        """A connection to the engine, lent as the core lends it: its transaction ends at this
        context's `commit` or `close`, never at the handler's."""
        return cast(Connection, LentConnection(self._connection()))

    def send(self, message: Any, delay: float = 0.0) -> Envelope:
        """Record `message`, in the envelope the core would give it; one sent with a `delay` in
        `later`, with its delay. A second message with one id raises `HandlerMisused`."""
        envelope = answer(self.envelope, message, self.clock.time())
        refuse_a_second(envelope, self._transaction.sent_ids)
        self._transaction.sent_ids.add(envelope.message_id)
        if delay > 0:
            self.later.append((message, delay))
            self._transaction.delayed.append(envelope)
            return envelope
        self.sent.append(envelope)
        self.messages.append(message)
        return envelope

    def withdraw(self, message: Any) -> None:
        """Record `message` in `withdrawn`; sent with a delay in this transaction, it leaves
        `later` and may be sent again."""
        message_id = answer(self.envelope, message, self.clock.time()).message_id
        transaction = self._transaction
        kept = [(entry, envelope) for entry, envelope in zip(self.later, transaction.delayed, strict=True)
                if envelope.message_id != message_id]
        if len(kept) < len(self.later):
            transaction.sent_ids.discard(message_id)
        self.later[:] = [entry for entry, _envelope in kept]
        transaction.delayed[:] = [envelope for _entry, envelope in kept]
        self.withdrawn.append(message)

    def insert_later(self, table: Table, row: dict[str, Any]) -> None:
        """Record a row to insert at the commit."""
        self.inserted.setdefault(table, []).append(row)

    def update_later(self, table: Table, row: dict[str, Any], where: Mapping[str, str]) -> None:
        """Record a row to update at the commit, by the columns of `where`."""
        self.updated.setdefault((table, tuple(where.items())), []).append(row)

    def once(self, make: Callable[[HandlerContext], T]) -> T:
        """`make(self)`, made on first use and shared by every context of the transaction."""
        if make not in self._transaction.once:
            self._transaction.once[make] = make(self)
        return self._transaction.once[make]  # type: ignore[no-any-return]

    def before_commit(self, work: Callable[[], None]) -> None:
        """Call `work` once, when `commit` begins."""
        self._transaction.before_commit.append(work)

    def commit(self) -> None:
        """Do the work left for the commit, update and insert the rows, and commit; raise
        Conflict, as the core would, if a row to update was not there."""
        for work in self._transaction.before_commit:
            work()
        for (table, where), rows in self.updated.items():
            update_all(self._connection(), table, rows, dict(where))
        for table, rows in self.inserted.items():
            self._connection().execute(insert(table), rows)
        if self._transaction.conn is not None:
            self._transaction.conn.commit()
        self.close()

    def close(self) -> None:
        """Roll back what was not committed and give the connection back."""
        if self._transaction.conn is not None:
            self._transaction.conn.close()
            self._transaction.conn = None

    def __enter__(self) -> FakeContext:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _connection(self) -> Connection:
        """The transaction's connection to the engine, begun on first use."""
        transaction = self._transaction
        if transaction.engine is None:
            raise AssertionError("this handler uses the database: give FakeContext an engine")
        if transaction.conn is None:
            transaction.conn = transaction.engine.connect()
        return transaction.conn


class Bus:
    """Endpoints run in this process on kombu's memory:// transport and `engine`, through the
    same pipeline as a worker, one batch at a time; every message handled, and every message
    its handler sent, is recorded for `wait_for`. With `fail_fast`, the first failed try of a
    handler raises its exception out of `run`, `step` or `wait_for`, instead of being retried."""

    def __init__(self, endpoints: Sequence[Endpoint], engine: Engine, names: Names,
                 policy: FailurePolicy = FAST_RETRIES, middlewares: Sequence[Middleware] = (),
                 clock: VirtualClock | None = None, fail_fast: bool = False):
        self.endpoints = list(endpoints)
        self.engine = engine
        self.clock = clock or VirtualClock(start=time.time())
        self.fail_fast = fail_fast
        self.watch = _Watch()
        topology = Topology.of(names, self.endpoints)
        self.worker = build_worker(Broker("memory://", topology), engine, self.endpoints, policy,
                                   middlewares=[self.watch, *middlewares], clock=self.clock)
        self.connection = self.worker.broker.open()
        self.queues = {name: topology.queues[name](self.connection.default_channel)
                       for endpoint in self.endpoints for name in endpoint.queues}
        for queue in self.queues.values():
            queue.purge()

    @property
    def seen(self) -> list[Envelope]:
        """Every message handled, and what each one's handler sent, in order."""
        return self.watch.seen

    def send(self, message: Any, correlation_id: str, message_id: str | None = None) -> Envelope:
        """Publish `message` in `correlation_id` (see `pizzeria.messaging.send`); return its envelope."""
        return send(self.worker.publisher, message, correlation_id, message_id)

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
            if endpoint.arrival_routes:
                deliveries += self._take(self.queues[endpoint.arrivals], endpoint.arrivals_prefetch)
            if deliveries:
                self.worker.pipeline.handle(endpoint, deliveries)
                self._fail_fast()
                busy = True
        return self.worker.pipeline.relay.sweep() > 0 or busy

    def wait_for(self, kind: type | str, correlation_id: str, timeout: float = 10.0) -> Envelope:
        """Run until a message of `kind` in `correlation_id` was handled or sent; return it."""
        name = kind if isinstance(kind, str) else kind.__name__
        self.run(until=lambda: self._found(name, correlation_id) is not None, timeout=timeout)
        found = self._found(name, correlation_id)
        if found is None:
            raise AssertionError(f"no {name} in {correlation_id}: the bus ran dry without one{self.watch.dead_told()}")
        return found

    def close(self) -> None:
        """Close the bus's connections."""
        self.worker.close()
        self.connection.release()

    def __enter__(self) -> Bus:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _found(self, name: str, correlation_id: str) -> Envelope | None:
        return next((envelope for envelope in self.watch.seen
                     if envelope.type == name and envelope.correlation_id == correlation_id), None)

    def _fail_fast(self) -> None:
        if self.fail_fast and self.watch.failures:
            raise self.watch.failures[0][1]

    @staticmethod
    def _take(queue: Queue, limit: int) -> list[KombuDelivery]:
        deliveries: list[KombuDelivery] = []
        while len(deliveries) < limit and (message := queue.get(no_ack=False)) is not None:
            deliveries.append(KombuDelivery(message))
        return deliveries


class _Watch(Middleware):
    """The bus's eyes: the messages handled with what they sent, the failed tries, the dead."""

    def __init__(self) -> None:
        self.seen: list[Envelope] = []
        self.failures: list[tuple[InFlight | None, BaseException, Decision]] = []

    def after_settle(self, endpoint: str, settled: Sequence[Settled]) -> None:
        for each in settled:
            if each.how is How.HANDLED and each.message is not None:
                self.seen += [each.message.envelope, *each.sent]

    def on_failure(self, message: InFlight | None, error: BaseException, decision: Decision) -> None:
        self.failures.append((message, error, decision))

    def dead_told(self) -> str:
        """What went to the failed store, told in a few words for an assertion's message."""
        dead = [f"{message.envelope.type if message else 'a delivery'}: {type(error).__name__}: {error}"
                for message, error, decision in self.failures if isinstance(decision, Dead)]
        return f"; {len(dead)} went to the failed store: " + "; ".join(dead) if dead else ""

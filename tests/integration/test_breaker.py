"""The circuit breaker on a real worker (kombu's memory:// broker, a SQLite file): a dependency
down for a while holds the queue instead of filling the failed store, and every message is
handled once it is back; a message that fails on its own merits while others succeed still goes
to the failed store."""

from __future__ import annotations

import time

import pytest
from fakes import chore, running
from polling import wait_until

from pizzeria.kitchen.messages import DoPizza
from pizzeria.messaging import (
    BreakerPolicy,
    Broker,
    CircuitBreaker,
    Endpoint,
    Envelope,
    FailurePolicy,
    Names,
    Outgoing,
    Publisher,
    Topology,
    build_worker,
)
from pizzeria.messaging.store import breakers, failed
from pizzeria.messaging.store.tables import redelivered_starts

QUICK = FailurePolicy(immediate=1, delayed=1, first_delay=0.2)  # a message alone is dead within a second
BREAKER = BreakerPolicy(window=5.0, min_attempts=5, ratio=0.5, pause=0.5)


class Oven:
    """A dependency of the kitchen, down until `up_at` (time.monotonic), or for the pizzas named."""

    def __init__(self, down_for: float = 0.0, broken: tuple[str, ...] = ()):
        self.up_at, self.broken = time.monotonic() + down_for, broken
        self.baked: list[str] = []

    def bake(self, command: DoPizza, _context) -> None:
        if time.monotonic() < self.up_at or command.kitchen_order_id in self.broken:
            raise ConnectionError("the oven does not answer")
        self.baked.append(command.kitchen_order_id)


@pytest.fixture
def broker(request) -> Broker:
    names = Names(f"breaker{abs(hash(request.node.name)) % 10**8}")
    return Broker("memory://", Topology(names, {"kitchen": Endpoint("kitchen", {DoPizza: Oven().bake}).routes}))


def publish_pizzas(broker: Broker, count: int) -> None:
    publisher = Publisher(broker)
    try:
        for number in range(count):
            envelope = Envelope.wrap(DoPizza(f"k{number}", "margherita"), message_id=f"m{number}",
                                     correlation_id=f"visit-{number}")
            publisher.publish(Outgoing(DoPizza.route, envelope.encode(), envelope.headers()))
    finally:
        publisher.close()


def test_a_dependency_down_for_a_while_holds_the_queue_and_every_message_is_handled_after(broker, sqlite_engine):
    oven = Oven(down_for=3.0)
    worker = build_worker(broker, sqlite_engine, [Endpoint("kitchen", {DoPizza: oven.bake}, prefetch=4)], QUICK,
                          breaker=BREAKER)
    publish_pizzas(broker, 30)
    with running(worker):
        wait_until(lambda: len(set(oven.baked)) == 30, timeout=30, what="every pizza baked")
    states = [change["state"] for change in reversed(breakers.history(sqlite_engine))]
    assert failed.entries(sqlite_engine) == []
    assert states[0] == "open" and states[-1] == "closed" and "half-open" in states
    assert states.count("open") >= 2, "a trial while the oven is still down opens the breaker again"
    with sqlite_engine.connect() as conn:
        most_started = max((row.started for row in conn.execute(redelivered_starts.select())), default=0)
    assert most_started < QUICK.delivery_limit, "a delivery put back by the breaker is not a start"
    assert chore(worker, CircuitBreaker).circuit(broker.topology.names.queue("kitchen")).trips == states.count("open")


def test_a_message_that_fails_on_its_own_merits_while_others_succeed_goes_to_the_failed_store(broker, sqlite_engine):
    oven = Oven(broken=("k3",))
    worker = build_worker(broker, sqlite_engine, [Endpoint("kitchen", {DoPizza: oven.bake}, prefetch=4)], QUICK,
                          breaker=BREAKER)
    publish_pizzas(broker, 20)
    with running(worker):
        (entry,) = wait_until(lambda: failed.entries(sqlite_engine), timeout=20, what="the broken pizza failed")
        wait_until(lambda: len(set(oven.baked)) == 19, timeout=20, what="the other pizzas baked")
    assert (entry.message_id, breakers.history(sqlite_engine)) == ("m3", [])


def test_without_a_breaker_a_dependency_down_sends_its_messages_to_the_failed_store(broker, sqlite_engine):
    oven = Oven(down_for=3.0)
    worker = build_worker(broker, sqlite_engine, [Endpoint("kitchen", {DoPizza: oven.bake}, prefetch=4)], QUICK)
    publish_pizzas(broker, 10)
    with running(worker):
        wait_until(lambda: len(failed.entries(sqlite_engine)) == 10, timeout=20, what="every pizza failed")

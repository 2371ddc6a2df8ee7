"""The worker's loop on kombu's memory:// broker and a SQLite file: a delivery the transport
cannot decode is kept and the loop goes on; a batch that meets a database out of reach goes
back to its queue, and the worker backs off."""

from __future__ import annotations

import time

import pytest
from fakes import running
from kombu import Connection, Queue
from polling import wait_until
from sqlalchemy import Engine

from pizzeria.kitchen.messages import DoPizza
from pizzeria.messaging import (
    Broker,
    Endpoint,
    Envelope,
    FailurePolicy,
    Names,
    Outgoing,
    Publisher,
    Topology,
    build_worker,
    make_engine,
)
from pizzeria.messaging.store import failed
from pizzeria.messaging.transport.delivery import KombuDelivery


@pytest.fixture
def engine(sqlite_engine: Engine) -> Engine:
    return sqlite_engine


@pytest.fixture
def broker(request) -> Broker:
    """A memory:// broker whose exchange and queue are this test's alone."""
    names = Names(f"worker{abs(hash(request.node.name)) % 10**8}")
    endpoint = Endpoint("kitchen", {DoPizza: lambda _c, _ctx: None})
    return Broker("memory://", Topology(names, {"kitchen": endpoint.routes}))


def kitchen(baked: list[str]) -> Endpoint:
    return Endpoint("kitchen", {DoPizza: lambda command, _context: baked.append(command.kitchen_order_id)})


def publish(broker: Broker, body: bytes, headers: dict) -> None:
    publisher = Publisher(broker)
    try:
        publisher.publish(Outgoing(DoPizza.route, body, headers))
    finally:
        publisher.close()


def pizza(kid: str) -> Envelope:
    return Envelope.wrap(DoPizza(kid, "margherita"), message_id=f"m-{kid}", correlation_id="visit-1")


def waiting(broker: Broker) -> list:
    """The messages left in the kitchen's queue, taken off it."""
    with Connection(broker.url) as conn:
        queue: Queue = broker.topology.queues["kitchen"](conn.default_channel)
        messages = []
        while (message := queue.get(no_ack=True)) is not None:
            messages.append(message)
        return messages


def test_a_delivery_the_transport_cannot_decode_is_kept_as_failed_and_the_worker_goes_on(broker, engine):
    baked: list[str] = []
    worker = build_worker(broker, engine, [kitchen(baked)])
    with running(worker):
        publish(broker, b"not gzip at all", {"compression": "application/x-gzip", "message_id": "m-bad",
                                             "correlation_id": "visit-1", "type": "DoPizza"})
        (entry,) = wait_until(lambda: failed.entries(engine), timeout=10, what="the failed entry")
        good = pizza("good")
        publish(broker, good.encode(), good.headers())
        wait_until(lambda: baked, timeout=10, what="the good pizza")
    assert (entry.queue, entry.body, entry.error_type, entry.attempts) == (
        broker.topology.names.queue("kitchen"), b"not gzip at all", "BadMessage", 1)
    assert "the transport could not decode it" in entry.error
    assert (entry.message_id, baked, waiting(broker)) == ("m-bad", ["good"], [])


def test_a_batch_that_meets_a_database_out_of_reach_goes_back_to_its_queue_and_the_worker_backs_off(broker, tmp_path):
    unreachable = make_engine(f"sqlite:///{tmp_path}/missing/dir/db.sqlite")
    baked: list[str] = []
    endpoint = kitchen(baked)
    worker = build_worker(broker, unreachable, [endpoint])
    for kid in ("a", "b"):
        publish(broker, pizza(kid).encode(), pizza(kid).headers())
    with Connection(broker.url) as conn:
        queue = broker.topology.queues["kitchen"](conn.default_channel)
        worker.batch = [(endpoint, KombuDelivery(queue.get(no_ack=False))) for _ in range(2)]
        started = time.monotonic()
        worker.handle_batch()
        backed_off = time.monotonic() - started
    assert backed_off >= FailurePolicy().outage_backoff
    assert sorted(Envelope.decode(message.body).message_id for message in waiting(broker)) == ["m-a", "m-b"]
    worker.close()


def test_a_kombu_delivery_shows_the_message_as_the_pipeline_needs_it_and_acks_it(broker):
    envelope = pizza("p")
    publish(broker, envelope.encode(), envelope.headers())
    with Connection(broker.url) as conn:
        message = broker.topology.queues["kitchen"](conn.default_channel).get(no_ack=False)
        delivery = KombuDelivery(message)
        assert (delivery.body, delivery.content_type, dict(delivery.headers), delivery.redelivered) == (
            envelope.encode(), "application/json", envelope.headers(), False)
        delivery.ack()
    assert waiting(broker) == []

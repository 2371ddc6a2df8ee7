"""The publisher on a real RabbitMQ: it returns once the broker confirmed, raises when the
broker refuses a message and goes on with the next, replaces a connection the broker closed,
and gives up on a broker out of reach; the worker's relay survives a refused row. The broker's
connection opening retries on an embedded broker whose database is not there. The queues' depths
count what waits and the consumers, and leave out a queue the broker does not have."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from amqp.exceptions import ChannelError, MessageNacked
from fakes import chore
from kombu import Connection, Queue
from kombu.exceptions import OperationalError as KombuOperationalError
from polling import wait_until
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from pizzeria.devtools.servers import free_ports
from pizzeria.kitchen.messages import DoPizza
from pizzeria.messaging import (
    Broker,
    Endpoint,
    Envelope,
    Names,
    Outgoing,
    Publisher,
    Topology,
    admin,
    build_worker,
)
from pizzeria.messaging.observe.chores import OutboxSweep
from pizzeria.messaging.store import outbox
from pizzeria.messaging.transport import broker as broker_module

NAMES = Names("brokertest")
TOPOLOGY = Topology(NAMES, {"kitchen": ["kitchen.command.*"]})
KITCHEN = "brokertest.kitchen"
FULL = "brokertest.full"  # a queue that takes nothing: RabbitMQ nacks what is published to it


@pytest.fixture
def broker(amqp_url) -> Broker:
    broker = Broker(amqp_url, TOPOLOGY)
    with Connection(amqp_url) as conn:
        TOPOLOGY.declare(conn.default_channel)
        Queue(FULL, queue_arguments={"x-max-length": 0, "x-overflow": "reject-publish"})(conn.default_channel).declare()
    return broker


@pytest.fixture
def publisher(broker) -> Iterator[Publisher]:
    publisher = Publisher(broker)
    yield publisher
    publisher.close()


def message(kid: str, queue: str | None = None) -> Outgoing:
    """A DoPizza by the topology's exchange, or straight to `queue`."""
    envelope = Envelope.wrap(DoPizza(kid, "margherita"), message_id=f"m-{kid}", correlation_id="visit-1")
    if queue is None:
        return Outgoing(DoPizza.route, envelope.encode(), envelope.headers())
    return Outgoing(queue, envelope.encode(), envelope.headers(), exchange="")


def taken(broker: Broker, queue: str = KITCHEN) -> list[str]:
    """The ids of the messages waiting in `queue`, taken off it."""
    ids = []
    with Connection(broker.url) as conn:
        bound = Queue(queue)(conn.default_channel)
        while (got := bound.get(no_ack=True)) is not None:
            ids.append(got.properties["message_id"])
    return ids


def test_a_publish_returns_once_confirmed_and_the_message_waits_in_its_queue_persistent(broker, publisher):
    publisher.publish_many([message("a"), message("b", queue=KITCHEN)])
    with Connection(broker.url) as conn:
        got = Queue(KITCHEN)(conn.default_channel).get(no_ack=True)
        assert (got.properties["delivery_mode"], got.content_type) == (2, "application/json")
    assert taken(broker) == ["m-b"]


def test_the_queue_depths_count_waiting_messages_and_consumers_and_leave_out_a_queue_the_broker_lacks(
        amqp_url, broker, publisher):
    publisher.publish_many([message("a"), message("b")])
    lacking = Broker(amqp_url, Topology(NAMES, {"bar": ["bar.command.*"], "kitchen": ["kitchen.command.*"]}))
    assert admin.queue_depths(lacking) == {"kitchen": {"messages": 2, "consumers": 0}}
    with Connection(amqp_url) as conn, conn.Consumer(TOPOLOGY.queues["kitchen"], accept=["json"]):
        assert admin.queue_depths(broker)["kitchen"]["consumers"] == 1


def test_a_message_the_broker_refuses_raises_nacked_and_the_next_one_goes_through(broker, publisher):
    with pytest.raises(MessageNacked):
        publisher.publish(message("refused", queue=FULL))
    publisher.publish(message("fine"))
    assert taken(broker) == ["m-fine"]


def test_a_batch_the_broker_refuses_whole_fails_once_and_the_next_batch_goes_through(broker, publisher):
    with pytest.raises(MessageNacked):
        publisher.publish_many([message(f"refused-{n}", queue=FULL) for n in range(5)])
    publisher.publish_many([message("fine-1"), message("fine-2")])
    assert taken(broker) == ["m-fine-1", "m-fine-2"]


def test_a_publisher_whose_connection_the_broker_closed_publishes_on_a_new_one(rabbitmq, amqp_url, broker, publisher):
    publisher.publish(message("before"))
    vhost = amqp_url.rsplit("/", 1)[1]
    rabbitmq.ctl("close_all_connections", "-p", vhost, "closed by the test")
    publisher.publish(message("after"))
    assert set(taken(broker)) == {"m-before", "m-after"}


def test_a_publish_to_a_missing_exchange_raises_and_the_next_publish_goes_out_once_without_waiting(
        broker, publisher, monkeypatch):
    monkeypatch.setattr(broker_module, "CONFIRM_SECONDS", 5.0)  # how long a lost confirm would hold it up
    with pytest.raises(ChannelError):
        publisher.publish(message("lost")._replace(exchange="no-such-exchange"))
    started = time.monotonic()
    publisher.publish(message("fine"))
    assert time.monotonic() - started < broker_module.CONFIRM_SECONDS
    assert taken(broker) == ["m-fine"]


def test_a_publisher_blocked_by_a_broker_memory_alarm_gives_up_after_its_tries_instead_of_hanging(
        rabbitmq, broker, publisher, monkeypatch):
    monkeypatch.setattr(broker_module, "CONFIRM_SECONDS", 0.3)
    waits = sum(broker_module.PUBLISH_WAIT_SECONDS * n for n in range(1, broker_module.PUBLISH_ATTEMPTS))
    bound = waits + broker_module.PUBLISH_ATTEMPTS * (broker_module.CONFIRM_SECONDS + 1.0)
    outcome: list[BaseException | None] = []

    def publish() -> None:
        try:
            publisher.publish(message("blocked"))
            outcome.append(None)
        except BaseException as error:  # the outcome is what is tested
            outcome.append(error)

    thread = threading.Thread(target=publish, daemon=True)
    rabbitmq.ctl("set_vm_memory_high_watermark", "0")  # an alarm: the broker blocks every publisher
    try:
        thread.start()
        gave_up = wait_until(lambda: outcome, timeout=bound, what="the publisher to give up")
    finally:
        rabbitmq.ctl("set_vm_memory_high_watermark", "0.4")
        thread.join(30)
    assert isinstance(gave_up[0], OSError)


def test_a_publisher_gives_up_on_a_broker_out_of_reach_after_its_tries_and_raises():
    (port,) = free_ports(1)
    publisher = Publisher(Broker(f"amqp://guest:guest@127.0.0.1:{port}/", TOPOLOGY))
    waits = sum(broker_module.PUBLISH_WAIT_SECONDS * n for n in range(1, broker_module.PUBLISH_ATTEMPTS))
    started = time.monotonic()
    with pytest.raises((OSError, KombuOperationalError)):
        publisher.publish(message("nowhere"))
    assert time.monotonic() - started >= waits
    publisher.close()


def test_opening_an_embedded_broker_whose_database_cannot_be_opened_tries_again_then_raises(tmp_path):
    broker = Broker(f"sqla+sqlite:///{tmp_path}/missing/dir/broker.db", TOPOLOGY)
    waits = sum(0.1 * n for n in range(1, broker_module.DECLARE_ATTEMPTS))
    started = time.monotonic()
    with pytest.raises(OperationalError):
        broker.open()
    assert time.monotonic() - started >= waits


# --- the worker's relay --------------------------------------------------------------------

@pytest.fixture
def engine(sqlite_engine: Engine) -> Engine:
    return sqlite_engine


def outbox_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(outbox.outbox.c.message_id).order_by(outbox.outbox.c.id)).scalars())


def test_a_relay_sweep_the_broker_refuses_keeps_the_rows_and_the_worker_publishes_again_afterwards(broker, engine):
    worker = build_worker(broker, engine, [Endpoint("kitchen", {DoPizza: lambda _c, _ctx: None})])
    try:
        with engine.begin() as conn:
            outbox.add_raw(conn, message("lost")._replace(exchange="no-such-exchange"), "m-lost", time.time())
            outbox.add_raw(conn, message("kept"), "m-kept", time.time())
        chore(worker, OutboxSweep).sweep()  # logs, and does not raise
        assert outbox_ids(engine) == ["m-lost", "m-kept"]
        with engine.begin() as conn:
            conn.execute(outbox.outbox.delete().where(outbox.outbox.c.message_id == "m-lost"))
            conn.execute(outbox.outbox.update().values(claimed_until=0))  # as once the lease ends
        chore(worker, OutboxSweep).sweep()
        assert (outbox_ids(engine), taken(broker)) == ([], ["m-kept"])
    finally:
        worker.close()

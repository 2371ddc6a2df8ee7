"""RabbitMQ as pizzeria declares it: quorum queues by default (classic on request); a message
the broker gave up delivering lands in the failed store; a queue of the other type is a clear
error, not a channel error; the first node of a cluster URL may be down."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from fakes import running
from kombu import Connection, Consumer, Queue
from polling import wait_until
from sqlalchemy import select

from pizzeria import bootstrap
from pizzeria.config import Settings
from pizzeria.devtools.servers import free_ports
from pizzeria.kitchen.messages import DoPizza
from pizzeria.messaging import Envelope, Outgoing, TopologyMismatch
from pizzeria.messaging.contracts.errors import Unsettled
from pizzeria.messaging.store import failed
from pizzeria.messaging.transport.topology import BROKER_DELIVERY_LIMIT


def app_on(url: str, tmp_path, **settings) -> bootstrap.App:
    app = bootstrap.bootstrap(Settings(url, f"sqlite:///{tmp_path}/db.sqlite", tmp_path,
                                       modules={"kitchen": {"bake_seconds": 0}}, **settings))
    bootstrap.init(app)
    return app


def queue_types(rabbitmq, url: str) -> dict[str, str]:
    vhost = urlsplit(url).path.lstrip("/")
    listed = json.loads(rabbitmq.ctl("list_queues", "--vhost", vhost, "name", "type", "--formatter", "json"))
    return {queue["name"]: queue["type"] for queue in listed}


def test_the_queues_are_quorum_queues_with_a_dead_letter_queue_beside_them(rabbitmq, amqp_url, tmp_path):
    app_on(amqp_url, tmp_path)
    assert queue_types(rabbitmq, amqp_url) == {
        "pizzeria.process_manager": "quorum", "pizzeria.process_manager.arrivals": "quorum", "pizzeria.menu": "quorum",
        "pizzeria.waiter": "quorum",
        "pizzeria.kitchen": "quorum", "pizzeria.dead_letters": "quorum"}


def test_classic_queues_on_request(rabbitmq, amqp_url, tmp_path):
    app_on(amqp_url, tmp_path, queue_type="classic")
    assert set(queue_types(rabbitmq, amqp_url).values()) == {"classic"}
    assert "pizzeria.dead_letters" not in queue_types(rabbitmq, amqp_url)


def test_queues_of_the_other_type_are_a_mismatch_named_with_the_queue(amqp_url, tmp_path):
    app_on(amqp_url, tmp_path, queue_type="classic")
    with pytest.raises(TopologyMismatch, match="inequivalent arg '.*' for queue 'pizzeria.process_manager'"):
        app_on(amqp_url, tmp_path)


def test_a_message_the_broker_gives_up_on_lands_in_the_failed_store(amqp_url, tmp_path):
    app = app_on(amqp_url, tmp_path)
    envelope = Envelope.wrap(DoPizza("k-1", "margherita"), message_id="m-1", correlation_id="visit-1")
    app.publisher().publish(Outgoing(DoPizza.route, envelope.encode(), envelope.headers()))
    returned = 0
    with Connection(amqp_url) as conn:  # a consumer that dies with it each time, as far as the broker knows
        def give_back(message) -> None:
            nonlocal returned
            returned += 1
            message.requeue()
        with Consumer(conn, [Queue("pizzeria.kitchen", no_declare=True)], on_message=give_back, prefetch_count=1):
            while returned <= BROKER_DELIVERY_LIMIT:
                conn.drain_events(timeout=10)
    with running(bootstrap.worker(app, ["menu"])):  # any worker takes the dead letters
        entry = wait_until(lambda: stored(app), what="the dead letter in the failed store")
    assert (entry.queue, entry.message_id, entry.error_type) == ("pizzeria.kitchen", "m-1", Unsettled.__name__)
    assert "delivery_limit" in entry.error


def stored(app):
    with app.engine.connect() as conn:
        return conn.execute(select(failed.failed_messages)).first()


def test_a_cluster_url_whose_first_node_is_down_reaches_the_next(amqp_url, tmp_path):
    (dead_port,) = free_ports(1)
    vhost = urlsplit(amqp_url).path
    app = app_on(f"amqp://guest:guest@127.0.0.1:{dead_port}{vhost};{amqp_url}", tmp_path)
    for number in range(4):  # each publisher tries the nodes in an order of its own
        publisher = app.publisher()
        envelope = Envelope.wrap(DoPizza(f"k-{number}", "margherita"), message_id=f"m-{number}", correlation_id="v-1")
        publisher.publish(Outgoing(DoPizza.route, envelope.encode(), envelope.headers()))
        publisher.close()
    with Connection(amqp_url) as conn:
        assert conn.default_channel.queue_declare("pizzeria.kitchen", passive=True).message_count == 4


def test_a_worker_of_two_queues_takes_each_ones_prefetch(rabbitmq, amqp_url, tmp_path):
    app = app_on(amqp_url, tmp_path)
    vhost = urlsplit(amqp_url).path.lstrip("/")

    def prefetches() -> dict[str, int]:
        listed = json.loads(rabbitmq.ctl("list_consumers", "--vhost", vhost, "queue_name", "prefetch_count",
                                         "--formatter", "json"))
        return {consumer["queue_name"]: consumer["prefetch_count"] for consumer in listed}
    with running(bootstrap.worker(app, ["kitchen", "process_manager"])):
        consumers = wait_until(lambda: len(found := prefetches()) == 4 and found, what="four consumers")
    assert consumers == {"pizzeria.kitchen": app.endpoints["kitchen"].prefetch,
                         "pizzeria.process_manager": app.endpoints["process_manager"].prefetch,
                         "pizzeria.process_manager.arrivals": app.endpoints["process_manager"].arrivals_prefetch,
                         "pizzeria.dead_letters": 1}

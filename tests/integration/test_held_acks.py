"""A batch's acks on a real RabbitMQ, held and sent as one: every delivery acked in the batch is
settled, one requeued in it comes back, and when the batch fails half-way only what it acked
is settled. A corked connection holds its writes until the block ends."""

from __future__ import annotations

import socket

import pytest
from kombu import Connection, Consumer, Queue

from pizzeria.messaging.transport.delivery import HeldAcks, KombuDelivery, corked

QUEUE = "heldacks"


def deliveries(conn: Connection, acks: HeldAcks, count: int) -> list[KombuDelivery]:
    """`count` messages published to the queue, then delivered on `conn`, their acks held."""
    queue = Queue(QUEUE, durable=True)
    with Connection(conn.as_uri(include_password=True)) as publishing:
        producer = publishing.Producer()
        for n in range(count):
            producer.publish({"n": n}, routing_key=QUEUE, declare=[queue], serializer="json")
    got: list[KombuDelivery] = []
    channel = conn.channel()
    with Consumer(channel, [queue], on_message=lambda message: got.append(KombuDelivery(message, acks=acks)),
                  prefetch_count=count, accept=["json"]):
        while len(got) < count:
            conn.drain_events(timeout=5)
    return got


def left(url: str) -> int:
    """How many messages wait in the queue once every consumer is gone."""
    with Connection(url) as conn:
        return Queue(QUEUE, durable=True)(conn.default_channel).queue_declare(passive=True).message_count


def test_acks_held_in_a_batch_settle_every_delivery_acked(amqp_url):
    acks = HeldAcks()
    with Connection(amqp_url) as conn:
        batch = deliveries(conn, acks, 3)
        with acks.settling():
            for delivery in batch:
                delivery.ack()
            assert len(acks.held) == 3
        assert acks.held == []
    assert left(amqp_url) == 0


def test_a_delivery_requeued_in_the_batch_comes_back_though_a_later_one_was_acked(amqp_url):
    acks = HeldAcks()
    with Connection(amqp_url) as conn:
        first, second, third = deliveries(conn, acks, 3)
        with acks.settling():
            first.ack()
            second.requeue()
            third.ack()
    assert left(amqp_url) == 1


def test_a_batch_that_fails_half_way_settles_only_what_it_acked(amqp_url):
    acks = HeldAcks()
    with Connection(amqp_url) as conn:
        first, *_rest = deliveries(conn, acks, 3)
        with pytest.raises(RuntimeError), acks.settling():
            first.ack()
            raise RuntimeError("a bug in the batch")
        assert acks.held == []
    assert left(amqp_url) == 2


def test_a_corked_connection_holds_its_writes_until_the_block_ends(amqp_url):
    with Connection(amqp_url) as conn:
        conn.connect()
        sock = conn.connection.sock
        with corked(conn):
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK) == 0


def test_corking_a_connection_without_a_socket_changes_nothing():
    with Connection("memory://") as conn, corked(conn):
        queue = conn.SimpleQueue("corked")
        queue.put({"n": 1})
        assert queue.get(timeout=1).payload == {"n": 1}

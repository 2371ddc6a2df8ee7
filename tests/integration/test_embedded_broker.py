"""The embedded broker keeps the transport contract RabbitMQ keeps (the tests of the class run
on both): a consumer killed with -9 loses nothing, and several consumers at once get each
message once, in order. And what only the embedded broker can show: leases, same rows,
deleted messages, a bounded file, a lease held through a long handler."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from kombu import Connection, Producer
from polling import wait_until
from transport_client import EXCHANGE, queue

from pizzeria.messaging.transport.embedded.store import Store

CLIENT = Path(__file__).with_name("transport_client.py")


def publish(url: str, name: str, numbers: range) -> None:
    with Connection(url) as connection:
        channel = connection.channel()
        queue(name)(channel).declare()
        producer = Producer(channel, exchange=EXCHANGE)
        for n in numbers:
            producer.publish({"queue": name, "n": n}, routing_key=f"{name}.message", serializer="json")


class Clients:
    """Consumer processes (`transport_client.py`) logging to one file; killed at the end."""

    def __init__(self, url: str, log: Path):
        self.url, self.log = url, log
        self.processes: list[subprocess.Popen] = []

    def start(self, mode: str, prefetch: int, *names: str) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, str(CLIENT), self.url, str(self.log), mode, str(prefetch), *names],
                                   env={**os.environ, "PYTHONPATH": str(CLIENT.parent)})
        self.processes.append(process)
        return process

    def received(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []

    def at_least(self, count: int) -> list[dict]:
        """What was received, once it is `count` messages or more; else nothing."""
        received = self.received()
        return received if len(received) >= count else []

    def close(self) -> None:
        for process in self.processes:
            process.kill()
            process.wait()


@pytest.fixture
def clients(tmp_path):
    def make(url: str) -> Clients:
        made.append(Clients(url, tmp_path / "received.jsonl"))
        return made[-1]
    made: list[Clients] = []
    yield make
    for each in made:
        each.close()


@pytest.fixture(params=["embedded", "rabbitmq"])
def broker_url(request, tmp_path):
    """The embedded broker, with leases of 1 s, then a fresh RabbitMQ vhost."""
    if request.param == "embedded":
        return f"sqlite:///{tmp_path / 'broker.sqlite'}?lease_seconds=1"
    return request.getfixturevalue("amqp_url")


class TestContract:
    def test_messages_a_consumer_killed_with_minus_9_held_go_to_another_one_redelivered(self, broker_url, clients):
        client = clients(broker_url)
        publish(broker_url, "q1", range(10))
        holder = client.start("hold", 10, "q1")
        wait_until(lambda: len(client.received()) == 10, what="the first consumer to hold all ten")
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        client.start("ack", 10, "q1")
        again = wait_until(lambda: client.at_least(20), timeout=60, what="all ten again")[10:]
        assert sorted(message["n"] for message in again) == list(range(10))
        assert all(message["redelivered"] for message in again)

    def test_four_consumers_at_once_get_each_message_once_in_order_per_queue(self, broker_url, clients):
        client = clients(broker_url)
        publish(broker_url, "q1", range(0))
        publish(broker_url, "q2", range(0))
        consumers = [client.start("ack", 5, "q1", "q2") for _ in range(4)]
        for start in range(0, 600, 100):
            publish(broker_url, "q1", range(start, start + 100))
            publish(broker_url, "q2", range(start, start + 100))
        received = wait_until(lambda: client.at_least(1200), timeout=120, what="1,200 messages")
        assert Counter((message["queue"], message["n"]) for message in received) == Counter(
            (name, n) for name in ("q1", "q2") for n in range(600))
        for pid in {message["pid"] for message in received}:
            for name in ("q1", "q2"):
                numbers = [message["n"] for message in received if (message["pid"], message["queue"]) == (pid, name)]
                assert numbers == sorted(numbers)
        assert [consumer.poll() for consumer in consumers] == [None] * 4  # none died, of a locked file or else


@pytest.fixture
def embedded_url(tmp_path):
    return f"sqlite:///{tmp_path / 'broker.sqlite'}?lease_seconds=1"


def rows(url: str) -> list[tuple]:
    store = Store(Path(url.split("///", 1)[1].split("?")[0]))
    try:
        return store.conn.execute("SELECT id, leased_until IS NOT NULL, deliveries FROM messages ORDER BY id").fetchall()
    finally:
        store.close()


def test_a_late_ack_after_the_lease_went_to_another_consumer_deletes_nothing(tmp_path):
    store = Store(tmp_path / "broker.sqlite")
    store.put("q", "{}")
    ((first, _, _),) = store.claim("q", 10, now=100.0, until=101.0)
    assert store.claim("q", 10, now=100.5, until=101.5) == []  # leased
    ((second, _, deliveries),) = store.claim("q", 10, now=102.0, until=103.0)  # the first lease ran out
    assert (second.id, deliveries) == (first.id, 2) and second.token != first.token
    assert not store.ack(first) and not store.release(first)
    assert store.ack(second)
    assert store.conn.execute("SELECT count(*) FROM messages").fetchone() == (0,)


def test_a_reject_and_a_close_give_back_the_same_row_flagged_redelivered(embedded_url):
    publish(embedded_url, "q1", range(1))
    with Connection(embedded_url) as connection:
        message = connection.default_channel.basic_get("contract.q1")
        assert not message.delivery_info["redelivered"]
        message.requeue()
        assert rows(embedded_url) == [(1, False, 1)]
        again = connection.default_channel.basic_get("contract.q1")
        assert again.delivery_info["redelivered"]
        assert rows(embedded_url) == [(1, True, 2)]
    assert rows(embedded_url) == [(1, False, 2)]  # the close released it


def test_twenty_thousand_messages_acked_leave_no_row_and_a_small_file(embedded_url, tmp_path):
    with Connection(embedded_url) as connection:
        channel = connection.channel()
        for start in range(0, 20_000, 1_000):
            publish(embedded_url, "q1", range(start, start + 1_000))
            for _ in range(1_000):
                channel.basic_get("contract.q1").ack()
    assert rows(embedded_url) == []
    size = sum(path.stat().st_size for path in tmp_path.glob("broker.sqlite*"))
    assert size < 4 * 1024 * 1024


def test_a_consumer_that_holds_a_message_longer_than_its_lease_keeps_it(embedded_url):
    publish(embedded_url, "q1", range(1))
    with Connection(embedded_url) as slow, Connection(embedded_url) as other:
        message = slow.default_channel.basic_get("contract.q1")
        watched = []
        wait_until(lambda: watched.append(other.default_channel.basic_get("contract.q1")) or len(watched) >= 30,
                   timeout=10, interval=0.1, what="three leases' time")  # 30 looks over 3 s: 3 leases
        assert watched == [None] * 30
        message.ack()
    assert rows(embedded_url) == []

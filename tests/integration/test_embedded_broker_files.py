"""The embedded broker's write-ahead log stays near WAL_LIMIT_BYTES however many messages go
through it, with one consumer or with several processes reading it at once, while they hold the
file open (SQLite deletes the log only when the last connection closes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kombu import Connection, Producer
from polling import wait_until
from transport_client import EXCHANGE, queue

from pizzeria.messaging.transport.embedded.store import WAL_LIMIT_BYTES

CLIENT = Path(__file__).with_name("transport_client.py")
# A write that finds the log just under the limit still adds its pages before the checkpoint.
BOUND = WAL_LIMIT_BYTES + 256 * 1024


@pytest.fixture
def broker(tmp_path):
    return tmp_path / "broker.sqlite"


def wal_size(broker: Path) -> int:
    return broker.with_name(broker.name + "-wal").stat().st_size


def publish(producer: Producer, numbers: range) -> None:
    for n in numbers:
        producer.publish({"queue": "q1", "n": n, "pad": "x" * 500}, routing_key="q1.message", serializer="json")


def test_three_thousand_messages_through_one_consumer_leave_the_log_within_its_bound(broker):
    sizes = []
    with Connection(f"sqlite:///{broker}") as connection:
        channel = connection.channel()
        queue("q1")(channel).declare()
        producer = Producer(channel, exchange=EXCHANGE)
        for start in range(0, 3_000, 100):
            publish(producer, range(start, start + 100))
            for _ in range(100):
                channel.basic_get("contract.q1").ack()
            sizes.append(wal_size(broker))
    assert max(sizes) <= BOUND


def test_three_thousand_messages_through_three_consumer_processes_leave_the_log_within_its_bound(broker, tmp_path):
    url, log = f"sqlite:///{broker}", tmp_path / "received.jsonl"
    sizes = []
    with Connection(url) as connection:
        channel = connection.channel()
        queue("q1")(channel).declare()
        consumers = [subprocess.Popen([sys.executable, str(CLIENT), url, str(log), "ack", "10", "q1"],
                                      env={**os.environ, "PYTHONPATH": str(CLIENT.parent)}) for _ in range(3)]
        try:
            producer = Producer(channel, exchange=EXCHANGE)
            for start in range(0, 3_000, 100):
                publish(producer, range(start, start + 100))
                sizes.append(wal_size(broker))

            def all_received() -> bool:
                sizes.append(wal_size(broker))
                return log.exists() and len(log.read_text().splitlines()) >= 3_000
            wait_until(all_received, timeout=120, what="3,000 messages received")
        finally:
            for consumer in consumers:
                consumer.kill()
                consumer.wait()
    assert max(sizes) <= BOUND

"""The outbox relay: every row published once by one of several relays, then deleted."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from pizzeria.messaging import Envelope, Outgoing
from pizzeria.messaging.store import outbox


class FakePublisher:
    """Records what it is asked to publish; can be told to fail after some messages."""

    def __init__(self, fail_after: int | None = None):
        self.published: list[str] = []
        self.fail_after = fail_after
        self.lock = threading.Lock()

    def publish_many(self, messages: list[Outgoing]) -> None:
        for message in messages:
            with self.lock:
                if self.fail_after is not None and len(self.published) >= self.fail_after:
                    raise ConnectionError("broker went away")
                self.published.append(message.headers["message_id"])


def add_rows(engine, count: int, delay: float = 0.0) -> list[str]:
    ids = [f"m{n}" for n in range(count)]
    with engine.begin() as conn:
        for message_id in ids:
            envelope = Envelope(message_id, "Thing", "visit", None, "now", {})
            outbox.add_raw(conn, Outgoing("menu.command.Thing", envelope.encode(), envelope.headers()),
                           message_id, time.time() + delay)
    return ids


def rows_left(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(outbox.outbox)).scalar()


def test_a_sweep_publishes_every_due_row_in_order_and_deletes_it(engine):
    ids = add_rows(engine, 250)
    publisher = FakePublisher()
    assert outbox.Relay(engine, publisher.publish_many, batch=100).sweep() == 250
    assert publisher.published == ids
    assert rows_left(engine) == 0


def test_a_row_that_is_not_due_yet_waits(engine):
    add_rows(engine, 3, delay=60)
    publisher = FakePublisher()
    assert outbox.Relay(engine, publisher.publish_many).sweep() == 0
    assert (publisher.published, rows_left(engine)) == ([], 3)


def test_relays_running_at_once_publish_each_row_exactly_once(engine):
    ids = add_rows(engine, 400)
    publisher = FakePublisher()
    relays = [outbox.Relay(engine, publisher.publish_many, batch=20) for _ in range(4)]
    threads = [threading.Thread(target=relay.sweep) for relay in relays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(publisher.published) == sorted(ids)
    assert rows_left(engine) == 0


def test_rows_a_failed_relay_had_claimed_are_published_by_the_next_once_its_lease_ends(engine):
    ids = add_rows(engine, 10)
    failing = FakePublisher(fail_after=4)
    with pytest.raises(ConnectionError):
        outbox.Relay(engine, failing.publish_many, lease=0.0).sweep()
    assert rows_left(engine) == 10  # a batch not confirmed whole is kept whole
    publisher = FakePublisher()
    outbox.Relay(engine, publisher.publish_many).sweep()
    assert (failing.published, publisher.published) == (ids[:4], ids)
    assert rows_left(engine) == 0


def test_rows_claimed_by_a_live_relay_are_left_to_it(engine):
    add_rows(engine, 5)
    failing = FakePublisher(fail_after=0)
    with pytest.raises(ConnectionError):
        outbox.Relay(engine, failing.publish_many, lease=60).sweep()
    publisher = FakePublisher()
    assert outbox.Relay(engine, publisher.publish_many).sweep() == 0
    assert rows_left(engine) == 5


def test_rows_a_handler_writes_are_claimed_for_it_to_send_and_deleted_at_its_next_sweep(engine):
    envelopes = [Envelope(f"m{n}", "Thing", "visit", None, "now", {}) for n in range(3)]
    with engine.begin() as conn:
        rows = outbox.add(conn, [(envelope, "menu.command.Thing") for envelope in envelopes], time.time())
    other, mine = FakePublisher(), FakePublisher()
    assert outbox.Relay(engine, other.publish_many).sweep() == 0
    relay = outbox.Relay(engine, mine.publish_many)
    relay.send(rows)
    assert (mine.published, rows_left(engine)) == (["m0", "m1", "m2"], 3)
    relay.sweep()
    assert (other.published, rows_left(engine)) == ([], 0)


def test_rows_of_a_handler_that_died_before_sending_go_out_when_its_lease_ends(engine):
    with engine.begin() as conn:
        outbox.add(conn, [(Envelope("m1", "Thing", "visit", None, "now", {}), "menu.command.Thing")], time.time())
        conn.execute(outbox.outbox.update().values(claimed_until=0))  # the lease has ended
    publisher = FakePublisher()
    assert outbox.Relay(engine, publisher.publish_many).sweep() == 1
    assert (publisher.published, rows_left(engine)) == (["m1"], 0)


def test_a_relay_deletes_only_what_it_published_even_once_another_relay_took_over_its_rows(engine):
    """Found by the simulator (3 visits, seed 22): a relay slow to sweep had its rows published
    and deleted by another once its lease ended; a new row took the last one's id, and the
    slow relay's sweep deleted it unpublished."""
    slow, quick = FakePublisher(), FakePublisher()
    with engine.begin() as conn:
        rows = outbox.add(conn, [(Envelope("m1", "Thing", "visit", None, "now", {}), "menu.command.Thing")], 0.0)
    slow_relay = outbox.Relay(engine, slow.publish_many)
    slow_relay.send(rows)  # published, not yet deleted; its lease (from time 0) is long over
    assert outbox.Relay(engine, quick.publish_many).sweep() == 1
    add_rows(engine, 1)
    slow_relay.sweep()
    assert (slow.published, quick.published, rows_left(engine)) == (["m1", "m0"], ["m1"], 0)

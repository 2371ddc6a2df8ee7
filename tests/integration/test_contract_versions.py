"""A message of a version newer than its reader's, on each database: today's process manager
reads the next waiter's BillPaid without its tip, and the message goes whole, tip and version
included, wherever it goes before it is handled: a delayed retry through the outbox, the failed
store, a replay."""

from __future__ import annotations

import time

from fakes import FakeDelivery, FakePublisher

from pizzeria.bootstrap import NAMES
from pizzeria.devtools import next_waiter
from pizzeria.messaging import Endpoint, Envelope, FailurePolicy
from pizzeria.messaging.delivery.pipeline import Pipeline
from pizzeria.messaging.store import failed
from pizzeria.messaging.store.outbox import Relay
from pizzeria.waiter.messages import BillPaid


class Till:
    """A handler of today's BillPaid that fails while the till is closed, and notes what it took."""

    def __init__(self) -> None:
        self.closed = True
        self.took: list[tuple[BillPaid, int, dict]] = []

    def __call__(self, event: BillPaid, context) -> None:
        if self.closed:
            raise RuntimeError("the till is closed")
        self.took.append((event, context.envelope.version, context.envelope.payload))


def test_a_newer_message_goes_whole_through_a_delayed_retry_the_failed_store_and_a_replay(engine):
    till, publisher = Till(), FakePublisher()
    manager = Endpoint("process_manager", {BillPaid: till})
    consumer = Pipeline(engine, Relay(engine, publisher.publish_many), NAMES, FailurePolicy(immediate=0, delayed=1,
                                                                                           first_delay=0.0))
    paid = FakeDelivery.of(Envelope.wrap(next_waiter.BillPaid(1700, tip_cents=170), message_id="paid-1",
                                         correlation_id="visit-1"))
    consumer.handle(manager, [paid])
    consumer.relay.sweep()
    (retried,) = publisher.published
    consumer.handle(manager, [FakeDelivery(retried.body, headers=dict(retried.headers))])
    (entry,) = failed.entries(engine)
    replayed: list = []
    failed.replay(engine, replayed.append, entry, NAMES, time.time())
    till.closed = False
    consumer.handle(manager, [FakeDelivery(replayed[0].body, headers=dict(replayed[0].headers))])
    assert retried.body == entry.body == replayed[0].body == paid.body
    assert till.took == [(BillPaid(1700), 2, {"amount_cents": 1700, "tip_cents": 170})]

"""The failed store on each database: a replay sends the message back as it came, marked, and
the entry comes back to life if it fails again; a replay that cannot be published leaves the
entry as it was; entries are listed and deleted by id."""

from __future__ import annotations

import time

import pytest
from fakes import FakeDelivery, pipeline

from pizzeria.bootstrap import NAMES
from pizzeria.kitchen.messages import DoPizza
from pizzeria.messaging import Endpoint, Envelope, FailurePolicy, Outgoing
from pizzeria.messaging.store import failed, inbox

ONCE = FailurePolicy(immediate=0, delayed=0)
REPLAYED, ATTEMPTS, ROUND = "x-pizzeria-replayed", "x-pizzeria-attempts", "x-pizzeria-retry-round"


class Oven:
    """A kitchen handler that fails while the oven is cold, and counts what it baked."""

    def __init__(self) -> None:
        self.cold = True
        self.baked: list[str] = []

    def __call__(self, command: DoPizza, _context) -> None:
        if self.cold:
            raise RuntimeError("the oven is cold")
        self.baked.append(command.kitchen_order_id)


def pizza(kid: str = "p1", **headers) -> FakeDelivery:
    delivery = FakeDelivery.of(Envelope.wrap(DoPizza(kid, "margherita"), message_id=f"m-{kid}",
                                             correlation_id="visit-1"))
    delivery.headers.update(headers)
    return delivery


def replay(engine, entry) -> Outgoing:
    sent: list[Outgoing] = []
    failed.replay(engine, sent.append, entry, NAMES, time.time())
    (outgoing,) = sent
    return outgoing


def delivered(outgoing: Outgoing) -> FakeDelivery:
    return FakeDelivery(outgoing.body, outgoing.content_type, dict(outgoing.headers))


def test_a_replay_sends_the_message_straight_to_its_queue_as_it_came_without_its_tries(engine):
    oven = Oven()
    original = pizza(**{ATTEMPTS: 4, ROUND: 2, "x-custom": "kept"})
    pipeline(engine, ONCE).handle(Endpoint("kitchen", {DoPizza: oven}), [original])
    (entry,) = failed.entries(engine)
    outgoing = replay(engine, entry)
    assert (outgoing.routing_key, outgoing.exchange, outgoing.body, outgoing.content_type) == (
        "pizzeria.kitchen", "", original.body, "application/json")
    assert outgoing.headers == {**pizza().headers, "x-custom": "kept", REPLAYED: entry.id}
    (marked,) = failed.entries(engine)
    assert marked.replayed_at is not None


def test_a_replayed_message_that_succeeds_is_handled_and_its_entry_stays_marked_replayed(engine):
    oven = Oven()
    kitchen = Endpoint("kitchen", {DoPizza: oven})
    pipeline(engine, ONCE).handle(kitchen, [pizza()])
    (entry,) = failed.entries(engine)
    oven.cold = False
    again = delivered(replay(engine, entry))
    pipeline(engine, ONCE).handle(kitchen, [again])
    assert (oven.baked, again.settled, inbox.handled(engine, "kitchen", ["m-p1"])) == (["p1"], ["ack"], {"m-p1"})
    (entry,) = failed.entries(engine)
    assert entry.replayed_at is not None


def test_a_replayed_message_that_fails_again_brings_its_entry_back_with_every_attempt_counted(engine):
    kitchen = Endpoint("kitchen", {DoPizza: Oven()})
    pipeline(engine, FailurePolicy(immediate=1, delayed=0)).handle(kitchen, [pizza()])
    (entry,) = failed.entries(engine)
    pipeline(engine, FailurePolicy(immediate=2, delayed=0)).handle(kitchen, [delivered(replay(engine, entry))])
    (again,) = failed.entries(engine)
    assert (again.id, again.attempts, again.replayed_at) == (entry.id, 2 + 3, None)
    assert again.last_failed_at >= entry.last_failed_at


def test_a_replay_of_a_message_handled_meanwhile_has_no_effect(engine):
    oven = Oven()
    kitchen = Endpoint("kitchen", {DoPizza: oven})
    pipeline(engine, ONCE).handle(kitchen, [pizza()])
    (entry,) = failed.entries(engine)
    oven.cold = False
    pipeline(engine, ONCE).handle(kitchen, [pizza()])  # a copy the broker still had
    again = delivered(replay(engine, entry))
    pipeline(engine, ONCE).handle(kitchen, [again])
    assert (oven.baked, again.settled) == (["p1"], ["ack"])


def test_a_replay_that_cannot_be_published_leaves_the_entry_unreplayed_and_says_why(engine):
    pipeline(engine, ONCE).handle(Endpoint("kitchen", {DoPizza: Oven()}), [pizza()])
    (entry,) = failed.entries(engine)

    def broker_down(_message: Outgoing) -> None:
        raise ConnectionRefusedError("the broker is down")

    with pytest.raises(ConnectionRefusedError):
        failed.replay(engine, broker_down, entry, NAMES, time.time())
    (entry,) = failed.entries(engine)
    assert entry.replayed_at is None


def test_a_message_stored_without_a_content_type_is_replayed_as_bytes(engine):
    pipeline(engine, ONCE).handle(Endpoint("kitchen", {DoPizza: Oven()}), [FakeDelivery(b"\x00", None)])
    (entry,) = failed.entries(engine)
    assert (entry.content_type, replay(engine, entry).content_type) == (None, "application/octet-stream")


def test_entries_are_listed_oldest_first_by_id_and_removed_by_id(engine):
    kitchen = Endpoint("kitchen", {DoPizza: Oven()})
    pipeline(engine, ONCE).handle(kitchen, [pizza("p1"), pizza("p2"), pizza("p3")])
    first, second, third = failed.entries(engine)
    assert [entry.message_id for entry in (first, second, third)] == ["m-p1", "m-p2", "m-p3"]
    assert [entry.id for entry in failed.entries(engine, [third.id, first.id])] == [first.id, third.id]
    assert failed.entries(engine, []) == []
    failed.remove(engine, [first.id, third.id])
    assert [entry.id for entry in failed.entries(engine)] == [second.id]


def test_a_failure_stored_again_after_its_delivery_came_back_unacked_keeps_one_entry(engine):
    """Found by the simulator (a poison message in every run): a consumer that died after
    storing a failure and before its ack got the delivery back, and stored it again."""
    kitchen = Endpoint("kitchen", {DoPizza: Oven()})
    for delivery in (pizza(), pizza(), FakeDelivery(b"{not json", "application/json"),
                     FakeDelivery(b"{not json", "application/json"), FakeDelivery(b"{other", "application/json")):
        pipeline(engine, ONCE).handle(kitchen, [delivery])
    assert [(entry.message_id or entry.body, entry.attempts) for entry in failed.entries(engine)] == [
        ("m-p1", 2), (b"{not json", 2), (b"{other", 1)]


def test_a_new_failure_of_a_message_whose_entry_was_replayed_is_an_entry_of_its_own(engine):
    kitchen = Endpoint("kitchen", {DoPizza: Oven()})
    pipeline(engine, ONCE).handle(kitchen, [pizza()])
    (entry,) = failed.entries(engine)
    replay(engine, entry)
    pipeline(engine, ONCE).handle(kitchen, [pizza()])  # a copy that came without the replay's mark
    assert [entry.replayed_at is None for entry in failed.entries(engine)] == [False, True]

"""Editing a failed message on each database: an edit is checked against the message's type and
kept beside the original, which stays as it came; a replay sends the latest edit with the
message's own id and headers naming the entry and the edit; the inbox still lets the message
take effect once; a refused edit names the field and keeps nothing."""

from __future__ import annotations

import json
import time

import pytest
from fakes import FakeDelivery, pipeline
from sqlalchemy import func, select

from pizzeria.bootstrap import NAMES
from pizzeria.kitchen.messages import DoPizza
from pizzeria.messaging import Endpoint, Envelope, FailurePolicy, Outgoing, admin
from pizzeria.messaging.store import failed, inbox
from pizzeria.messaging.store.tables import failed_edits
from pizzeria.process_manager.messages import OrderLine, StartTableService

ONCE = FailurePolicy(immediate=0, delayed=0)
REPLAYED, EDIT = "x-pizzeria-replayed", "x-pizzeria-edit"


class Oven:
    """A kitchen handler that refuses a pizza it has no recipe for, and counts what it baked."""

    def __init__(self, known: tuple[str, ...] = ("margherita",)) -> None:
        self.known = known
        self.baked: list[tuple[str, str]] = []

    def __call__(self, command: DoPizza, _context) -> None:
        if command.pizza not in self.known:
            raise LookupError(f"no recipe for {command.pizza}")
        self.baked.append((command.kitchen_order_id, command.pizza))


def pizza(name: str = "diavola", kid: str = "p1") -> FakeDelivery:
    return FakeDelivery.of(Envelope.wrap(DoPizza(kid, name), message_id=f"m-{kid}", correlation_id="visit-1"))


@pytest.fixture
def kitchen(engine):
    """The kitchen endpoint, and the failed entry of a diavola it had no recipe for."""
    oven = Oven()
    endpoint = Endpoint("kitchen", {DoPizza: oven})
    pipeline(engine, ONCE).handle(endpoint, [pizza()])
    (entry,) = failed.entries(engine)
    return endpoint, oven, entry


def edit(engine, endpoint, entry, **changes) -> int:
    return admin.edit_failed(engine, entry, changes, [endpoint], NAMES, time.time())


def replayed(engine, entry) -> Outgoing:
    sent: list[Outgoing] = []
    admin.replay_failed(engine, sent.append, entry, NAMES, time.time())
    (outgoing,) = sent
    return outgoing


def edits(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(failed_edits).order_by(failed_edits.c.id)).all()


def test_an_edit_is_kept_beside_the_original_and_a_replay_sends_it_with_the_message_s_own_id(engine, kitchen):
    endpoint, oven, entry = kitchen
    edit_id = edit(engine, endpoint, entry, pizza="margherita")
    (stored,) = failed.entries(engine)
    assert stored.body == entry.body  # the original, as it came
    assert admin.failed_edit(engine, entry.id)["changes"] == {"pizza": "margherita"}
    outgoing = replayed(engine, stored)
    sent = Envelope.decode(outgoing.body)
    assert (sent.message_id, sent.payload) == ("m-p1", {"kitchen_order_id": "p1", "pizza": "margherita"})
    assert (outgoing.headers["message_id"], outgoing.headers[REPLAYED], outgoing.headers[EDIT]) == (
        "m-p1", entry.id, edit_id)
    again = FakeDelivery(outgoing.body, outgoing.content_type, dict(outgoing.headers))
    pipeline(engine, ONCE).handle(endpoint, [again])
    assert (oven.baked, again.settled, inbox.handled(engine, "kitchen", ["m-p1"])) == (
        [("p1", "margherita")], ["ack"], {"m-p1"})
    ((_id, failed_id, _body, _changes, _at, replayed_at),) = edits(engine)
    assert (failed_id, replayed_at is not None, admin.failed_status(failed.entries(engine)[0])) == (
        entry.id, True, admin.REPLAYED)


def test_the_edit_of_a_message_that_took_effect_meanwhile_is_dropped_by_the_inbox(engine, kitchen):
    endpoint, oven, entry = kitchen
    oven.known = ("margherita", "diavola")
    pipeline(engine, ONCE).handle(endpoint, [pizza()])  # a copy the broker still had: baked
    edit(engine, endpoint, entry, pizza="margherita")
    again = replayed(engine, entry)
    pipeline(engine, ONCE).handle(endpoint, [FakeDelivery(again.body, again.content_type, dict(again.headers))])
    assert oven.baked == [("p1", "diavola")]


def test_an_edited_replay_that_fails_again_brings_its_entry_back_with_the_original_and_the_edit(engine, kitchen):
    endpoint, oven, entry = kitchen
    edit(engine, endpoint, entry, pizza="capricciosa")
    again = replayed(engine, entry)
    pipeline(engine, ONCE).handle(endpoint, [FakeDelivery(again.body, again.content_type, dict(again.headers))])
    (back,) = failed.entries(engine)
    assert (back.id, back.body, back.attempts, back.replayed_at) == (entry.id, entry.body, 2, None)
    assert "no recipe for capricciosa" in back.error
    second = edit(engine, endpoint, back, kitchen_order_id="p1-bis")  # from the latest edit on
    assert json.loads(admin.failed_edit(engine, entry.id)["body"])["payload"] == {
        "kitchen_order_id": "p1-bis", "pizza": "capricciosa"}
    assert replayed(engine, back).headers[EDIT] == second


@pytest.mark.parametrize("changes, why", [
    ({"pizza": 7}, "pizza: DoPizza.pizza: expected str, got int"),
    ({"pizza": "Bad Name"}, "pizza: DoPizza: bad pizza name 'Bad Name'"),
    ({"oven": "hot"}, "oven: DoPizza has no field 'oven'"),
    ({"pizza.name": "x"}, "pizza.name: 'pizza' holds no fields"),
    ({}, "nothing to change: set a field"),
])
def test_an_edit_that_does_not_fit_the_contract_is_refused_naming_the_field_and_nothing_is_kept(
        engine, kitchen, changes, why):
    endpoint, _oven, entry = kitchen
    with pytest.raises(admin.EditRefused) as refused:
        edit(engine, endpoint, entry, **changes)
    assert str(refused.value) == why
    assert edits(engine) == []


def test_a_dotted_field_reaches_inside_a_list_and_must_be_there(engine):
    start = StartTableService("T1", (OrderLine("margherita", 1),))
    envelope = Envelope.wrap(start, message_id="m-start", correlation_id="visit-1")
    manager = Endpoint("process_manager", {StartTableService: Oven()})
    failed.store(engine, failed.Entry("pizzeria.process_manager", envelope.encode(), envelope.headers(),
                                      "application/json", RuntimeError("boom"), None, 1), NAMES, time.time())
    (entry,) = failed.entries(engine)
    with pytest.raises(admin.EditRefused, match=r"^order\.1\.quantity: order has no '1'$"):
        edit(engine, manager, entry, **{"order.1.quantity": 2})
    with pytest.raises(admin.EditRefused, match=r"^order\.0\.quantity: StartTableService\.order\[0\]\.quantity: "
                                                r"expected int, got str$"):
        edit(engine, manager, entry, **{"order.0.quantity": "2"})
    edit(engine, manager, entry, **{"order.0.quantity": 3, "order.0.pizza": "diavola"})
    assert json.loads(admin.failed_edit(engine, entry.id)["body"])["payload"]["order"] == [
        {"pizza": "diavola", "quantity": 3}]


def test_a_body_that_holds_no_envelope_or_a_type_its_queue_does_not_take_cannot_be_edited(engine, kitchen):
    endpoint, _oven, _entry = kitchen
    pipeline(engine, ONCE).handle(endpoint, [FakeDelivery(b"{not json", "application/json")])
    waiter = Endpoint("waiter", {})
    first, garbage = failed.entries(engine)
    with pytest.raises(admin.EditRefused, match="not a message in an envelope"):
        edit(engine, endpoint, garbage, pizza="margherita")
    with pytest.raises(admin.EditRefused, match="its queue takes no message of type 'DoPizza'"):
        admin.edit_failed(engine, first, {"pizza": "margherita"}, [waiter], NAMES, time.time())


def test_deleting_an_entry_deletes_its_edits_and_a_replay_that_cannot_be_published_leaves_the_edit_unsent(
        engine, kitchen):
    endpoint, _oven, entry = kitchen

    def broker_down(_message: Outgoing) -> None:
        raise ConnectionRefusedError("the broker is down")

    edit(engine, endpoint, entry, pizza="margherita")
    with pytest.raises(ConnectionRefusedError):
        admin.replay_failed(engine, broker_down, entry, NAMES, time.time())
    assert admin.failed_edit(engine, entry.id)["replayed_at"] is None
    assert failed.entries(engine)[0].replayed_at is None
    admin.delete_failed(engine, [entry.id])
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(failed_edits)).scalar() == 0

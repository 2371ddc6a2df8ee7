"""Envelopes and payloads: round trips, a version on every envelope, fields a reader does not
know ignored by the message and kept by the envelope, and garbage refused with BadMessage only."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pizzeria.kitchen.messages import DoPizza
from pizzeria.messaging import BadMessage, InvalidPayload, UnknownType
from pizzeria.messaging.contracts.envelope import Envelope, derived_id
from pizzeria.process_manager.handlers import handlers
from pizzeria.process_manager.messages import OrderLine, StartTableService

PM_TYPES = {cls.__name__: cls for cls in handlers()}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children), max_leaves=20)


def wrapped(message) -> Envelope:
    return Envelope.wrap(message, message_id="m1", correlation_id="visit-1", causation_id="c1")


def written(**fields) -> dict:
    """The envelope of a StartTableService as JSON data, as any producer may write it, with `fields`."""
    return {"message_id": "m1", "type": "StartTableService", "correlation_id": "visit-1", "causation_id": None,
            "occurred_at": "now", "payload": {"table_id": "T1"}, **fields}


@given(st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True),
       st.none() | st.lists(st.tuples(st.sampled_from(["margherita", "diavola"]), st.integers(1, 20)),
                            max_size=5))
def test_a_message_survives_the_trip_through_its_envelope(table_id, pairs):
    order = None if pairs is None else tuple(OrderLine(name, n) for name, n in pairs)
    message = StartTableService(table_id, order)
    envelope = Envelope.decode(wrapped(message).encode())
    assert envelope.open(PM_TYPES) == message
    assert envelope.headers()["correlation_id"] == "visit-1"


@given(st.binary(max_size=200))
def test_arbitrary_bytes_are_refused_as_bad_messages_or_decoded(body):
    try:
        Envelope.decode(body).open(PM_TYPES)
    except BadMessage:
        pass


@given(json_values)
def test_arbitrary_json_is_refused_as_a_bad_message(value):
    with pytest.raises(BadMessage):
        Envelope.decode(json.dumps(value)).open(PM_TYPES)


@given(st.dictionaries(st.sampled_from(["table_id", "order", "extra"]), json_values))
def test_an_envelope_with_an_arbitrary_payload_is_opened_or_refused_as_a_bad_message(payload):
    envelope = Envelope("m1", "StartTableService", "visit-1", None, "2026-01-01T00:00:00", payload)
    try:
        assert isinstance(Envelope.decode(envelope.encode()).open(PM_TYPES), StartTableService)
    except BadMessage:
        pass


def test_json_nested_too_deep_is_a_bad_message():
    with pytest.raises(BadMessage, match="not JSON"):
        Envelope.decode(b"[" * 100_000)


def test_a_type_not_in_the_registry_is_unknown_even_if_python_could_import_it():
    envelope = Envelope("m1", "DoPizza", "visit-1", None, "now", {"kitchen_order_id": "k", "pizza": "x"})
    with pytest.raises(UnknownType):
        envelope.open(PM_TYPES)
    assert envelope.open({"DoPizza": DoPizza}) == DoPizza("k", "x")


@pytest.mark.parametrize("payload, complaint", [
    ({}, "missing field table_id"),
    ({"table_id": 7}, "expected str, got int"),
    ({"table_id": "T1", "order": [{"pizza": "margherita", "quantity": "2"}]}, "expected int, got str"),
    ({"table_id": "T1", "order": [{"pizza": "margherita", "quantity": 0}]}, "bad quantity 0"),
    ({"table_id": "no spaces"}, "bad table id"),
    ({"table_id": 7, "seats": 4}, "expected str, got int"),
])
def test_a_payload_that_breaks_the_rules_says_which_rule(payload, complaint):
    with pytest.raises(InvalidPayload, match=re.escape(complaint)):
        Envelope("m1", "StartTableService", "v", None, "now", payload).open(PM_TYPES)


def test_a_field_the_reader_does_not_know_is_ignored_by_the_message_and_kept_by_the_envelope():
    payload = {"table_id": "T1", "seats": 4, "order": [{"pizza": "diavola", "quantity": 1, "spicy": True}]}
    body = Envelope("m1", "StartTableService", "visit-1", None, "now", payload, version=2).encode()
    envelope = Envelope.decode(body)
    assert envelope.open(PM_TYPES) == StartTableService("T1", (OrderLine("diavola", 1),))
    assert (envelope.payload, envelope.version, envelope.encode()) == (payload, 2, body)


def test_every_envelope_carries_the_version_of_its_messages_contract_and_one_without_is_of_version_1():
    assert json.loads(wrapped(StartTableService("T1")).encode())["version"] == 1
    assert Envelope.decode(json.dumps(written())).version == 1


def test_a_field_of_a_newer_envelope_is_ignored():
    assert Envelope.decode(json.dumps(written(priority="high"))).open(PM_TYPES) == StartTableService("T1")


@pytest.mark.parametrize("version, complaint", [
    (0, "versions count from 1"), (-3, "versions count from 1"), ("2", "Envelope.version: expected int, got str"),
    (2.0, "Envelope.version: expected int, got float"), (True, "Envelope.version: expected int, got bool"),
])
def test_a_version_that_is_no_whole_number_from_1_is_a_bad_message(version, complaint):
    with pytest.raises(BadMessage, match=re.escape(complaint)):
        Envelope.decode(json.dumps(written(version=version)))


def test_derived_ids_are_stable_and_distinct():
    assert derived_id("visit-1", "GetMenu:") == derived_id("visit-1", "GetMenu:")
    assert derived_id("visit-1", "GetMenu:") != derived_id("visit-2", "GetMenu:")

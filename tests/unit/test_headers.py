"""Headers through JSON text and back, with every AMQP field type py-amqp decodes kept as it was."""

from __future__ import annotations

import json
import math
import struct
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from amqp.serialization import dumps, loads
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import amqp_headers

from pizzeria.messaging.transport.headers import TAG, from_json_safe, to_json_safe

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda values: st.lists(values, max_size=4) | st.dictionaries(st.text(max_size=10), values, max_size=4),
    max_leaves=15)
tag_like = st.fixed_dictionaries({
    TAG: st.sampled_from(["datetime", "decimal", "bytes", "table", "repr"]) | json_values,
    "value": json_values})
header_names = st.from_regex(r"[a-z_-]{1,20}", fullmatch=True)


def through_json(headers: Any) -> dict[str, Any]:
    """What reading back a row that stored `headers` gives."""
    return from_json_safe(json.loads(json.dumps(to_json_safe(headers), allow_nan=True)))


def exactly(value: Any) -> Any:
    """`value` as something equal only to a value of the same types and reprs: 1 != True, -0.0 != 0.0."""
    if isinstance(value, dict):
        return "dict", [(exactly(key), exactly(item)) for key, item in value.items()]
    if isinstance(value, list):
        return "list", [exactly(item) for item in value]
    return type(value), repr(value)


def amqp_table(encoded_fields: bytes) -> dict[Any, Any]:
    """The table py-amqp decodes from the encoded key-and-value pairs."""
    table: dict[Any, Any] = loads("F", struct.pack(">I", len(encoded_fields)) + encoded_fields, 0)[0][0]
    return table


@settings(max_examples=200)
@given(amqp_headers())
def test_headers_come_back_from_json_text_with_the_same_values_and_types(headers: dict[Any, Any]) -> None:
    assert exactly(through_json(headers)) == exactly(headers)


@settings(max_examples=200)
@given(amqp_headers())
def test_headers_back_from_json_text_are_published_as_the_same_amqp_fields(headers: dict[Any, Any]) -> None:
    assert dumps("F", [through_json(headers)]) == dumps("F", [headers])


@given(st.dictionaries(header_names, st.text(max_size=20), max_size=6))
def test_headers_of_plain_text_pass_through_unchanged(headers: dict[str, str]) -> None:
    assert to_json_safe(headers) == headers
    assert from_json_safe(to_json_safe(headers)) == headers


def test_a_users_table_that_has_the_tag_as_a_key_survives() -> None:
    headers = {TAG: "datetime", "value": "2026-01-01T12:00:00", "deeper": {TAG: "bytes", "value": "YWJj"}}
    assert exactly(through_json(headers)) == exactly(headers)
    assert exactly(through_json({"plain": {TAG: "decimal"}})) == exactly({"plain": {TAG: "decimal"}})


def test_a_key_that_is_not_utf8_comes_back_as_the_same_bytes() -> None:
    headers = amqp_table(b"\x02\xff\xfeV" + b"\x01tF" + struct.pack(">I", 4) + b"\x02\xff\xfeV")
    assert headers == {b"\xff\xfe": None, "t": {b"\xff\xfe": None}}
    assert exactly(through_json(headers)) == exactly(headers)


def test_a_byte_array_that_is_valid_utf8_stays_bytes() -> None:
    headers = amqp_table(b"\x01xx" + struct.pack(">I", 3) + b"abc")
    assert exactly(through_json(headers)) == exactly({"x": b"abc"})


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf, -0.0])
def test_nan_infinity_and_minus_zero_survive(number: float) -> None:
    headers = {"number": number, "in": [number]}
    assert exactly(through_json(headers)) == exactly(headers)


def test_decimals_and_datetimes_come_back_in_their_exact_form() -> None:
    headers = {"price": Decimal("-12.340"), "tiny": Decimal("1E-255"), "at": datetime(2026, 1, 1, 12),
               "aware": datetime(2026, 1, 1, 12, tzinfo=UTC), "big": 2**63 - 1}
    assert exactly(through_json(headers)) == exactly(headers)


def test_tuples_come_back_as_lists_and_bytearrays_and_memoryviews_as_bytes() -> None:
    headers = {"tuple": (1, "a"), "bytearray": bytearray(b"\x00"), "view": memoryview(b"\xff")}
    expected = {"tuple": [1, "a"], "bytearray": b"\x00", "view": b"\xff"}
    assert exactly(through_json(headers)) == exactly(expected)


def test_a_value_of_no_amqp_type_comes_back_as_its_repr() -> None:
    restored = through_json({"set": {1}, "day": date(2026, 1, 1)})
    assert restored == {"set": "{1}", "day": "datetime.date(2026, 1, 1)"}


@given(st.dictionaries(st.text(max_size=10), json_values, max_size=5))
def test_old_rows_of_plain_json_without_the_tag_load_unchanged(data: dict[str, Any]) -> None:
    assert exactly(from_json_safe(json.loads(json.dumps(data)))) == exactly(data)


@pytest.mark.parametrize("garbage", [
    {TAG: "datetime", "value": "not a date"}, {TAG: "decimal", "value": "1.2.3"},
    {TAG: "decimal", "value": 1.5}, {TAG: "bytes", "value": "é!"}, {TAG: "nonsense", "value": "x"},
    {TAG: ["table"], "value": "x"}, {TAG: "table", "value": [[[1], 2]]}, {TAG: "table", "value": [[1]]},
    {TAG: "table", "value": {"a": 1}}, {TAG: "repr"}, {TAG: "repr", "value": "x", "more": 1},
])
def test_malformed_tags_load_as_they_are(garbage: dict[str, Any]) -> None:
    assert from_json_safe({"h": garbage, "in": [garbage]}) == {"h": garbage, "in": [garbage]}


def test_headers_that_are_a_tag_of_no_table_load_as_they_are() -> None:
    assert from_json_safe({TAG: "decimal", "value": "1"}) == {TAG: "decimal", "value": "1"}


@settings(max_examples=200)
@given(st.dictionaries(st.text(max_size=5) | st.just(TAG), json_values | tag_like, max_size=5))
def test_from_json_safe_never_raises_on_a_json_object(data: dict[str, Any]) -> None:
    from_json_safe(json.loads(json.dumps(data)))

"""The codec: payloads become messages only if every field has its declared type, and messages
become payloads that JSON takes, whatever the kind of their fields; a field the dataclass does
not have is refused, unless the reader is tolerant (as a message's reader is)."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

import pytest

from pizzeria.messaging import ContractError, InvalidPayload, from_payload, to_payload


class Size(enum.Enum):
    SMALL = "small"
    LARGE = "large"


class Crust(enum.StrEnum):
    THIN = "thin"
    THICK = "thick"


@dataclass(frozen=True)
class Topping:
    name: str
    grams: float


@dataclass(frozen=True)
class Pizza:
    size: Size
    crust: Crust
    price: float
    toppings: tuple[Topping, ...] = ()
    note: str | None = None


def test_an_enum_field_is_read_from_its_value():
    pizza = from_payload(Pizza, {"size": "large", "crust": "thin", "price": 9.5})
    assert (pizza.size, pizza.crust) == (Size.LARGE, Crust.THIN)


@pytest.mark.parametrize("field, value", [("size", "huge"), ("crust", "stuffed"), ("size", None), ("size", 1)])
def test_a_value_that_is_no_member_of_the_enum_is_an_invalid_payload_naming_the_field(field, value):
    payload = {"size": "small", "crust": "thin", "price": 1.0, field: value}
    with pytest.raises(InvalidPayload, match=rf"Pizza\.{field}: .* is not a"):
        from_payload(Pizza, payload)


def test_a_float_field_takes_an_integer_as_json_writes_a_round_number_and_makes_it_a_float():
    pizza = from_payload(Pizza, {"size": "small", "crust": "thin", "price": 9,
                                 "toppings": [{"name": "basil", "grams": 3}]})
    assert (pizza.price, type(pizza.price)) == (9.0, float)
    assert type(pizza.toppings[0].grams) is float


@pytest.mark.parametrize("price", [True, "9.5", None, [9.5]])
def test_a_float_field_refuses_a_boolean_text_or_anything_but_a_number(price):
    with pytest.raises(InvalidPayload, match=r"Pizza\.price: expected float"):
        from_payload(Pizza, {"size": "small", "crust": "thin", "price": price})


def test_an_optional_field_takes_null_or_a_value_of_its_type_and_nothing_else():
    base = {"size": "small", "crust": "thin", "price": 1.0}
    assert from_payload(Pizza, {**base, "note": None}).note is None
    assert from_payload(Pizza, {**base, "note": "no garlic"}).note == "no garlic"
    with pytest.raises(InvalidPayload, match=r"Pizza\.note: expected str, got int"):
        from_payload(Pizza, {**base, "note": 5})


@pytest.mark.parametrize("toppings", [{"name": "basil"}, "basil", 3])
def test_a_tuple_field_needs_a_json_list(toppings):
    with pytest.raises(InvalidPayload, match=r"Pizza\.toppings: expected a list"):
        from_payload(Pizza, {"size": "small", "crust": "thin", "price": 1.0, "toppings": toppings})


def test_an_error_in_a_nested_message_names_where_it_is():
    payload = {"size": "small", "crust": "thin", "price": 1.0,
               "toppings": [{"name": "basil", "grams": 1.0}, {"name": "olives", "grams": "lots"}]}
    with pytest.raises(InvalidPayload, match=r"Pizza\.toppings\[1\]\.grams: expected float, got str"):
        from_payload(Pizza, payload)


def test_a_message_with_enum_fields_of_every_kind_goes_to_json_and_back_unchanged():
    pizza = Pizza(Size.LARGE, Crust.THICK, 12.5, (Topping("basil", 2.5),), "extra hot")
    wire = json.loads(json.dumps(to_payload(pizza)))
    assert from_payload(Pizza, wire) == pizza


def test_a_strict_reader_refuses_a_field_the_dataclass_does_not_have_naming_it():
    with pytest.raises(InvalidPayload, match=r"Pizza\.toppings\[0\]: unknown field\(s\) origin"):
        from_payload(Pizza, {"size": "small", "crust": "thin", "price": 1.0,
                             "toppings": [{"name": "basil", "grams": 1.0, "origin": "Genova"}]})


def test_a_tolerant_reader_ignores_the_fields_it_does_not_know_at_every_depth():
    payload = {"size": "small", "crust": "thin", "price": 1.0, "oven": "wood",
               "toppings": [{"name": "basil", "grams": 1.0, "origin": "Genova"}]}
    assert from_payload(Pizza, payload, tolerant=True) == Pizza(Size.SMALL, Crust.THIN, 1.0, (Topping("basil", 1.0),))


@pytest.mark.parametrize("payload, complaint", [
    ({"size": "small", "crust": "thin", "oven": "wood"}, r"Pizza: missing field price"),
    ({"size": "small", "crust": "thin", "price": "1", "oven": "wood"}, r"Pizza\.price: expected float, got str"),
    ({"size": "small", "crust": "thin", "price": 1, "toppings": [{"name": "basil", "grams": None, "origin": "x"}]},
     r"Pizza\.toppings\[0\]\.grams: expected float, got NoneType"),
])
def test_a_tolerant_reader_still_refuses_a_missing_field_or_a_wrong_type(payload, complaint):
    with pytest.raises(InvalidPayload, match=complaint):
        from_payload(Pizza, payload, tolerant=True)


@dataclass(frozen=True)
class Either:
    value: int | str


def test_a_field_of_two_types_is_refused_as_a_contract_error():
    with pytest.raises(ContractError):
        from_payload(Either, {"value": 1})

"""Where a message out of tries ends whatever goes wrong on the way: a retry that cannot be
scheduled and headers that cannot be stored still leave the message kept, with the reason,
and acked; a body over the limit is never tried; messages a broker cannot take yet stay in
the outbox. On PostgreSQL, text with a NUL byte (JSON's \\u0000) is kept too."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fakes import FakeDelivery, pipeline
from sqlalchemy import Engine, func, select

from pizzeria.bootstrap import NAMES, create_tables
from pizzeria.kitchen.messages import DoPizza, PizzaDone
from pizzeria.messaging import Endpoint, Envelope, FailurePolicy, Outgoing, make_engine
from pizzeria.messaging.delivery.pipeline import Pipeline
from pizzeria.messaging.store import failed, outbox
from pizzeria.messaging.store.outbox import Relay

ONCE = FailurePolicy(immediate=0, delayed=0)


def deeply_nested(depth: int = 5000) -> list:
    """A header table no JSON encoder (nor our tagging of AMQP types) can walk: it is too deep."""
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def pizza(kid: str = "p1", message_id: str | None = None, **headers) -> FakeDelivery:
    envelope = Envelope.wrap(DoPizza(kid, "margherita"), message_id=message_id or f"m-{kid}", correlation_id="visit-1")
    delivery = FakeDelivery.of(envelope)
    delivery.headers.update(headers)
    return delivery


def fails(_command, _context) -> None:
    raise RuntimeError("the oven is cold")


def bakes(command, context) -> None:
    context.send(PizzaDone(command.kitchen_order_id))


def outbox_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(outbox.outbox)).scalar_one()


def test_a_message_whose_headers_cannot_be_stored_is_kept_without_them_saying_why(engine):
    delivery = pizza(deep=deeply_nested())
    pipeline(engine, ONCE).handle(Endpoint("kitchen", {DoPizza: fails}), [delivery])
    (entry,) = failed.entries(engine)
    assert (failed.headers_of(entry), entry.body, entry.error_type) == ({}, delivery.body, "RuntimeError")
    assert "the oven is cold" in entry.traceback and "headers not kept: maximum recursion depth" in entry.traceback
    assert delivery.settled == ["ack"]


def test_a_retry_that_cannot_be_scheduled_ends_in_the_failed_store_with_both_reasons(engine):
    delivery = pizza(deep=deeply_nested())
    pipeline(engine, FailurePolicy(immediate=0, delayed=3)).handle(Endpoint("kitchen", {DoPizza: fails}), [delivery])
    (entry,) = failed.entries(engine)
    assert entry.error_type == "MessagingError"
    assert entry.error.startswith("RuntimeError: the oven is cold; and no retry could be scheduled: RecursionError")
    assert (outbox_rows(engine), delivery.settled) == (0, ["ack"])


def test_a_body_over_the_limit_is_stored_as_failed_at_once_without_being_handled(engine):
    handled = []
    delivery = pizza()
    limit = len(delivery.body) - 1
    Pipeline(engine, Relay(engine, lambda _messages: None), NAMES, FailurePolicy(immediate=5, delayed=5),
             max_body_bytes=limit).handle(Endpoint("kitchen", {DoPizza: lambda c, _: handled.append(c)}), [delivery])
    (entry,) = failed.entries(engine)
    assert (entry.error_type, entry.attempts, entry.message_id) == ("BadMessage", 1, "m-p1")
    assert f"over the limit of {limit}" in entry.error
    assert (handled, delivery.settled, outbox_rows(engine)) == ([], ["ack"], 0)


def test_a_body_at_the_limit_is_handled(engine):
    delivery = pizza()
    consumer = Pipeline(engine, Relay(engine, lambda _messages: None), NAMES, max_body_bytes=len(delivery.body))
    assert consumer.handle(Endpoint("kitchen", {DoPizza: bakes}), [delivery])
    assert failed.entries(engine) == []


def test_messages_the_broker_cannot_take_after_the_commit_stay_in_the_outbox_and_the_delivery_is_acked(engine):
    def broker_down(_messages: list[Outgoing]) -> None:
        raise ConnectionRefusedError("the broker is down")

    delivery = pizza()
    consumer = Pipeline(engine, Relay(engine, broker_down), NAMES, ONCE)
    assert consumer.handle(Endpoint("kitchen", {DoPizza: bakes}), [delivery])
    assert (delivery.settled, outbox_rows(engine), failed.entries(engine)) == (["ack"], 1, [])


# --- PostgreSQL: text cannot hold a NUL byte ----------------------------------------------------

@pytest.fixture
def pg(postgres_url) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    create_tables(engine)
    yield engine
    engine.dispose()


def test_on_postgresql_a_message_id_header_with_a_nul_byte_is_kept_with_the_nul_written_out(pg):
    headers = {"message_id": "m\x001", "type": "DoPizza"}
    delivery = FakeDelivery(b"not json", headers=headers)
    pipeline(pg, ONCE).handle(Endpoint("kitchen", {DoPizza: fails}), [delivery])
    (entry,) = failed.entries(pg)
    assert (entry.body, entry.message_id, failed.headers_of(entry)) == (b"not json", "m\\x001", headers)
    assert delivery.settled == ["ack"]


def test_on_postgresql_a_handler_error_quoting_a_nul_byte_is_stored_and_the_delivery_acked(pg):
    def quotes_its_input(command, _context):
        raise ValueError(f"no such topping {command.kitchen_order_id!s}")

    delivery = pizza("olive\x00oil", message_id="m-olive-oil")
    pipeline(pg, ONCE).handle(Endpoint("kitchen", {DoPizza: quotes_its_input}), [delivery])
    (entry,) = failed.entries(pg)
    assert entry.error_type == "ValueError" and delivery.settled == ["ack"]


def test_on_postgresql_a_content_type_with_a_nul_byte_is_stored_and_the_delivery_acked(pg):
    delivery = FakeDelivery(b"{}", "application/json\x00")
    pipeline(pg, ONCE).handle(Endpoint("kitchen", {DoPizza: fails}), [delivery])
    (entry,) = failed.entries(pg)
    assert entry.error_type == "BadMessage" and delivery.settled == ["ack"]


def test_on_postgresql_a_redelivered_message_whose_id_has_a_nul_byte_is_stored_and_acked(pg):
    body = json.loads(pizza().body)
    delivery = FakeDelivery(json.dumps({**body, "message_id": "m\x001"}).encode(), redelivered=True)
    pipeline(pg, ONCE).handle(Endpoint("kitchen", {DoPizza: bakes}), [delivery])
    (entry,) = failed.entries(pg)
    assert json.loads(entry.body)["message_id"] == "m\x001" and delivery.settled == ["ack"]

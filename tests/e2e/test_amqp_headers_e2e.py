"""AMQP headers of every field type go through retries (a delayed round is an outbox row), the
failed store and a replay, and come back as py-amqp decoded them the first time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import amqp.serialization
from kombu import Connection, Producer, Queue
from polling import wait_until

from pizzeria.messaging import make_engine
from pizzeria.messaging.store import failed as store
from pizzeria.messaging.transport.headers import from_json_safe

MESSAGE_ID = "headers-show-bill-1"
VISIT_ID = "headers-visit-1"
ENVELOPE = {"message_id": MESSAGE_ID, "type": "ShowBill", "correlation_id": VISIT_ID, "causation_id": None,
            "occurred_at": "2026-01-01T12:00:00+00:00", "payload": {"amount_cents": 1750}}
NOT_UTF8 = b"\xff\xfe\x00pizza\x80"
PLUS_TWO = timezone(timedelta(hours=2))

# What the test publishes: one header of each AMQP field type py-amqp writes, and some that
# look like the store's own tags.
SENT: dict[str, Any] = {
    "message_id": MESSAGE_ID, "type": "ShowBill", "correlation_id": VISIT_ID, "causation_id": "",
    "text": "margherita, très bien", "empty": "", "number": 42, "negative": -7, "big": 2 ** 40,
    "ratio": 0.25, "yes": True, "no": False,  # RabbitMQ closes the connection on a double inf or nan
    "timestamp": datetime(2026, 3, 14, 15, 9, 26, tzinfo=PLUS_TWO),
    "naive_timestamp": datetime(2026, 1, 2, 3, 4, 5),
    "price": Decimal("17.50"), "tiny": Decimal("-0.001"),
    "raw": NOT_UTF8, "utf8_bytes": "café".encode(),
    "nothing": None,
    "nested": {"level": 1, "when": datetime(2026, 1, 1, tzinfo=UTC), "raw": b"\xc3\x28",
               "inner": {"price": Decimal("8.5"), "tags": ["a", 1], "none": None}, "empty": {}},
    "key_not_utf8": {b"\xff\xfe": 1, "ok": Decimal("0.5")},
    "looks_tagged": {"$amqp": "decimal", "value": "1.5"},
    "looks_like_a_table_tag": {"$amqp": "table", "value": [["k", "v"]]},
    "list": [1, "two", Decimal("3.25"), datetime(2026, 5, 6, 7, 8, 9), None, b"\xff", {"k": b"\x80"},
             [True, 2.5, []], {"$amqp": "bytes", "value": "not base64!"}],
    "empty_list": [],
    "x-other-app-trace": "00-abc-01",
}

# The same headers as py-amqp decodes them: a timestamp comes naive in UTC and to the second,
# a decimal as its digits over a power of ten, bytes that are UTF-8 as text, every int as int.
DECODED: dict[str, Any] = {
    **SENT,
    "price": Decimal("17.5"),
    "timestamp": datetime(2026, 3, 14, 13, 9, 26),
    "utf8_bytes": "café",
    "nested": {"level": 1, "when": datetime(2026, 1, 1), "raw": b"\xc3\x28",
               "inner": {"price": Decimal("8.5"), "tags": ["a", 1], "none": None}, "empty": {}},
}


def typed(value: Any) -> Any:
    """`value` with the type and repr of every leaf (and key), so that True is not 1, 1.5 is not
    Decimal("1.5"), b"a" is not "a" and a naive datetime is not an aware one."""
    if isinstance(value, dict):
        return {typed(key) if not isinstance(key, str) else key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, repr(value))


def as_py_amqp_decodes(headers: dict[str, Any]) -> dict[str, Any]:
    """The headers encoded and decoded by py-amqp's own table codec."""
    (table,), _ = amqp.serialization.loads("F", amqp.serialization.dumps("F", [headers]), 0)
    return table


def publish_to_the_waiter(amqp_url: str) -> None:
    with Connection(amqp_url, transport_options={"confirm_publish": True}) as connection:
        Producer(connection.default_channel, auto_declare=False).publish(
            json.dumps(ENVELOPE).encode(), exchange="", routing_key="pizzeria.waiter", delivery_mode=2,
            content_type="application/json", content_encoding="utf-8", headers=SENT)


def messages_in(amqp_url: str, queue: str) -> int:
    with Connection(amqp_url) as connection:
        return Queue(queue)(connection.default_channel).queue_declare(passive=True).message_count


def take_one(amqp_url: str, queue: str, requeue: bool) -> tuple[dict, dict, dict]:
    """The next message of `queue` as (headers, body, delivery_info); put back if `requeue`."""
    with Connection(amqp_url) as connection:
        message = Queue(queue)(connection.default_channel).get(no_ack=False)
        assert message is not None, f"no message in {queue}"
        headers = dict(message.headers)
        headers.pop("x-delivery-count", None)  # a quorum queue's count of earlier deliveries, not the sender's
        taken = (headers, json.loads(message.body), dict(message.delivery_info))
        message.requeue() if requeue else message.ack()
    return taken


def failed_list(pizzeria) -> list[dict]:
    listed = pizzeria.run("failed", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


def consume_waiter(pizzeria, **settings: str):
    saved = dict(pizzeria.env)
    pizzeria.env.update(settings)
    try:
        waiter = pizzeria.consume("waiter")
    finally:
        pizzeria.env.clear()
        pizzeria.env.update(saved)
    wait_until(lambda: '"consuming"' in waiter.log_path.read_text() or waiter.poll() is not None,
               what="the waiter to consume")
    assert waiter.poll() is None, waiter.log_path.read_text()
    return waiter


def test_the_expected_headers_are_what_py_amqp_decodes_from_the_sent_ones():
    assert typed(as_py_amqp_decodes(SENT)) == typed(DECODED)
    assert isinstance(DECODED["raw"], bytes) and b"\xff\xfe" in DECODED["key_not_utf8"]


def test_headers_of_every_amqp_type_survive_retries_the_failed_store_and_a_replay(on_rabbitmq, amqp_url,
                                                                                  postgres_url):
    on_rabbitmq.env.update(PIZZERIA_LOG_JSON="1", PIZZERIA_RETRY_IMMEDIATE="1", PIZZERIA_RETRY_DELAYED="1",
                           PIZZERIA_RETRY_DELAY_SECONDS="0")
    failing = consume_waiter(on_rabbitmq, PIZZERIA_FAULTS="waiter.ShowBill:1000")
    publish_to_the_waiter(amqp_url)

    (entry,) = wait_until(lambda: failed_list(on_rabbitmq), timeout=30, what="the ShowBill to be stored as failed")
    assert (entry["status"], entry["queue"], entry["type"], entry["visit_id"], entry["attempts"]) == (
        "failed", "pizzeria.waiter", "ShowBill", VISIT_ID, 4), entry["error"]
    assert entry["error"].startswith("InjectedFault: ShowBill fails its first 1000 attempts")
    assert failing.poll() is None, "the waiter died"
    assert messages_in(amqp_url, "pizzeria.waiter") == 0, "the waiter left (or requeued) the message"
    assert messages_in(amqp_url, "pizzeria.process_manager") == 0

    engine = make_engine(postgres_url)
    try:
        (row,) = store.entries(engine, [entry["id"]])
    finally:
        engine.dispose()
    stored = store.headers_of(row)
    tries = {key: stored.pop(key) for key in list(stored) if key.startswith("x-pizzeria-")}
    assert typed(stored) == typed(DECODED), "the stored headers are not the ones that came"
    assert set(tries) == {"x-pizzeria-attempts", "x-pizzeria-retry-round", "x-pizzeria-first-failed-at",
                          "x-pizzeria-last-error"}
    assert (tries["x-pizzeria-attempts"], tries["x-pizzeria-retry-round"]) == (2, 1)
    assert tries["x-pizzeria-last-error"].startswith("InjectedFault: ShowBill fails")

    shown = on_rabbitmq.run("failed", "show", str(entry["id"]), "--json")
    assert shown.returncode == 0, shown.stderr
    details = json.loads(shown.stdout)
    assert (details["message_id"], details["content_type"], details["attempts"]) == (
        MESSAGE_ID, "application/json", 4)
    assert json.loads(details["body"]) == ENVELOPE
    assert details["headers"]["price"] == {"$amqp": "decimal", "value": "17.5"}
    assert typed(from_json_safe(details["headers"])) == typed(store.headers_of(row))

    assert on_rabbitmq.stop_consumers() == [0]
    replayed = on_rabbitmq.run("failed", "replay", str(entry["id"]))
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.strip() == f"replayed {entry['id']} (ShowBill) to pizzeria.waiter"
    headers, body, delivery = take_one(amqp_url, "pizzeria.waiter", requeue=True)
    assert typed(headers) == typed({**DECODED, "x-pizzeria-replayed": entry["id"]})
    assert (body, delivery["redelivered"]) == (ENVELOPE, False)
    assert [(e["id"], e["status"]) for e in failed_list(on_rabbitmq)] == [(entry["id"], "replayed")]

    waiter = consume_waiter(on_rabbitmq)  # without the fault
    wait_until(lambda: messages_in(amqp_url, "pizzeria.process_manager") == 1, timeout=30,
               what="the waiter to answer the replay with BillPaid")
    headers, paid, _ = take_one(amqp_url, "pizzeria.process_manager", requeue=False)
    assert (paid["type"], paid["correlation_id"], paid["causation_id"], paid["payload"]) == (
        "BillPaid", VISIT_ID, MESSAGE_ID, {"amount_cents": 1750})
    assert messages_in(amqp_url, "pizzeria.waiter") == 0
    (after,) = failed_list(on_rabbitmq)
    assert (after["id"], after["status"], after["attempts"]) == (entry["id"], "replayed", 4)
    assert waiter.poll() is None
    assert on_rabbitmq.stop_consumers() == [0]


def test_a_header_whose_name_is_not_utf8_is_kept_through_retries_and_the_failed_store(on_rabbitmq, amqp_url,
                                                                                    postgres_url):
    """py-amqp decodes such a name as bytes, and the store says it keeps tables with keys that
    are not text; the consumer must not choke on it either."""
    on_rabbitmq.env.update(PIZZERIA_LOG_JSON="1", PIZZERIA_RETRY_IMMEDIATE="1", PIZZERIA_RETRY_DELAYED="1",
                           PIZZERIA_RETRY_DELAY_SECONDS="0")
    waiter = consume_waiter(on_rabbitmq, PIZZERIA_FAULTS="waiter.ShowBill:1000")
    sent = {**{key: SENT[key] for key in ("message_id", "type", "correlation_id", "causation_id")},
            b"\xffname": "value"}
    with Connection(amqp_url, transport_options={"confirm_publish": True}) as connection:
        Producer(connection.default_channel, auto_declare=False).publish(
            json.dumps(ENVELOPE).encode(), exchange="", routing_key="pizzeria.waiter", delivery_mode=2,
            content_type="application/json", content_encoding="utf-8", headers=sent)

    (entry,) = wait_until(lambda: failed_list(on_rabbitmq) or waiter.poll() is not None and [None],
                          timeout=30, what="the ShowBill to be stored as failed")
    assert waiter.poll() is None, waiter.log_path.read_text()[-3000:]
    assert (entry["type"], entry["attempts"]) == ("ShowBill", 4)
    engine = make_engine(postgres_url)
    try:
        (row,) = store.entries(engine, [entry["id"]])
    finally:
        engine.dispose()
    stored = {key: value for key, value in store.headers_of(row).items()
              if not (isinstance(key, str) and key.startswith("x-pizzeria-"))}
    assert typed(stored) == typed(sent)
    assert messages_in(amqp_url, "pizzeria.waiter") == 0
    assert on_rabbitmq.stop_consumers() == [0]

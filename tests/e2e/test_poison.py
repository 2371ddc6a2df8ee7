"""Poison messages: whatever garbage reaches a queue goes to the failed store at once, with a
reason, and the consumers go on serving every visit."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from kombu import Connection, Producer, Queue
from polling import wait_until

from pizzeria.modules import names

QUEUES = names()


MAX_BODY_BYTES = 4096
# For each queue, a message type it takes, and a message type of another module that it does not.
TYPES = {
    "process_manager": ("StartTableService", "DoPizza"),
    "menu": ("GetMenu", "ShowBill"),
    "waiter": ("ShowBill", "GetMenu"),
    "kitchen": ("DoPizza", "StartTableService"),
}
GOOD_PAYLOAD = {  # of the type each queue takes
    "process_manager": {"table_id": "POISON"},
    "menu": {},
    "waiter": {"amount_cents": 1750},
    "kitchen": {"kitchen_order_id": "k-poison", "pizza": "margherita"},
}


@dataclass(frozen=True)
class Poison:
    """One bad message as it goes on the wire, and what its failed entry's error must say."""

    body: bytes
    reason: str
    content_type: str = "application/json"
    content_encoding: str = "utf-8"
    headers: dict | None = None


class Opens:
    """Unpickling this creates a file: a consumer that ever unpickled a body would leave it."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def envelope(queue: str, kind: str, type_: str, payload, **fields) -> tuple[bytes, dict]:
    """A JSON envelope body and the headers our own publisher would give it."""
    data = {"message_id": f"poison-{kind}-{queue}", "type": type_,
            "correlation_id": f"poison-visit-{kind}-{queue}", "causation_id": None,
            "occurred_at": "2026-01-01T12:00:00+00:00", "payload": payload, **fields}
    data = {key: value for key, value in data.items() if value is not ...}
    headers = {"message_id": str(data.get("message_id")), "type": str(data.get("type")),
               "correlation_id": str(data.get("correlation_id")), "causation_id": ""}
    return json.dumps(data).encode(), headers


def not_json(queue: str, _tmp: Path) -> Poison:
    return Poison(b'{"message_id": "poison", "type": ', "BadMessage: body is not JSON")


def not_an_envelope(queue: str, _tmp: Path) -> Poison:
    return Poison(json.dumps([TYPES[queue][0], GOOD_PAYLOAD[queue]]).encode(),
                  "Envelope: expected an object, got list")


def unknown_type(queue: str, _tmp: Path) -> Poison:
    body, headers = envelope(queue, "unknown-type", TYPES[queue][1], {})
    return Poison(body, f"unknown message type '{TYPES[queue][1]}'", headers=headers)


def missing_field(queue: str, _tmp: Path) -> Poison:
    if queue == "menu":  # GetMenu has no field to leave out: leave out the envelope's payload
        body, headers = envelope(queue, "missing-field", "GetMenu", ...)
        return Poison(body, "Envelope: missing field payload", headers=headers)
    payload = {"process_manager": {}, "waiter": {}, "kitchen": {"pizza": "margherita"}}[queue]
    missing = {"process_manager": "table_id", "waiter": "amount_cents", "kitchen": "kitchen_order_id"}
    body, headers = envelope(queue, "missing-field", TYPES[queue][0], payload)
    return Poison(body, f"{TYPES[queue][0]}: missing field {missing[queue]}", headers=headers)


def mistyped_field(queue: str, _tmp: Path) -> Poison:
    if queue == "menu":  # GetMenu has no field to mistype: mistype the envelope's version
        body, headers = envelope(queue, "mistyped-field", "GetMenu", {}, version="2")
        return Poison(body, "Envelope.version: expected int, got str", headers=headers)
    payload, reason = {
        "process_manager": ({"table_id": 7}, "StartTableService.table_id: expected str, got int"),
        "waiter": ({"amount_cents": "17.50"}, "ShowBill.amount_cents: expected int, got str"),
        "kitchen": ({"kitchen_order_id": "k-1", "pizza": ["margherita"]},
                    "DoPizza.pizza: expected str, got list"),
    }[queue]
    body, headers = envelope(queue, "mistyped-field", TYPES[queue][0], payload)
    return Poison(body, reason, headers=headers)


def broken_rule(queue: str, _tmp: Path) -> Poison:
    if queue == "menu":  # GetMenu has no field with a rule: break the envelope's
        body, headers = envelope(queue, "broken-rule", "GetMenu", {}, message_id="m" * 65)
        return Poison(body, "message_id must have 1 to 64 characters", headers=headers)
    type_, payload, reason = {
        "process_manager": ("StartTableService", {"table_id": "no spaces allowed"},
                            "bad table id 'no spaces allowed'"),
        "waiter": ("PlaceOrder", {"items": [{"name": "margherita", "price_cents": 800}],
                                  "wish": [{"pizza": "Quattro Formaggi", "quantity": 1}]},
                   "bad pizza name 'Quattro Formaggi'"),
        "kitchen": ("DoPizza", {"kitchen_order_id": "k-1", "pizza": "Pineapple!"},
                    "bad pizza name 'Pineapple!'"),
    }[queue]
    body, headers = envelope(queue, "broken-rule", type_, payload)
    return Poison(body, reason, headers=headers)


def too_big(queue: str, _tmp: Path) -> Poison:
    """A message that would be fine but for the spaces after it (which JSON allows)."""
    body, headers = envelope(queue, "too-big", TYPES[queue][0], GOOD_PAYLOAD[queue])
    body += b" " * (2 * MAX_BODY_BYTES)
    return Poison(body, f"body of {len(body)} bytes is over the limit of {MAX_BODY_BYTES}", headers=headers)


def pickled(queue: str, tmp: Path) -> Poison:
    return Poison(pickle.dumps(Opens(tmp / f"unpickled-by-{queue}")),
                  "content type 'application/x-python-serialize' is not application/json",
                  content_type="application/x-python-serialize", content_encoding="binary")


def in_yaml(queue: str, _tmp: Path) -> Poison:
    body, headers = envelope(queue, "yaml", TYPES[queue][0], GOOD_PAYLOAD[queue])
    return Poison(yaml.safe_dump(json.loads(body)).encode(),
                  "content type 'application/x-yaml' is not application/json",
                  content_type="application/x-yaml", headers=headers)


def not_compressed(queue: str, _tmp: Path) -> Poison:
    """A body whose compression header lies: the transport itself cannot decode it."""
    body, headers = envelope(queue, "not-compressed", TYPES[queue][0], GOOD_PAYLOAD[queue])
    return Poison(body, "while decompressing data", content_encoding="binary",
                  headers={**headers, "compression": "application/x-gzip"})


KINDS: list[Callable[[str, Path], Poison]] = [
    not_json, not_an_envelope, unknown_type, missing_field, mistyped_field, broken_rule, too_big,
    pickled, in_yaml, not_compressed]


def publish_straight_to_queues(amqp_url: str, poisons: dict[tuple[str, str], Poison]) -> None:
    with Connection(amqp_url, transport_options={"confirm_publish": True}) as connection:
        producer = Producer(connection.default_channel, auto_declare=False)
        for (queue, _kind), poison in poisons.items():
            producer.publish(poison.body, exchange="", routing_key=f"pizzeria.{queue}", delivery_mode=2,
                             content_type=poison.content_type, content_encoding=poison.content_encoding,
                             headers=poison.headers or {})


def messages_left(amqp_url: str) -> dict[str, int]:
    with Connection(amqp_url) as connection:
        channel = connection.default_channel
        return {queue: Queue(f"pizzeria.{queue}", durable=True)(channel).queue_declare(passive=True).message_count
                for queue in QUEUES}


def every_table(pizzeria) -> list[dict]:
    return json.loads(pizzeria.run("status", "--json").stdout)


def failed_list(pizzeria) -> list[dict]:
    listed = pizzeria.run("failed", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


def test_every_kind_of_poison_in_every_queue_is_stored_as_failed_once_while_every_visit_finishes(
        on_rabbitmq, amqp_url, tmp_path):
    on_rabbitmq.env.update(PIZZERIA_KITCHEN__BAKE_SECONDS="0.3", PIZZERIA_MAX_BODY_BYTES=str(MAX_BODY_BYTES),
                           PIZZERIA_RETRY_DELAY_SECONDS="0.1")
    consumers = {queue: on_rabbitmq.consume(queue) for queue in QUEUES}
    for queue, consumer in consumers.items():
        wait_until(lambda consumer=consumer: "consuming" in consumer.log_path.read_text(), what=f"{queue} to consume")
    tables = [f"TBL{n}" for n in range(1, 6)]
    serving = [on_rabbitmq.start("serve", table, "--order", "margherita:3", "--no-wait") for table in tables[:3]]
    assert [(serve.communicate(timeout=60), serve.returncode)[1] for serve in serving] == [0, 0, 0]
    wait_until(lambda: "baking" in consumers["kitchen"].log_path.read_text(), what="the kitchen to bake")

    poisons = {(queue, kind.__name__): kind(queue, tmp_path) for kind in KINDS for queue in QUEUES}
    publish_straight_to_queues(amqp_url, poisons)
    for table in tables[3:]:  # these need consumers that survived the poison
        assert on_rabbitmq.run("serve", table, "--order", "diavola:1", "--no-wait").returncode == 0

    reports = wait_until(lambda: (r := every_table(on_rabbitmq)) and len(r) == len(tables)
                         and all(report["status"] == "finished" for report in r) and r,
                         timeout=90, what="every visit to finish")
    assert [report["table_id"] for report in reports] == tables
    wait_until(lambda: len(failed_list(on_rabbitmq)) >= len(poisons), timeout=30,
               what=f"{len(poisons)} failed messages")
    assert {queue: consumer.poll() for queue, consumer in consumers.items()} == dict.fromkeys(QUEUES)
    assert on_rabbitmq.stop_consumers() == [0, 0, 0, 0]

    entries = failed_list(on_rabbitmq)
    assert len(entries) == len(poisons), [entry["error"] for entry in entries]
    for (queue, kind), poison in poisons.items():
        stored = [entry for entry in entries
                  if entry["queue"] == f"pizzeria.{queue}" and poison.reason in entry["error"]]
        assert len(stored) == 1, f"{kind} in {queue}: {stored or [e['error'] for e in entries]}"
        assert (stored[0]["status"], stored[0]["attempts"]) == ("failed", 1), (kind, queue)
    assert all(entry["visit_id"] is None or entry["visit_id"].startswith("poison-") for entry in entries)
    assert messages_left(amqp_url) == dict.fromkeys(QUEUES, 0)
    assert not list(tmp_path.glob("unpickled-by-*")), "a consumer unpickled a message body"


def test_a_poison_entry_shows_its_body_as_it_came_and_no_traceback(on_rabbitmq, amqp_url):
    on_rabbitmq.env["PIZZERIA_RETRY_DELAY_SECONDS"] = "0.1"
    waiter = on_rabbitmq.consume("waiter")
    wait_until(lambda: "consuming" in waiter.log_path.read_text(), what="the waiter to consume")
    body = b'{"message_id": "poison", "type": \xff'
    publish_straight_to_queues(amqp_url, {("waiter", "not_json"): Poison(body, "", content_encoding="binary")})
    (entry,) = wait_until(lambda: failed_list(on_rabbitmq), what="the poison to be stored")
    shown = json.loads(on_rabbitmq.run("failed", "show", str(entry["id"]), "--json").stdout)
    assert shown["body"] == body.decode("utf-8", "backslashreplace")
    assert (shown["queue"], shown["attempts"], shown["traceback"]) == ("pizzeria.waiter", 1, None)
    assert shown["error"].startswith("BadMessage: body is not JSON")
    assert waiter.poll() is None
    assert on_rabbitmq.stop_consumers() == [0]


def test_an_undecodable_message_routed_through_the_exchange_is_stored_under_its_queue(on_rabbitmq, amqp_url):
    """The transport's own decode error (a lying compression header) names the routing key;
    the entry must name the queue, which is where `failed replay` sends it."""
    waiter = on_rabbitmq.consume("waiter")
    wait_until(lambda: "consuming" in waiter.log_path.read_text(), what="the waiter to consume")
    poison = not_compressed("waiter", Path())
    with Connection(amqp_url, transport_options={"confirm_publish": True}) as connection:
        Producer(connection.default_channel, auto_declare=False).publish(
            poison.body, exchange="pizzeria", routing_key="waiter.command.ShowBill", delivery_mode=2,
            content_type=poison.content_type, content_encoding=poison.content_encoding,
            headers=poison.headers)
    (entry,) = wait_until(lambda: failed_list(on_rabbitmq), what="the poison to be stored")
    assert (entry["attempts"], poison.reason in entry["error"]) == (1, True)
    assert entry["queue"] == "pizzeria.waiter"
    replayed = on_rabbitmq.run("failed", "replay", str(entry["id"]))
    assert replayed.stdout.strip() == f"replayed {entry['id']} (ShowBill) to pizzeria.waiter"
    (again,) = wait_until(lambda: (e := failed_list(on_rabbitmq)) and e[0]["attempts"] == 2 and e,
                          what="the replayed poison to fail again in the waiter")
    assert again["id"] == entry["id"]
    assert on_rabbitmq.stop_consumers() == [0]


def test_with_the_default_limit_a_body_of_one_mib_is_handled_and_one_byte_more_is_stored_as_failed(
        on_rabbitmq, amqp_url):
    on_rabbitmq.env["PIZZERIA_LOG_JSON"] = "1"
    waiter = on_rabbitmq.consume("waiter")  # no process manager: the BillPaid waits in its queue
    wait_until(lambda: "consuming" in waiter.log_path.read_text(), what="the waiter to consume")
    limit = 1024 * 1024
    poisons = {}
    for size in (limit, limit + 1):
        body, headers = envelope("waiter", f"size-{size}", "ShowBill", {"amount_cents": 1750})
        poisons[("waiter", str(size))] = Poison(body + b" " * (size - len(body)), "", headers=headers)
    publish_straight_to_queues(amqp_url, poisons)
    (entry,) = wait_until(lambda: failed_list(on_rabbitmq), what="the big message to be stored")
    assert (entry["visit_id"], entry["attempts"]) == (f"poison-visit-size-{limit + 1}-waiter", 1)
    assert entry["error"] == f"BadMessage: body of {limit + 1} bytes is over the limit of {limit}"
    handled = wait_until(lambda: [line for line in waiter.log_path.read_text().splitlines()
                                  if '"handled"' in line], what="the waiter to handle the other")
    assert [json.loads(line)["message_id"] for line in handled] == [f"poison-size-{limit}-waiter"]
    assert on_rabbitmq.stop_consumers() == [0]


def test_a_body_limit_below_1024_bytes_is_refused_with_exit_2(embedded):
    embedded.env["PIZZERIA_MAX_BODY_BYTES"] = "1000"
    result = embedded.run("consume", "waiter")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: PIZZERIA_MAX_BODY_BYTES='1000' must be between 1024 and ")

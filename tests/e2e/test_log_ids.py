"""Every JSON line a consumer logs while it has a message in hand names that message: its
`correlation_id`, `message_id` and `type`, whether the message came alone or in a batch."""

from __future__ import annotations

import json
from collections import Counter

from kombu import Connection, Producer, Queue
from polling import wait_until

from pizzeria.messaging import Envelope, derived_id, new_id
from pizzeria.modules import names
from pizzeria.process_manager.messages import OrderLine, StartTableService

QUEUES = names()
IDS = ("correlation_id", "message_id", "type")
# What a consumer logs about itself, not about a message: starting, stopping, waiting for the
# servers, and relaying outbox rows (which belong to no message in hand).
LIFECYCLE = {"consuming", "stopping", "stopped", "waiting for the database and the broker",
             "outbox relay failed, will retry", "publishing failed, the outbox keeps the messages"}
# The lines of one visit of one pizza that name a message: the saga handles 8 messages, the
# menu 1, the waiter 5, the kitchen 1 and says it bakes it; it fires the oven once a batch.
LINES_PER_VISIT = 8 + 1 + 5 + 2


def publish_visits(amqp_url: str, tables: list[str]) -> list[str]:
    """Send StartTableService for each table as `pizzeria serve` does; return the visit ids."""
    visit_ids = []
    with Connection(amqp_url, transport_options={"confirm_publish": True}) as connection:
        producer = Producer(connection.default_channel, auto_declare=False)
        for table in tables:
            visit_id = new_id()
            envelope = Envelope.wrap(StartTableService(table, (OrderLine("margherita", 1),)),
                                     message_id=derived_id(visit_id, "StartTableService"), correlation_id=visit_id)
            producer.publish(envelope.encode(), exchange="pizzeria", routing_key=StartTableService.route,
                             delivery_mode=2, content_type="application/json", content_encoding="utf-8",
                             headers=envelope.headers())
            visit_ids.append(visit_id)
    return visit_ids


def messages_in(amqp_url: str, queue: str) -> int:
    with Connection(amqp_url) as connection:
        return Queue(f"pizzeria.{queue}")(connection.default_channel).queue_declare(passive=True).message_count


def every_table(pizzeria) -> list[dict]:
    shown = pizzeria.run("status", "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def all_finished(pizzeria, count: int) -> list[dict] | None:
    reports = every_table(pizzeria)
    done = len(reports) == count and all(report["status"] != "in_progress" for report in reports)
    return reports if done else None


def start(pizzeria, queue: str):
    consumer = pizzeria.consume(queue)
    wait_until(lambda: '"consuming"' in consumer.log_path.read_text() or consumer.poll() is not None,
               what=f"{queue} to consume")
    assert consumer.poll() is None, consumer.log_path.read_text()
    return consumer


def logged(consumer) -> list[dict]:
    """Every line of the consumer's log, each as a dict; a line that is not JSON fails."""
    lines = []
    for number, line in enumerate(consumer.log_path.read_text().splitlines(), 1):
        try:
            lines.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"{consumer.log_path.name}:{number} is not JSON: {line!r}") from None
    return lines


def messages_of(reports: list[dict]) -> set[tuple[str, str, str]]:
    """(correlation_id, message_id, type) of every message the saga received or sent."""
    return {(report["visit_id"], entry["message_id"], entry["type"]) for report in reports
            for entry in report["history"]}


def lines_about_messages(consumers: dict, reports: list[dict]) -> dict[str, list[dict]]:
    """Each consumer's lines less its lifecycle ones, after checking that each names, by its
    three ids, a message of one of the visits."""
    known = messages_of(reports)
    about = {}
    for queue, consumer in consumers.items():
        lines = logged(consumer)
        assert [line["event"] for line in lines if line["event"] in ("consuming", "stopped")] == [
            "consuming", "stopped"], queue
        about[queue] = [line for line in lines if line["event"] not in LIFECYCLE]
        unnamed = [line for line in about[queue] if not all(isinstance(line.get(key), str) and line[key]
                                                            for key in IDS)]
        assert unnamed == [], f"{queue} logged lines without the ids of their message: {unnamed[:5]}"
        unknown = [line for line in about[queue] if tuple(line[key] for key in IDS) not in known]
        assert unknown == [], f"{queue} logged lines naming no message of any visit: {unknown[:5]}"
    return about


def serve_and_log(pizzeria, amqp_url: str, tables: list[str]) -> tuple[list[dict], dict[str, list[dict]]]:
    """Queue the visits before the process manager starts, so that it takes them as one batch;
    hold each worker back until the saga's commands for it are all queued, so that it too takes
    them in batches. Return the visits once ended, and every consumer's lines about messages."""
    pizzeria.env.update(PIZZERIA_LOG_JSON="1", PIZZERIA_KITCHEN__BAKE_SECONDS="0.05",
                        PIZZERIA_PROCESS_MANAGER__ARRIVALS_PREFETCH="20")  # the starts as one batch
    assert pizzeria.run("init").returncode == 0
    publish_visits(amqp_url, tables)
    wait_until(lambda: messages_in(amqp_url, "process_manager.arrivals") == len(tables), what="the visits to be queued")
    consumers = {"process_manager": start(pizzeria, "process_manager")}
    wait_until(lambda: messages_in(amqp_url, "menu") == len(tables), what="every GetMenu to be queued")
    consumers.update(menu=start(pizzeria, "menu"), waiter=start(pizzeria, "waiter"))
    wait_until(lambda: messages_in(amqp_url, "kitchen") == len(tables), timeout=60,
               what="every DoPizza to be queued")
    consumers["kitchen"] = start(pizzeria, "kitchen")
    reports = wait_until(lambda: all_finished(pizzeria, len(tables)), timeout=120, what="every visit to end")
    assert [(report["table_id"], report["status"]) for report in reports] == [
        (table, "finished") for table in sorted(tables)]
    assert all(consumer.poll() is None for consumer in consumers.values())
    assert pizzeria.stop_consumers() == [0] * len(QUEUES)
    return reports, lines_about_messages(consumers, reports)


def test_every_line_logged_about_a_batch_of_twenty_visits_names_its_message(on_rabbitmq, amqp_url):
    tables = [f"TBL{n:02}" for n in range(1, 21)]
    reports, about = serve_and_log(on_rabbitmq, amqp_url, tables)

    assert sum(map(len, about.values())) >= len(tables) * LINES_PER_VISIT > 100
    events = {queue: Counter(line["event"] for line in lines) for queue, lines in about.items()}
    assert events["kitchen"]["baking"] == len(tables)
    assert {queue: counted["handled"] for queue, counted in events.items()} == {
        "process_manager": 8 * len(tables), "menu": len(tables), "waiter": 5 * len(tables), "kitchen": len(tables)}

    fired = [line for line in about["kitchen"] if line["event"] == "oven fired"]
    assert sum(line["pizzas"] for line in fired) == len(tables)
    assert max(line["pizzas"] for line in fired) > 1, "the kitchen never baked a batch"
    assert all(line["type"] == "DoPizza" for line in fired)

    # The process manager found the 20 visits queued when it started (it takes 20 arrivals at once): it
    # handled them before anything else, each line naming its own visit.
    first = [(line["event"], line["type"]) for line in about["process_manager"][:len(tables)]]
    assert first == [("handled", "StartTableService")] * len(tables), "the 20 visits did not start together"
    started = {line["correlation_id"] for line in about["process_manager"][:len(tables)]}
    assert started == {report["visit_id"] for report in reports}


def test_every_line_logged_about_a_visit_alone_names_its_message(on_rabbitmq, amqp_url):
    (report,), about = serve_and_log(on_rabbitmq, amqp_url, ["TBL1"])

    assert sum(map(len, about.values())) == LINES_PER_VISIT + 1
    assert {line["correlation_id"] for lines in about.values() for line in lines} == {report["visit_id"]}
    kitchen = [(line["event"], line["type"], line.get("pizzas")) for line in about["kitchen"]]
    assert kitchen == [("baking", "DoPizza", None), ("oven fired", "DoPizza", 1), ("handled", "DoPizza", None)]
    assert [line["type"] for line in about["waiter"] if line["event"] == "handled"] == [
        "ShowMenu", "PlaceOrder", "ServePizzas", "ShowBill", "ThankClient"]


def test_a_message_that_cannot_be_opened_is_logged_with_the_ids_its_headers_claim(on_rabbitmq, amqp_url):
    """A body that is not JSON, and one whose compression header lies (kombu itself cannot
    decode it): each goes to the failed store, and the line saying so names the message by
    the ids in its headers."""
    on_rabbitmq.env["PIZZERIA_LOG_JSON"] = "1"
    waiter = start(on_rabbitmq, "waiter")
    claims = {kind: {"message_id": f"m-{kind}", "type": "ShowBill", "correlation_id": f"v-{kind}",
                     "causation_id": ""} for kind in ("not-json", "not-compressed")}
    with Connection(amqp_url, transport_options={"confirm_publish": True}) as connection:
        producer = Producer(connection.default_channel, auto_declare=False)
        producer.publish(b'{"message_id": ', exchange="", routing_key="pizzeria.waiter", delivery_mode=2,
                         content_type="application/json", content_encoding="utf-8", headers=claims["not-json"])
        producer.publish(b'{"message_id": "m"}', exchange="", routing_key="pizzeria.waiter", delivery_mode=2,
                         content_type="application/json", content_encoding="binary",
                         headers={**claims["not-compressed"], "compression": "application/x-gzip"})
    stored = wait_until(lambda: len(s := [line for line in logged(waiter)
                                          if line["event"] == "message stored as failed"]) == 2 and s,
                        what="both messages to be stored as failed")
    assert on_rabbitmq.stop_consumers() == [0]
    assert {tuple(line.get(key) for key in IDS) for line in stored} == {
        tuple(claim[key] for key in IDS) for claim in claims.values()}

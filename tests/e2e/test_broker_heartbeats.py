"""Heartbeats with RabbitMQ are on, and a bake longer than two heartbeat intervals does not trip
them: the kitchen's connection stays open while it bakes, so its ack lands and nothing comes
twice. A queue declared otherwise than the settings say is one line on `pizzeria init`."""

from __future__ import annotations

import json
import re

from polling import wait_until
from sqlalchemy import create_engine, select

from pizzeria.messaging.store import inbox


def handlings(postgres_url: str, consumer: str) -> list[tuple[str, int | None]]:
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            query = select(inbox.inbox.c.message_id, inbox.inbox.c.duplicates).where(inbox.inbox.c.consumer == consumer)
            return [(message_id, copies) for message_id, copies in conn.execute(query)]
    finally:
        engine.dispose()


def test_a_bake_of_four_heartbeat_intervals_keeps_the_kitchens_connection(on_rabbitmq, postgres_url):
    on_rabbitmq.env["PIZZERIA_BROKER_HEARTBEAT"] = "2"
    on_rabbitmq.baking(8)
    wait_until(lambda: json.loads(on_rabbitmq.run("status", "TBL1", "--json").stdout)["status"] == "finished",
               timeout=60, interval=0.5, what="the visit to finish")
    (do_pizza, copies), = handlings(postgres_url, "kitchen")
    assert not copies, "the kitchen's DoPizza came again: its connection was closed while it baked"


def test_init_on_queues_of_the_other_type_says_how_to_migrate_in_one_line(on_rabbitmq):
    on_rabbitmq.env["PIZZERIA_QUEUE_TYPE"] = "classic"
    assert on_rabbitmq.run("init").returncode == 0
    on_rabbitmq.env["PIZZERIA_QUEUE_TYPE"] = "quorum"
    result = on_rabbitmq.run("init")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert re.match(r"error: the broker has the queues declared otherwise \(inequivalent arg '.+' for queue "
                    r"'pizzeria\.\w+'.*\); PIZZERIA_QUEUE_TYPE=quorum: set it to what the queues are, or migrate", line)

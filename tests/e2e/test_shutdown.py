"""Stopping consumers: SIGTERM finishes the message in hand, or stops a start-up at once."""

from __future__ import annotations

import json
import signal

from polling import wait_until


def test_sigterm_mid_bake_finishes_the_pizza_acks_it_and_exits_0(on_rabbitmq):
    kitchen = on_rabbitmq.baking(bake_seconds=2)
    kitchen.send_signal(signal.SIGTERM)
    assert kitchen.wait(timeout=30) == 0
    log = kitchen.log_path.read_text()
    assert log.index("stopping") < log.index("handled") < log.index("stopped")
    report = wait_until(lambda: (r := json.loads(on_rabbitmq.run("status", "TBL1", "--json").stdout))
                        ["status"] == "finished" and r, what="the visit to finish without a kitchen")
    assert [pizza["status"] for pizza in report["pizzas"]] == ["done"]


def test_sigterm_while_waiting_for_an_unreachable_broker_exits_0_at_once(embedded):
    embedded.env["PIZZERIA_BROKER_URL"] = "amqp://guest:guest@127.0.0.1:1//"
    consumer = embedded.consume("menu")
    wait_until(lambda: "waiting for the database and the broker" in consumer.log_path.read_text(),
               what="the consumer to wait for the broker")
    consumer.send_signal(signal.SIGTERM)
    assert consumer.wait(timeout=10) == 0

"""Traces end to end: four consumer processes export over real OTLP/HTTP to a receiver the test
starts; a visit of three pizzas is one trace, with `process` spans from the four services, and
a message that failed once shows its failed attempt. The visit's story, from the database alone,
names the same consumer processes, and its JSON and Mermaid forms hold what the history holds."""

from __future__ import annotations

import json

import pytest
from polling import wait_until

from pizzeria.devtools.otlp import Receiver
from pizzeria.modules import names


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def test_a_visit_is_one_trace_with_the_process_spans_of_every_service(on_rabbitmq, receiver):
    on_rabbitmq.env.update(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY="100",
                           PIZZERIA_FAULTS="waiter.ShowBill:1")
    pids = {queue: on_rabbitmq.consume(queue).pid for queue in names()}
    result = on_rabbitmq.run("serve", "TBL1", "--order", "margherita:3", "--timeout", "60")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(on_rabbitmq.run("status", "TBL1", "--json").stdout)
    assert on_rabbitmq.stop_consumers() == [0] * 4  # each exports what it has left as it stops
    trace = wait_until(lambda: [span for span in receiver.spans if span.trace_id == report["trace_id"]],
                       what="the visit's spans")
    process = [span for span in trace if span.name.startswith("process ")]
    assert {span.service for span in process} == {f"pizzeria-{queue}" for queue in names()}
    # The history has every message the process manager received and every command it sent,
    # which a worker handled: each of them was processed once, without an error.
    handled = sorted(span.attributes["messaging.message.id"] for span in process if not span.error)
    assert handled == sorted(entry["message_id"] for entry in report["history"])
    bills = [span for span in process if span.service == "pizzeria-waiter" and span.attributes.get(
        "messaging.rabbitmq.destination.routing_key") == "waiter.command.ShowBill"]
    assert [span.error for span in bills] == [True, False]  # the failed attempt, then the one that worked
    assert all(span.trace_id == report["trace_id"] for span in receiver.spans
               if span.attributes.get("messaging.message.conversation_id") == report["visit_id"])

    check_the_story(on_rabbitmq, report, pids)


def check_the_story(servers, report, pids) -> None:
    """Each message of the history is a step, handled by the consumer process of its queue;
    the bill shows its failed attempt; the diagram has the same messages in the same order."""
    story = json.loads(servers.run("story", "TBL1", "--json").stdout)
    steps = story["steps"]
    assert sorted(step["message_id"] for step in steps) == sorted(entry["message_id"] for entry in report["history"])
    for step in steps:
        assert step["handled"]["process"].endswith(f":{pids[step['to']]}")
        assert step["handled"]["duration_ms"] >= 0
    (bill,) = [step for step in steps if step["type"] == "ShowBill"]
    assert bill["handled"]["attempt"] == 2 and bill["handled"]["last_error"].startswith("InjectedFault")
    diagram = servers.run("story", "TBL1", "--mermaid").stdout.splitlines()
    arrows = [line.strip() for line in diagram if "->>" in line]
    assert [arrow.split(": ")[1].split(" ")[0] for arrow in arrows] == [step["type"] for step in steps]
    assert [arrow.split(": ")[0].replace("-->>", "->>").split("->>") for arrow in arrows] == [
        [step["from"], step["to"]] for step in steps]

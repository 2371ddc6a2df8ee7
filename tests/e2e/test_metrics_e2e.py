"""Real consumer processes on RabbitMQ and PostgreSQL, each serving its metrics: with a handler
that fails its first try and a kitchen killed with -9, what every process counts is what the
inbox says it handled, and its probes say which process is there."""

from __future__ import annotations

import os
import signal
import socket

import httpx
import pytest
from polling import wait_until
from processes import free_port
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, func, select

from pizzeria.messaging.store.tables import inbox
from pizzeria.process_manager.repository import visits

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]
VISITS = 4


def scrape(port: int) -> dict[str, float]:
    """The sums of the samples /metrics shows, by name."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text):
        for sample in family.samples:
            found[sample.name] = found.get(sample.name, 0.0) + sample.value
    return found


def probe(port: int, path: str) -> int | None:
    """The status of the probe, None if nothing listens."""
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5).status_code
    except httpx.TransportError:
        return None


def test_each_process_counts_what_the_inbox_says_it_handled_through_a_failure_and_a_kill(on_rabbitmq):
    on_rabbitmq.env["PIZZERIA_FAULTS"] = "kitchen.DoPizza:1"  # every pizza fails its first try
    ports = {}
    for name, queue in (("pm", "process_manager"), ("menu", "menu"), ("waiter", "waiter"),
                        ("doomed", "kitchen"), ("kitchen", "kitchen")):
        ports[name] = free_port()
        ports[name, "process"] = on_rabbitmq.consume(queue, "--metrics-port", str(ports[name]))
    for name in ("pm", "menu", "waiter", "doomed", "kitchen"):
        wait_until(lambda name=name: probe(ports[name], "/readyz") == 200, what=f"{name} ready")
    doomed = ports["doomed", "process"]
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()
    assert probe(ports["doomed"], "/livez") is None
    for number in range(1, VISITS + 1):
        assert on_rabbitmq.run("serve", f"TBL{number}", "--order", "margherita:2", "--no-wait").returncode == 0
    engine = create_engine(on_rabbitmq.env["PIZZERIA_DATABASE_URL"])
    finished = select(func.count()).where(visits.c.status == "finished")
    wait_until(lambda: _scalar(engine, finished) == VISITS, timeout=60, what="every visit finished")
    for name in ("pm", "menu", "waiter", "kitchen"):
        process = f"{socket.gethostname()}:{ports[name, 'process'].pid}"
        handled = _scalar(engine, select(func.count()).where(inbox.c.process == process))
        retried = _scalar(engine, select(func.count()).where(inbox.c.process == process,
                                                             inbox.c.last_error.is_not(None)))
        found = wait_until(lambda port=ports[name], handled=handled: counted(scrape(port), handled),
                           what=f"{name}'s count")
        assert found["pizzeria_processing_seconds_count"] == found["pizzeria_critical_seconds_count"] == handled
        assert found.get("pizzeria_messages_retried_now_total", 0) == retried
        assert (probe(ports[name], "/livez"), probe(ports[name], "/readyz")) == (200, 200)
    assert retried == 2 * VISITS  # the kitchen left: every pizza retried once there
    engine.dispose()


def counted(found: dict[str, float], handled: int) -> dict[str, float] | None:
    """The samples once they count `handled` messages handled (a scrape may come before the last commit)."""
    return found if found.get("pizzeria_messages_handled_total") == handled else None


def _scalar(engine, query) -> int:
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())

"""`pizzeria web`'s /metrics on the in-process bus (memory://, a SQLite file): the house-wide
figures say what the database and the broker hold: visits by stage and how long they took, stuck
visits, inbox rows, failed entries, queue lengths; a broker out of reach is a figure, not an error."""

from __future__ import annotations

import dataclasses
import time

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from test_bus import app_in, bus_of

from pizzeria.messaging import Broker, admin, send
from pizzeria.process_manager import views
from pizzeria.process_manager.messages import OrderLine, StartTableService
from pizzeria.process_manager.repository import visits
from pizzeria.web.app import create_app


@pytest.fixture
def app(tmp_path):
    app = app_in(tmp_path, modules={"process_manager": {"step_deadline_seconds": 3600}})
    yield app
    app.engine.dispose()


def scrape(app) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = TestClient(create_app(app)).get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(answer.text) for sample in family.samples}


def visit(bus, visit_id: str, pizza: str = "margherita") -> None:
    bus.send(StartTableService(visit_id, order=(OrderLine(pizza, 1),)), correlation_id=visit_id)


def seated(app, *visit_ids: str):
    """Until these visits are in progress (before their deadlines would move the bus's clock on)."""
    return lambda: all((views.visit(app.engine, each) or {}).get("status") == "in_progress" for each in visit_ids)


def test_the_figures_are_what_the_database_holds(app):
    with bus_of(app) as bus:
        for number in range(3):
            visit(bus, f"visit-{number}")
        visit(bus, "visit-rejected", pizza="hawaii")  # not on the menu
        bus.run()
    with bus_of(app, "process_manager") as bus:  # nobody answers: it waits at the menu
        visit(bus, "visit-waiting")
        bus.run(until=seated(app, "visit-waiting"))
    found = scrape(app)
    assert found[("pizzeria_visits", (("stage", "finished"),))] == 3
    assert found[("pizzeria_visits", (("stage", "rejected"),))] == 1
    assert found[("pizzeria_visits", (("stage", "awaiting_menu"),))] == 1
    assert found[("pizzeria_visit_duration_seconds_count", ())] == 4
    assert found[("pizzeria_visit_duration_seconds_bucket", (("le", "+Inf"),))] == 4
    for endpoint, rows in admin.handled_counts(app.engine).items():
        assert found[("pizzeria_inbox_rows", (("endpoint", endpoint),))] == rows
    assert found[("pizzeria_up", (("part", "broker"),))] == found[("pizzeria_up", (("part", "database"),))] == 1
    assert found[("pizzeria_queue_messages", (("endpoint", "menu"),))] == 1  # the waiting visit's GetMenu


def test_stuck_visits_failed_entries_and_waiting_messages_are_counted(tmp_path):
    app = app_in(tmp_path, modules={"process_manager": {"step_deadline_seconds": 3600}}, faults={"menu.GetMenu": 1000})
    with bus_of(app, "process_manager", "menu") as bus:  # the menu fails every time: to the failed store
        visit(bus, "visit-1")
        visit(bus, "visit-2")
        bus.run(until=lambda: len(admin.failed_entries(app.engine)) == 2)
    with app.engine.begin() as conn:  # visit-1 has waited two hours: past its step's deadline
        conn.execute(update(visits).where(visits.c.visit_id == "visit-1").values(updated_at=visits.c.updated_at - 7200))
    publisher = app.publisher()
    send(publisher, StartTableService("T9", order=(OrderLine("margherita", 1),)), "visit-9")  # nobody consumes it
    publisher.close()
    found = scrape(app)
    assert [report["visit_id"] for report in views.stuck(app.engine, time.time(), 3600)] == ["visit-1"]
    assert found[("pizzeria_visits_stuck", ())] == 1
    waiting = admin.queue_depths(app.broker)["process_manager.arrivals"]["messages"]
    assert found[("pizzeria_queue_messages", (("endpoint", "process_manager.arrivals"),))] == waiting >= 1  # visit-9
    assert found[("pizzeria_failed_entries", (("endpoint", "menu"),))] == len(admin.failed_entries(app.engine)) == 2
    app.engine.dispose()


def test_a_broker_out_of_reach_reads_as_down_and_the_rest_is_still_served(app):
    away = dataclasses.replace(app, broker=Broker("amqp://guest:guest@127.0.0.1:1//", app.broker.topology))
    found = scrape(away)
    assert found[("pizzeria_up", (("part", "broker"),))] == 0
    assert found[("pizzeria_up", (("part", "database"),))] == 1
    assert not any(name == "pizzeria_queue_messages" for name, _ in found)

"""The house's charts over HTTP, on the in-process bus: after visits ran, the home page and its
fragment draw what the database holds (messages handled, processing times, visits by stage,
queues), and the endpoints page each endpoint's rate, processing time and circuit breaker."""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from test_bus import app_in, bus_of

from pizzeria.messaging.store import breakers, heartbeats
from pizzeria.messaging.store.tables import inbox
from pizzeria.process_manager import figures
from pizzeria.web.app import create_app

PIZZA = {"table_id": "T1", "order": [{"pizza": "margherita", "quantity": 1}]}


@pytest.fixture
def served(tmp_path):
    """The web app after one visit ran to its end on the bus."""
    app = app_in(tmp_path, modules={"process_manager": {"step_deadline_seconds": 3600}})
    client = TestClient(create_app(app))
    with bus_of(app) as bus:
        client.post("/api/visits", json=PIZZA)
        bus.run()
    yield client, app
    app.engine.dispose()


def attribute(html: str, element_id: str, name: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*\b{name}="([^"]*)"', html)
    assert found, f"no {name} on #{element_id}"
    return found.group(1)


def test_the_fragment_draws_every_message_the_inbox_holds_and_the_visits_by_stage(served):
    client, app = served
    answer = client.get("/house")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    with app.engine.connect() as conn:
        handled = conn.execute(select(func.count()).select_from(inbox)).scalar_one()
    assert handled > 0
    assert attribute(answer.text, "chart-handled", "data-total") == str(handled)
    assert attribute(answer.text, "chart-failed", "data-total") == "0"
    assert figures.by_stage(app.engine) == {"finished": 1}
    assert re.search(r'data-name="finished" data-value="1"', answer.text)


def test_the_fragment_draws_the_percentiles_of_each_endpoint_that_handled_a_message(served):
    client, _app = served
    html = client.get("/house").text
    rows = re.findall(r'<g class="range" data-name="(\w+)" data-p50="([\d.]+)" data-p95="([\d.]+)" data-p99="([\d.]+)"',
                      html)
    assert {name for name, *_ in rows} == {"process_manager", "menu", "waiter", "kitchen"}
    assert all(float(p50) <= float(p95) <= float(p99) for _, p50, p95, p99 in rows)


def test_the_home_page_includes_the_charts_and_fetches_them_again(served):
    client, _app = served
    html = client.get("/").text
    assert 'hx-get="/house" hx-trigger="every 2s"' in html
    for chart in ("chart-handled", "chart-failed", "chart-times", "chart-queues", "chart-stages"):
        assert f'id="{chart}"' in html


def test_the_endpoints_page_shows_each_endpoints_rate_and_processing_time(served):
    client, app = served
    html = client.get("/endpoints").text
    with app.engine.connect() as conn:
        kitchen = conn.execute(select(func.count()).where(inbox.c.consumer == "kitchen")).scalar_one()
    assert re.search(rf'data-name="kitchen" data-value="{kitchen / 60:g}"', html)
    row = re.search(r'id="endpoint-kitchen".*?</tr>', html, re.S)
    assert row and f'{kitchen / 60:.3g}/s' in row.group(0) and " ms</td>" in row.group(0)
    assert 'id="chart-latencies"' in html


def test_an_open_breaker_shows_on_the_endpoints_page_in_its_history_and_in_the_house_metrics(served):
    client, app = served
    now = time.time()
    heartbeats.beat(app.engine, "oven-host:7", ["pizzeria.kitchen"], now - 30, 12, now)
    breakers.record(app.engine, "oven-host:7", "pizzeria.kitchen", "open", now - 5, 10, 9, "ConnectionError: no oven")
    breakers.record(app.engine, "gone-host:8", "pizzeria.menu", "open", now - 5, 10, 9, "of a process never seen")
    html = client.get("/endpoints").text
    assert re.search(r'id="endpoint-kitchen".*?class="breaker" data-state="open">.*?open.*?\(1 of 1\)', html, re.S)
    assert re.search(r'id="endpoint-menu".*?class="breaker" data-state="closed">closed', html, re.S)
    changes = re.findall(r'<tr class="breaker-change" data-state="(\w+)">.*?<td>([\w.]+)</td>', html, re.S)
    assert changes == [("open", "pizzeria.menu"), ("open", "pizzeria.kitchen")]
    metrics = client.get("/metrics").text
    assert 'pizzeria_breakers_holding{endpoint="kitchen"} 1.0' in metrics
    assert 'pizzeria_breakers_holding{endpoint="menu"} 0.0' in metrics

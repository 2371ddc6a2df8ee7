"""The house at a glance in a real browser: the home page's charts render, grow while visits run
without the page reloading, and show what the database holds; a failure shows in its chart; the
endpoints page draws each endpoint's rate and processing time, and shows a breaker holding a queue."""

from __future__ import annotations

import httpx
import pytest
from browsing import BROKEN_KITCHEN, wait_for_status
from playwright.sync_api import expect
from polling import wait_until
from sqlalchemy import func, select

from pizzeria.bootstrap import bootstrap
from pizzeria.config import Settings
from pizzeria.messaging.store.tables import inbox
from pizzeria.process_manager import figures

ENDPOINTS = {"process_manager", "menu", "waiter", "kitchen"}
CHARTS = ("#chart-handled", "#chart-failed", "#chart-times", "#chart-queues", "#chart-stages")


@pytest.fixture
def database(tmp_path):
    """The engine of the house's database, to check what the charts show."""
    app = bootstrap(Settings.from_env({"PIZZERIA_VAR_DIR": str(tmp_path / "var")}))
    yield app.engine
    app.engine.dispose()


def serve(base: str, *tables: str) -> list[str]:
    """Start a visit of one margherita at each table over the API; their ids."""
    return [httpx.post(f"{base}/api/visits", json={"table_id": table, "order": [{"pizza": "margherita", "quantity": 1}]})
            .json()["visit_id"] for table in tables]


def number(page, selector: str, attribute: str = "data-total") -> float:
    return float(page.get_attribute(selector, attribute) or "nan")


def handled_in_inbox(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(inbox)).scalar_one())


def test_the_charts_grow_while_visits_run_and_show_what_the_database_holds(house, page, database):
    page.goto(house.base)
    for chart in CHARTS:
        expect(page.locator(chart)).to_be_visible()
    page.evaluate("window.notReloaded = true")
    before = number(page, "#chart-handled")
    serve(house.base, "TBL1", "TBL2", "TBL3")
    page.wait_for_function(f"document.querySelector('#chart-handled').getAttribute('data-total') > {before}",
                           timeout=15_000)
    expect(page.locator("#chart-stages rect[data-name=finished]")).to_have_attribute("data-value", "3", timeout=30_000)
    wait_until(lambda: number(page, "#chart-handled") == handled_in_inbox(database), timeout=15,
               what="the chart to count every message the inbox holds")
    assert page.evaluate("window.notReloaded") is True
    stages = {bar.get_attribute("data-name"): float(bar.get_attribute("data-value") or "nan")
              for bar in page.locator("#chart-stages rect.bar").all()}
    assert stages == figures.by_stage(database)
    assert {row.get_attribute("data-name") for row in page.locator("#chart-times g.range").all()} == ENDPOINTS
    assert {bar.get_attribute("data-name") for bar in page.locator("#chart-queues rect.bar").all()} == {
        *ENDPOINTS, "process_manager.arrivals"}
    assert number(page, "#chart-failed") == 0


@pytest.mark.settings(**BROKEN_KITCHEN)
def test_a_message_that_fails_for_good_shows_in_the_failures_chart(house, page):
    page.goto(house.base)
    expect(page.locator("#chart-failed")).to_have_attribute("data-total", "0")
    serve(house.base, "TBL4")
    expect(page.locator("#chart-failed")).to_have_attribute("data-total", "1", timeout=30_000)
    assert len(httpx.get(f"{house.base}/api/failed").json()) == 1


def test_the_endpoints_page_draws_each_endpoints_rate_and_processing_time(house, page, database):
    (visit_id,) = serve(house.base, "TBL5")
    wait_for_status(house.base, visit_id, "finished")
    page.goto(f"{house.base}/endpoints")
    rates = {bar.get_attribute("data-name"): float(bar.get_attribute("data-value") or "nan")
             for bar in page.locator("#chart-rates rect.bar").all()}
    with database.connect() as conn:
        counted = dict(conn.execute(select(inbox.c.consumer, func.count()).group_by(inbox.c.consumer)).all())
    assert rates == pytest.approx({endpoint: count / 60 for endpoint, count in counted.items()}, rel=1e-3)
    assert {row.get_attribute("data-name") for row in page.locator("#chart-latencies g.range").all()} == ENDPOINTS
    assert page.inner_text("#endpoint-kitchen .rate") == f"{counted['kitchen'] / 60:.3g}/s"
    assert page.inner_text("#endpoint-kitchen .p95").endswith(" ms")


@pytest.mark.settings(PIZZERIA_FAULTS="kitchen.DoPizza:600s", PIZZERIA_BREAKER_MIN_ATTEMPTS="3",
                      PIZZERIA_BREAKER_PAUSE_SECONDS="600")
def test_the_endpoints_page_shows_the_kitchens_breaker_holding_its_queue_while_its_oven_is_down(house, page):
    serve(house.base, "TBL6")
    wait_until(lambda: page.goto(f"{house.base}/endpoints") and
               page.locator("#endpoint-kitchen .breaker").get_attribute("data-state") == "open",
               what="the kitchen's breaker open")
    assert page.inner_text("#endpoint-kitchen .breaker") == "open (1 of 1)"
    assert page.locator("#endpoint-menu .breaker").get_attribute("data-state") == "closed"
    change = page.locator("#breaker-changes tr.breaker-change").first
    assert change.get_attribute("data-state") == "open" and "InjectedFault" in change.inner_text()
    assert httpx.get(f"{house.base}/api/failed").json() == []

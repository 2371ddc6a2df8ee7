"""The pages in a real browser: a visit started from the form is seen reaching `finished`
live, without reloading the page; a visit is cancelled from its page."""

from __future__ import annotations

import httpx
import pytest
from browsing import start, wait_for_status


def test_a_visit_started_from_the_form_reaches_finished_live(house, page):
    page.goto(house.base)
    page.evaluate("window.notReloaded = true")
    page.fill("input[name=table_id]", "TBL1")
    page.fill("input[name=order]", "margherita:1")
    page.click("button[type=submit]")
    page.wait_for_selector("#message >> text=TBL1: visit")
    page.wait_for_selector("#visit-TBL1[data-status=finished]", timeout=30_000)
    assert page.evaluate("window.notReloaded") is True
    assert page.inner_text("#visit-TBL1 .status") == "finished"


def test_a_bad_order_is_refused_with_a_line_under_the_form(house, page):
    start(page, house.base, "TBL2", "margherita")
    page.wait_for_selector("#message .error")
    assert "write PIZZA:QUANTITY" in page.inner_text("#message")


@pytest.mark.settings(PIZZERIA_KITCHEN__BAKE_SECONDS="5")
def test_a_visit_cancelled_from_its_page_ends_cancelled(house, page):
    start(page, house.base, "TBL3", "margherita:1")
    page.wait_for_selector("#visit-TBL3[data-status=in_progress]")
    page.click("#visit-TBL3 a")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=Cancel the visit")
    page.wait_for_selector("#message >> text=cancel: sent")
    visit_id = page.url.rsplit("/", 1)[-1]
    wait_for_status(house.base, visit_id, "cancelled")
    page.reload()
    assert page.inner_text("h1 .status") == "cancelled"
    assert "CancelVisit" in page.inner_text("pre")
    steps = httpx.get(f"{house.base}/api/visits/{visit_id}/story").json()["steps"]
    assert page.locator("#sequence line.message").count() == len(steps)


def test_the_endpoints_page_shows_the_four_queues_and_their_live_consumer_processes(house, page):
    start(page, house.base, "TBL5", "margherita:1")
    page.wait_for_selector("#visit-TBL5[data-status=finished]")
    page.goto(f"{house.base}/endpoints")
    for endpoint in ("process_manager", "menu", "waiter", "kitchen"):
        assert page.locator(f"#endpoint-{endpoint}").count() == 1
    assert page.locator("tr.process[data-status=alive]").count() == 4
    assert "0 due" in page.inner_text("#outbox")


def test_the_pages_and_the_apis_description_work_with_nothing_reachable_but_the_server(house, page):
    refused = []

    def only_the_server(route):
        if route.request.url.startswith(house.base):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_server)
    start(page, house.base, "TBL6", "margherita:1")
    page.wait_for_selector("#visit-TBL6[data-status=finished]")
    page.goto(f"{house.base}/docs")
    page.get_by_text("/api/visits/{visit_id}/story", exact=True).wait_for()
    assert refused == []

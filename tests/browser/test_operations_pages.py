"""Edit and retry, and operations on many, in a real browser: a visit's start that does not fit
its contract is edited on its failed message's page (a refused edit names the field), replayed,
and its visit finishes; the visits a broken kitchen holds at one stage are previewed on the
visits page and cancelled at once, and the failures they left deleted from their group's page,
narrowed by their error. Screenshots of the pages are kept beside the test."""

from __future__ import annotations

import json

import httpx
import pytest
from browsing import BROKEN_KITCHEN, start, wait_for_status
from polling import wait_until

from pizzeria.messaging import Envelope
from pizzeria.process_manager.messages import StartTableService

VISIT = "visit-from-a-buggy-client"


def failed_entries(base: str) -> list[dict]:
    return httpx.get(f"{base}/api/failed").json()


def publish_start_with_a_quantity_as_text(house) -> None:
    envelope = Envelope("start-1", "StartTableService", VISIT, None, "2026-01-01T00:00:00+00:00",
                        {"table_id": "TBL7", "order": [{"pizza": "margherita", "quantity": "2"}]})
    house.pizzeria.publish(envelope, StartTableService.route)


def edit(page, order: list[dict]) -> None:
    page.fill("#payload", json.dumps({"table_id": "TBL7", "order": order}, indent=2))
    page.click("text=Check and keep the edit")


def test_a_message_edited_on_its_page_is_replayed_and_its_visit_finishes(house, page, tmp_path):
    publish_start_with_a_quantity_as_text(house)
    (entry,) = wait_until(lambda: failed_entries(house.base), what="the start to fail")
    page.goto(f"{house.base}/failed/{entry['id']}")
    assert json.loads(page.input_value("#payload"))["order"] == [{"pizza": "margherita", "quantity": "2"}]
    edit(page, [{"pizza": "margherita", "quantity": -1}])
    page.wait_for_selector("#edit-message .error >> text=edit refused: order: StartTableService.order[0]: bad quantity -1")
    assert json.loads(page.input_value("#payload"))["order"] == [{"pizza": "margherita", "quantity": -1}]  # kept to mend
    edit(page, [{"pizza": "margherita", "quantity": 2}])
    page.wait_for_selector("#edit-message >> text=kept beside the original: a replay sends it")
    assert '"quantity":2' in page.inner_text("#edited-body")
    assert '"quantity":"2"' in page.inner_text("#body")
    page.screenshot(path=str(tmp_path / "edit.png"), full_page=True)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:text-is('Replay')")
    page.wait_for_selector(f"#message >> text=replayed {entry['id']}")
    wait_for_status(house.base, VISIT, "finished")
    assert httpx.get(f"{house.base}/api/visits/{VISIT}").json()["order"] == [{"pizza": "margherita", "quantity": 2}]


@pytest.mark.settings(**BROKEN_KITCHEN)
def test_the_visits_held_at_a_stage_are_cancelled_at_once_and_their_failures_deleted_as_a_group(house, page, tmp_path):
    for table in ("TBL1", "TBL2"):
        start(page, house.base, table, "margherita:1")
        page.wait_for_selector(f"#message >> text={table}: visit")
    entries = wait_until(lambda: len(found := failed_entries(house.base)) == 2 and found, what="both pizzas to fail")
    page.goto(house.base)
    page.select_option("#many select[name=stage]", "baking")
    page.click("#many >> text=Preview")
    page.wait_for_selector("#chosen-count >> text=2 visit(s) in progress match")
    page.screenshot(path=str(tmp_path / "many.png"), full_page=True)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=Cancel these 2")
    page.wait_for_selector("#many-message >> text=cancel sent to 2 visit(s): TBL1, TBL2")
    for entry in entries:
        wait_for_status(house.base, entry["visit_id"], "cancelled")
    page.goto(f"{house.base}/failed")
    page.click("tr.group >> text=open")
    page.fill("#narrow input[name=error]", "FAILS ITS FIRST")
    page.click("#narrow >> text=Show")
    page.wait_for_selector("#shown >> text=2 message(s) of this group match")
    page.screenshot(path=str(tmp_path / "group.png"), full_page=True)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=Delete the 2 shown")
    page.wait_for_selector(f"#message >> text=deleted {entries[0]['id']}, {entries[1]['id']}")
    assert failed_entries(house.base) == []

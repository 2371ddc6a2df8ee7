"""The failed messages' pages in a real browser: a message that failed for good is replayed
from its group's page, once the kitchen is mended, and its visit finishes; a poison message
whose body and headers hold HTML and script is shown as text, and nothing of it runs."""

from __future__ import annotations

import httpx
import pytest
from browsing import BROKEN_KITCHEN, start, wait_for_status
from polling import wait_until

from pizzeria.bootstrap import bootstrap
from pizzeria.config import Settings
from pizzeria.messaging import Outgoing


def failed_entries(base: str) -> list[dict]:
    return httpx.get(f"{base}/api/failed").json()


@pytest.mark.settings(**BROKEN_KITCHEN)
def test_a_message_replayed_from_its_group_page_finishes_its_visit(house, page):
    start(page, house.base, "TBL4", "margherita:1")
    (entry,) = wait_until(lambda: failed_entries(house.base), what="the pizza to fail for good")
    house.restart_consumers(PIZZERIA_FAULTS="")  # the kitchen mended
    page.goto(f"{house.base}/failed")
    page.click("tr.group >> text=open")
    page.check(f"#failed-{entry['id']} input[type=checkbox]")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=Replay the chosen")
    page.wait_for_selector(f"#message >> text=replayed {entry['id']}")
    wait_for_status(house.base, entry["visit_id"], "finished")
    page.goto(house.base)
    page.wait_for_selector("#visit-TBL4[data-status=finished]")


POISON_BODY = b"<script>window.pwned = 1</script>"
POISON_HEADER = "<img src=x onerror=window.pwned=2>"


def test_a_poison_message_is_shown_as_text_and_nothing_of_it_runs(house, page, tmp_path):
    app = bootstrap(Settings.from_env({"PIZZERIA_VAR_DIR": str(tmp_path / "var")}))
    publisher = app.publisher()
    try:
        publisher.publish(Outgoing("kitchen.command.DoPizza", POISON_BODY, {"x-evil": POISON_HEADER}))
    finally:
        publisher.close()
        app.engine.dispose()
    (entry,) = wait_until(lambda: failed_entries(house.base), what="the poison message to be stored")
    page.goto(f"{house.base}/failed/{entry['id']}")
    assert page.inner_text("#body") == POISON_BODY.decode()
    assert POISON_HEADER in page.inner_text("#headers")
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.locator("#body script, #headers img").count() == 0

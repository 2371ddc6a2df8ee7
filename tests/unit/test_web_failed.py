"""The failed store over HTTP: listing and filtering, groups, one message whole with whether it
took effect, replaying a group until its visit finishes, deleting, and ids it does not hold; the
pages' edit of a message, a group narrowed by age and error, and the visits of a stage
previewed and cancelled at once."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from test_bus import app_in, bus_of

from pizzeria.messaging.store import failed
from pizzeria.web.app import create_app

PIZZA = {"table_id": "T1", "order": [{"pizza": "margherita", "quantity": 1}]}
NO_DEADLINE = {"process_manager": {"step_deadline_seconds": 3600}}  # no step goes again in a test


@pytest.fixture
def stored(tmp_path):
    """A visit whose pizza failed for good (the kitchen fails every attempt); the web app on a
    kitchen mended since, and a bus to run the consumers of the mended app."""
    broken = app_in(tmp_path, faults={"kitchen.DoPizza": 1000}, modules=NO_DEADLINE)
    with bus_of(broken) as bus:  # first: a bus empties its queues as it starts
        visit_id = TestClient(create_app(broken)).post("/api/visits", json=PIZZA).json()["visit_id"]
        bus.run(until=lambda: bool(failed.entries(broken.engine)))
    mended = app_in(tmp_path, modules=NO_DEADLINE)
    with bus_of(mended) as bus:
        yield TestClient(create_app(mended)), bus, visit_id
    broken.engine.dispose()
    mended.engine.dispose()


def test_the_failed_messages_are_listed_filtered_and_grouped(stored):
    client, _bus, visit_id = stored
    (entry,) = client.get("/api/failed").json()
    assert (entry["queue"], entry["type"], entry["error_type"], entry["visit_id"], entry["status"]) == (
        "pizzeria.kitchen", "DoPizza", "InjectedFault", visit_id, "failed")
    assert len(client.get("/api/failed", params={"queue": "pizzeria.kitchen", "visit_id": visit_id}).json()) == 1
    assert client.get("/api/failed", params={"error_type": "KeyError"}).json() == []
    assert client.get("/api/failed/groups").json() == [
        {"queue": "pizzeria.kitchen", "type": "DoPizza", "error_type": "InjectedFault", "count": 1}]


def test_replaying_a_group_finishes_the_visit_and_the_message_then_shows_it_took_effect(stored):
    client, bus, visit_id = stored
    (entry,) = client.get("/api/failed").json()
    whole = client.get(f"/api/failed/{entry['id']}").json()
    assert whole["took_effect"] is False and '"kitchen_order_id"' in whole["body"] and whole["traceback"]
    group = {"queue": "pizzeria.kitchen", "type": "DoPizza", "error_type": "InjectedFault"}
    assert client.post("/api/failed/replay", json={"group": group}).json() == {"replayed": [entry["id"]]}
    bus.run()
    assert client.get(f"/api/visits/{visit_id}").json()["status"] == "finished"
    assert client.get(f"/api/failed/{entry['id']}").json()["took_effect"] is True
    assert client.get("/api/failed/groups").json() == []


def test_deleting_by_id_empties_the_store_and_an_id_it_does_not_hold_is_a_404(stored):
    client, _bus, _visit_id = stored
    (entry,) = client.get("/api/failed").json()
    missing = client.post("/api/failed/delete", json={"ids": [entry["id"], 999]})
    assert (missing.status_code, missing.json()["detail"]) == (404, "no failed message with id 999")
    assert client.post("/api/failed/delete", json={"ids": [entry["id"]]}).json() == {"deleted": [entry["id"]]}
    assert client.get("/api/failed").json() == []
    assert client.get(f"/api/failed/{entry['id']}").status_code == 404


@pytest.mark.parametrize("body", [{}, {"ids": []}, {"ids": [1], "group": {"queue": "q", "type": None,
                                                                        "error_type": "E"}}])
def test_a_choice_is_ids_or_a_group(stored, body):
    client, _bus, _visit_id = stored
    assert client.post("/api/failed/replay", json=body).status_code == 422


def test_the_pages_replay_a_whole_group_after_showing_it_and_escape_what_they_show(stored):
    client, bus, visit_id = stored
    groups = client.get("/failed").text
    assert "pizzeria.kitchen" in groups and "InjectedFault" in groups
    page = client.get("/failed/group", params={"queue": "pizzeria.kitchen", "type": "DoPizza",
                                               "error_type": "InjectedFault"}).text
    assert "Replay the 1 shown" in page and "&#34;queue&#34;" in page  # the group's values, escaped
    done = client.post("/failed/replay", data={"queue": "pizzeria.kitchen", "type": "DoPizza",
                                               "error_type": "InjectedFault"}, headers={"HX-Request": "true"})
    assert "replayed" in done.text
    bus.run()
    assert client.get(f"/api/visits/{visit_id}").json()["status"] == "finished"
    assert "choose a message first" in client.post("/failed/delete", data={}).text


def test_the_message_page_keeps_an_edit_that_fits_and_names_the_field_of_one_that_does_not(stored):
    client, bus, visit_id = stored
    (entry,) = client.get("/api/failed").json()
    page = client.get(f"/failed/{entry['id']}").text
    assert '<textarea id="payload"' in page and "&#34;pizza&#34;: &#34;margherita&#34;" in page

    def edit(payload: str) -> str:
        return client.post(f"/failed/{entry['id']}/edit", data={"payload": payload}, headers={"HX-Request": "true"}).text

    order = client.get(f"/api/failed/{entry['id']}").json()["body"]
    kitchen_order_id = json.loads(order)["payload"]["kitchen_order_id"]
    assert "edit refused: pizza: DoPizza.pizza: expected str, got int" in edit(
        json.dumps({"kitchen_order_id": kitchen_order_id, "pizza": 7}))
    assert "edit refused: the payload is not JSON" in edit("{pizza: diavola")
    assert "edit refused: kitchen_order_id: a field cannot be removed, only changed" in edit('{"pizza": "diavola"}')
    assert "edit refused: nothing to change" in edit(json.dumps({"kitchen_order_id": kitchen_order_id,
                                                               "pizza": "margherita"}))
    kept = edit(json.dumps({"kitchen_order_id": kitchen_order_id, "pizza": "diavola"}))
    assert "edit 1 kept beside the original" in kept and "&#34;pizza&#34;:&#34;diavola&#34;" in kept
    assert "a replay would, sending edit 1" in client.get(f"/failed/{entry['id']}").text
    assert client.post("/failed/replay", data={"ids": entry["id"]}).text.strip().endswith(f"replayed {entry['id']}</span>")
    bus.run()
    visit = client.get(f"/api/visits/{visit_id}").json()
    assert visit["status"] == "finished"
    assert '"pizza":"margherita"' in client.get(f"/api/failed/{entry['id']}").json()["body"]  # the original kept


def test_a_group_page_narrowed_by_age_and_error_shows_and_replays_just_those(stored):
    client, bus, visit_id = stored
    group = {"queue": "pizzeria.kitchen", "type": "DoPizza", "error_type": "InjectedFault"}
    older = client.get("/failed/group", params={**group, "older_than": "1h"}).text
    assert "0 message(s) of this group match" in older and "Replay the 0 shown" not in older
    assert "is not a duration" in client.get("/failed/group", params={**group, "older_than": "soon"}).text
    matching = client.get("/failed/group", params={**group, "error": "FAILS ITS FIRST"}).text
    assert "1 message(s) of this group match" in matching and "Replay the 1 shown" in matching
    assert "replayed nothing" in client.post("/failed/replay", data={**group, "older_than": "1h"}).text
    assert "is not a duration" in client.post("/failed/delete", data={**group, "older_than": "soon"}).text
    (entry,) = client.get("/api/failed").json()
    assert f"replayed {entry['id']}" in client.post("/failed/replay", data={**group, "error": "fails its first"}).text
    bus.run()
    assert client.get(f"/api/visits/{visit_id}").json()["status"] == "finished"


def test_the_visits_of_a_stage_are_previewed_then_cancelled_from_the_visits_page(stored):
    client, bus, visit_id = stored
    assert 'name="older_than"' in client.get("/").text
    preview = client.get("/chosen-visits", params={"stage": "baking"}).text
    assert "1 visit(s) in progress match" in preview and visit_id in preview and "Cancel these 1" in preview
    assert "No visit in progress matches" in client.get("/chosen-visits", params={"stage": "awaiting_payment"}).text
    assert "choose a stage, the stuck visits, or an age first" in client.get("/chosen-visits").text
    assert "is not a duration" in client.get("/chosen-visits", params={"older_than": "a while"}).text
    assert client.post("/chosen-visits/serve", data={"stage": "baking"}).status_code == 404
    done = client.post("/chosen-visits/cancel", data={"stage": "baking"}, headers={"HX-Request": "true"})
    assert "cancel sent to 1 visit(s): T1" in done.text
    bus.run()
    assert client.get(f"/api/visits/{visit_id}").json()["status"] == "cancelled"

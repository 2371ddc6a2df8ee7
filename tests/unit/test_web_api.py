"""The HTTP API against the application on the in-process bus (memory://, a SQLite file):
starting visits (idempotently), reading and listing them, their story, the saga operations,
errors as problems naming the field, and the guard on requests that change something."""

from __future__ import annotations

import pytest
from fakes import chore
from fastapi.testclient import TestClient
from test_bus import app_in, bus_of

from pizzeria.messaging.observe.chores import Heartbeat
from pizzeria.web.app import create_app

PROBLEM = "application/problem+json"
ORDER = {"table_id": "T1", "order": [{"pizza": "margherita", "quantity": 2}]}


@pytest.fixture
def app(tmp_path):
    app = app_in(tmp_path, modules={"process_manager": {"step_deadline_seconds": 3600}})
    yield app
    app.engine.dispose()


@pytest.fixture
def bus(app):
    with bus_of(app) as bus:
        yield bus


@pytest.fixture
def client(app):
    return TestClient(create_app(app))


def test_a_visit_started_over_http_is_requested_then_runs_to_its_end(client, bus):
    started = client.post("/api/visits", json=ORDER)
    assert started.status_code == 202
    location = started.headers["location"]
    assert location == f"/api/visits/{started.json()['visit_id']}"
    assert client.get(location).json()["status"] == "requested"
    bus.run()
    visit = client.get(location).json()
    assert (visit["status"], visit["table_id"], visit["bill"]) == ("finished", "T1", {"amount": "17.00", "paid": True})


def test_the_same_idempotency_key_gives_the_same_visit_and_another_body_with_it_is_refused(client, bus, app):
    first = client.post("/api/visits", json=ORDER, headers={"Idempotency-Key": "k1"})
    again = client.post("/api/visits", json=ORDER, headers={"Idempotency-Key": "k1"})
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json()["visit_id"] == again.json()["visit_id"]
    bus.run()
    assert len(client.get("/api/visits").json()) == 1
    other = client.post("/api/visits", json={**ORDER, "table_id": "T2"}, headers={"Idempotency-Key": "k1"})
    assert (other.status_code, other.headers["content-type"]) == (409, PROBLEM)


def test_a_table_with_a_visit_in_progress_is_a_conflict(client, bus):
    client.post("/api/visits", json=ORDER)
    bus.step()  # the process manager opens the visit
    busy = client.post("/api/visits", json=ORDER)
    assert (busy.status_code, busy.json()["title"]) == (409, "Table busy")


@pytest.mark.parametrize(("body", "field"), [
    ({"table_id": "no spaces"}, "table_id"),
    ({}, "table_id"),
    ({"table_id": "T1", "order": [{"pizza": "margherita", "quantity": 0}]}, "order.0.quantity"),
    ({"table_id": "T1", "order": [{"pizza": "<script>", "quantity": 1}]}, "order.0.pizza"),
])
def test_bad_input_is_a_problem_naming_the_field(client, body, field):
    answer = client.post("/api/visits", json=body)
    assert (answer.status_code, answer.headers["content-type"]) == (422, PROBLEM)
    assert field in [error["field"] for error in answer.json()["errors"]]


def test_an_unknown_visit_is_a_404_problem(client):
    for path in ("/api/visits/nobody", "/api/visits/nobody/story"):
        answer = client.get(path)
        assert (answer.status_code, answer.headers["content-type"]) == (404, PROBLEM)


def test_a_visit_not_opened_yet_has_a_story_without_steps_and_cannot_be_cancelled_yet(client):
    visit_id = client.post("/api/visits", json=ORDER).json()["visit_id"]
    story = client.get(f"/api/visits/{visit_id}/story").json()
    assert (story["status"], story["table_id"], story["steps"]) == ("requested", "T1", [])
    early = client.post(f"/api/visits/{visit_id}/cancel")
    assert (early.status_code, early.json()["title"]) == (409, "Visit not in progress")


def test_a_method_a_path_does_not_take_is_a_405_naming_every_one_it_does(client):
    for path, allowed in (("/api/visits", "GET, POST"), ("/api/failed/replay", "POST")):
        answer = client.put(path)
        assert (answer.status_code, answer.headers["allow"], answer.headers["content-type"]) == (405, allowed, PROBLEM)


def test_visits_are_listed_newest_first_by_status_and_table(client, bus):
    for table in ("T1", "T2"):
        client.post("/api/visits", json={**ORDER, "table_id": table})
        bus.run()
        bus.clock.advance(1)
    assert [visit["table_id"] for visit in client.get("/api/visits").json()] == ["T2", "T1"]
    assert [visit["table_id"] for visit in client.get("/api/visits", params={"table_id": "T1"}).json()] == ["T1"]
    assert client.get("/api/visits", params={"status": "cancelled"}).json() == []
    assert client.get("/api/visits", params={"limit": 0}).status_code == 422


def test_a_visits_story_is_served_as_the_command_line_prints_it(client, bus):
    visit_id = client.post("/api/visits", json=ORDER).json()["visit_id"]
    bus.run()
    story = client.get(f"/api/visits/{visit_id}/story").json()
    assert story["steps"][0]["type"] == "StartTableService" and story["status"] == "finished"


def test_a_visit_in_progress_is_cancelled_and_a_finished_one_cannot_be(client, bus):
    visit_id = client.post("/api/visits", json=ORDER).json()["visit_id"]
    bus.step()
    assert client.post(f"/api/visits/{visit_id}/cancel", json={"reason": "closing"}).status_code == 202
    bus.run()
    assert client.get(f"/api/visits/{visit_id}").json()["status"] == "cancelled"
    again = client.post(f"/api/visits/{visit_id}/retry")
    assert (again.status_code, again.json()["title"]) == (409, "Visit not in progress")
    assert client.post("/api/visits/nobody/retry").status_code == 404


def test_with_a_token_a_change_needs_it_and_a_read_does_not(app, bus):
    guarded = TestClient(create_app(app, token="s3cret"))
    refused = guarded.post("/api/visits", json=ORDER)
    assert (refused.status_code, refused.headers["www-authenticate"]) == (401, "Bearer")
    assert guarded.post("/api/visits", json=ORDER, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert guarded.post("/api/visits", json=ORDER, headers={"Authorization": "Bearer s3cret"}).status_code == 202
    assert guarded.get("/api/visits").status_code == 200


def test_a_change_asked_from_another_sites_page_is_refused(client):
    answer = client.post("/api/visits", json=ORDER, headers={"Origin": "http://evil.example"})
    assert (answer.status_code, answer.headers["content-type"]) == (403, PROBLEM)
    same_site = client.post("/api/visits", json=ORDER, headers={"Origin": "http://testserver"})
    assert same_site.status_code == 202


def test_the_api_is_described_by_openapi(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/visits", "/api/visits/{visit_id}", "/api/visits/{visit_id}/story",
            "/api/visits/{visit_id}/cancel", "/api/visits/{visit_id}/retry"} <= set(paths)


def test_the_endpoints_show_their_queues_counts_consumer_processes_and_the_outbox(client, bus, app):
    from pizzeria.messaging.store import heartbeats
    chore(bus.worker, Heartbeat).beat()
    client.post("/api/visits", json=ORDER)
    bus.run()
    health = client.get("/api/endpoints").json()
    by_name = {endpoint["endpoint"]: endpoint for endpoint in health["endpoints"]}
    assert set(by_name) == {"process_manager", "menu", "waiter", "kitchen"}
    assert (by_name["kitchen"]["handled"], by_name["kitchen"]["failed"], by_name["kitchen"]["messages"]) == (2, 0, 0)
    assert [process["status"] for process in by_name["kitchen"]["processes"]] == [heartbeats.ALIVE]
    assert health["outbox"] == {"pending": 0, "oldest_seconds": None, "delayed": 0}
    assert health["stuck_visits"] == []


def test_with_a_token_the_pages_act_once_signed_in_with_a_same_site_http_only_cookie(app, bus):
    guarded = TestClient(create_app(app, token="s3cret"))
    form = {"table_id": "T1", "order": "margherita:1"}
    refused = guarded.post("/visits", data=form, headers={"HX-Request": "true"})
    assert refused.status_code == 401 and "sign in at /login" in refused.text
    assert guarded.post("/login", data={"token": "wrong"}).status_code == 401
    signed_in = guarded.post("/login", data={"token": "s3cret"})
    assert "httponly" in signed_in.headers["set-cookie"].lower()
    assert "samesite=strict" in signed_in.headers["set-cookie"].lower()
    started = guarded.post("/visits", data=form, headers={"HX-Request": "true"})
    assert started.status_code == 200 and "T1: visit" in started.text


def test_the_visits_page_filters_by_status_and_table_and_its_live_rows_follow_the_filter(client, bus):
    for table in ("T1", "T2"):
        client.post("/api/visits", json={**ORDER, "table_id": table})
        bus.run()
    page = client.get("/", params={"table_id": "T2", "status": "finished"}).text
    assert 'id="visit-T2"' in page and 'id="visit-T1"' not in page
    assert 'sse-connect="/events/visits?status=finished&amp;table_id=T2"' in page


def test_a_visit_page_shows_its_pending_deadline(client, bus):
    visit_id = client.post("/api/visits", json=ORDER).json()["visit_id"]
    bus.step()  # opened: GetMenu sent, its deadline waiting
    page = client.get(f"/visits/{visit_id}").text
    assert "Deadline due" in page

"""`pizzeria web` as its own process, over real HTTP: a visit started with a POST is followed
over server-sent events to its end in the consumers; SIGTERM stops it gracefully; it refuses to listen beyond this machine
without a token."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator

import httpx

from pizzeria.modules import names


def events_of(url: str) -> Iterator[tuple[str, dict]]:
    """The server-sent events of `url`, as (event, data) pairs, until the stream ends."""
    event = None
    with httpx.stream("GET", url, timeout=30) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event is not None:
                yield event, json.loads(line.removeprefix("data: "))


def test_a_visit_posted_to_the_web_process_is_followed_live_to_its_end_and_sigterm_stops_it(embedded):
    for queue in names():
        embedded.consume(queue)
    web, base = embedded.web()
    try:
        started = httpx.post(f"{base}/api/visits", json={"table_id": "TBL1", "order": [
            {"pizza": "margherita", "quantity": 1}]}, headers={"Idempotency-Key": "first"})
        assert started.status_code == 202, started.text
        seen = list(events_of(f"{base}{started.headers['location']}/events"))
        steps = [data["type"] for event, data in seen if event == "step"]
        assert steps[0] == "StartTableService" and steps[-1] == "ClientThanked"
        (end,) = [data for event, data in seen if event == "end"]
        assert (end["status"], end["bill"]) == ("finished", {"amount": "8.50", "paid": True})
        assert [event for event, _ in seen][-1] == "end"
        assert httpx.get(f"{base}/api/visits/nobody/events").status_code == 404
    finally:
        web.send_signal(signal.SIGTERM)
        # uvicorn finishes the requests in hand, then ends by the signal it caught, as it was sent
        assert web.wait(timeout=30) == -signal.SIGTERM
        assert "Traceback" not in web.stderr.read()


def test_the_web_refuses_to_listen_beyond_this_machine_without_a_token(embedded):
    refused = embedded.run("web", "--host", "0.0.0.0")
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: --host 0.0.0.0 listens beyond this machine: set PIZZERIA_WEB_TOKEN")

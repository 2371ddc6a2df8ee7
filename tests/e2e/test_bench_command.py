"""`pizzeria bench` as a user runs it, on the embedded broker and database."""

from __future__ import annotations

import json
from datetime import datetime


def test_one_at_a_time_each_visit_starts_once_the_one_before_has_ended(embedded):
    done = embedded.run("bench", "--tables", "3", "--pizzas", "1", "--one-at-a-time", "--json", timeout=180)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.splitlines()[-1])
    assert (figures["visits"], figures["messages"]) == (3, 45)
    assert 0 < figures["latency_ms"]["p50"] <= figures["latency_ms"]["p99"]
    visits = [visit for visit in json.loads(embedded.run("status", "--json").stdout)
              if not visit["table_id"].startswith("w")]  # less the warm-up visit
    spans = sorted((datetime.fromisoformat(visit["started_at"]), datetime.fromisoformat(visit["updated_at"]))
                   for visit in visits)
    assert [visit["status"] for visit in visits] == ["finished"] * 3
    assert all(ended <= next_started for (_, ended), (next_started, _) in zip(spans, spans[1:]))

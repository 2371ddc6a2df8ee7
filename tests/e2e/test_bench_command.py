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
    assert 0 < figures["latency_share"]["p50"] <= figures["latency_share"]["p95"] <= 1
    visits = [visit for visit in json.loads(embedded.run("status", "--json").stdout)
              if not visit["table_id"].startswith("w")]  # less the warm-up visit
    spans = sorted((datetime.fromisoformat(visit["started_at"]), datetime.fromisoformat(visit["updated_at"]))
                   for visit in visits)
    assert [visit["status"] for visit in visits] == ["finished"] * 3
    assert all(ended <= next_started for (_, ended), (next_started, _) in zip(spans, spans[1:]))


def test_the_purge_bench_measures_the_load_before_while_and_after_the_old_visits_are_purged(embedded):
    done = embedded.run("bench", "--purge", "300", "--tables", "3", "--pizzas", "1", "--measure-seconds", "1",
                        "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.splitlines()[-1])
    assert (figures["old_visits"], figures["history_rows"], figures["left"]) == (300, 300 * 15, 0)
    assert all(rate > 0 for rate in figures["messages_per_second"].values())
    tables = [visit["table_id"] for visit in json.loads(embedded.run("status", "--json").stdout)]
    assert tables and not [table for table in tables if table.startswith("old-")]

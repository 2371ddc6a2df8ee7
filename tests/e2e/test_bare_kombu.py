"""The benchmark's floor, bare kombu, sends each chain through the hops asked for."""

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bare_kombu.py"


def bare(url: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, str(SCRIPT), "--url", url, "--json", *args],
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize(("route", "hops", "bouncers"), [("alternating", "7", 2), ("visit", "15", 4)])
def test_every_chain_makes_its_hops_through_its_bouncers(amqp_url, route, hops, bouncers):
    result = bare(amqp_url, "--chains", "3", "--hops", hops, "--route", route)
    assert (result["chains"], result["hops"], result["bouncers"], result["messages"]) == (
        3, int(hops), bouncers, 3 * int(hops))


def test_one_at_a_time_reports_the_median_latency_of_the_chains(amqp_url):
    result = bare(amqp_url, "--chains", "3", "--route", "visit", "--one-at-a-time")
    assert result["one_at_a_time"] and result["hops"] == 15
    assert 0 < result["latency_ms"]["p50"] <= result["latency_ms"]["max"]


def test_the_durable_floor_commits_the_id_of_every_hop_but_the_last_before_passing_it_on(amqp_url, postgres_url):
    result = bare(amqp_url, "--chains", "3", "--route", "visit", "--database", postgres_url)
    with psycopg.connect(postgres_url.replace("+psycopg", "")) as conn:
        seen = conn.execute("SELECT count(*), count(DISTINCT split_part(id, ':', 1)) FROM bare_kombu_seen").fetchone()
    assert seen == (3 * (result["hops"] - 1), 3)

"""`make bench`: bare kombu and pizzeria on the same private RabbitMQ, one after the other,
and the ratios against the targets. Nothing else should run on the machine meanwhile."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from servers import PostgreSQL, RabbitMQ  # noqa: E402  (the test suite's private servers)

VISITS, PIZZAS, LATENCY_RUNS = int(os.environ.get("BENCH_VISITS", 500)), 3, 5


def main() -> None:
    with RabbitMQ() as rabbitmq, PostgreSQL() as postgres:
        fresh = lambda: (rabbitmq.add_vhost(f"b{uuid.uuid4().hex[:8]}"),  # noqa: E731
                         postgres.create_database(f"b{uuid.uuid4().hex[:8]}"))
        results = {
            "bare": bare(fresh()[0], chains=VISITS, hops=13 + 2 * PIZZAS),
            "bare_latency": bare(fresh()[0], chains=1, hops=15, repeat=LATENCY_RUNS),
            "pizzeria": pizzeria(*fresh(), "--tables", VISITS, "--pizzas", PIZZAS),
            "pizzeria_2pm": pizzeria(*fresh(), "--tables", VISITS, "--pizzas", PIZZAS, "--pm-consumers", 2),
            "pizzeria_latency": median_of(lambda: pizzeria(*fresh(), "--tables", 1, "--pizzas", 1)),
            "help_seconds": help_seconds(),
        }
    report(results)


def bare(url: str, chains: int, hops: int, repeat: int = 1) -> dict:
    return _json([sys.executable, str(ROOT / "benchmarks" / "bare_kombu.py"), "--url", url, "--json",
                  "--chains", str(chains), "--hops", str(hops), "--repeat", str(repeat)])


def pizzeria(broker_url: str, database_url: str, *args) -> dict:
    env = {**os.environ, "PIZZERIA_BROKER_URL": broker_url, "PIZZERIA_DATABASE_URL": database_url}
    return _json([sys.executable, "-m", "pizzeria", "bench", "--json", *map(str, args)], env)


def median_of(run) -> dict:
    runs = sorted((run() for _ in range(LATENCY_RUNS)), key=lambda r: r["latency_ms"]["p50"])
    return runs[len(runs) // 2]


def help_seconds() -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pizzeria", "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def _json(command: list[str], env=None) -> dict:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(r: dict) -> None:
    rss = max(max(x["peak_rss_mib"].values()) for x in (r["pizzeria"], r["pizzeria_2pm"]))
    rows = [
        ("messages/s, 1 PM", r["pizzeria"]["messages_per_second"], r["bare"]["messages_per_second"],
         r["pizzeria"]["messages_per_second"] / r["bare"]["messages_per_second"], ">= 0.40"),
        ("messages/s, 2 PMs vs 1 PM", r["pizzeria_2pm"]["messages_per_second"],
         r["pizzeria"]["messages_per_second"],
         r["pizzeria_2pm"]["messages_per_second"] / r["pizzeria"]["messages_per_second"], ">= 1.00"),
        ("latency of 1 visit of 1 pizza (15 hops), ms", r["pizzeria_latency"]["latency_ms"]["p50"],
         r["bare_latency"]["latency_ms"]["p50"],
         r["pizzeria_latency"]["latency_ms"]["p50"] / r["bare_latency"]["latency_ms"]["p50"], "<= 3.00"),
        ("peak RSS of any consumer, MiB", rss, 80, rss / 80, "<= 1.00"),
        ("pizzeria --help, s", round(r["help_seconds"], 3), 0.3, r["help_seconds"] / 0.3, "<= 1.00"),
    ]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{VISITS} visits of {PIZZAS} pizzas ({13 + 2 * PIZZAS} messages each)")
    print("| measure | pizzeria | against | ratio | target |\n|---|---|---|---|---|")
    for name, ours, theirs, ratio, target in rows:
        print(f"| {name} | {ours} | {theirs} | {ratio:.2f} | {target} |")
    print("raw:", json.dumps(r))


if __name__ == "__main__":
    main()

"""`make retention`: 100,000 finished visits purged by the process manager's chore while a steady
load of visits goes on, on a private RabbitMQ (quorum queues) and PostgreSQL at its durable
defaults, then (with --embedded) on the embedded broker with everything in SQLite files:
messages/s without a purge, during it and after, in the same run, and how long the purge took.
`BENCH_OLD_VISITS`, `BENCH_IN_FLIGHT` and `BENCH_MEASURE_SECONDS` change its size."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import uuid

from run import _json, runtime_python

from pizzeria.devtools.servers import PostgreSQL, RabbitMQ

OLD = int(os.environ.get("BENCH_OLD_VISITS", 100_000))
IN_FLIGHT = int(os.environ.get("BENCH_IN_FLIGHT", 100))
MEASURE_SECONDS = float(os.environ.get("BENCH_MEASURE_SECONDS", 30))
PIZZAS = 3
TIMEOUT = 3600


def bench(python: str, broker_url: str, database_url: str) -> dict:
    env = {**os.environ, "PIZZERIA_BROKER_URL": broker_url, "PIZZERIA_DATABASE_URL": database_url}
    return _json([python, "-m", "pizzeria", "bench", "--json", "--purge", str(OLD), "--tables", str(IN_FLIGHT),
                  "--pizzas", str(PIZZAS), "--measure-seconds", str(MEASURE_SECONDS), "--timeout", str(TIMEOUT)], env)


def main(embedded: bool) -> None:
    python = runtime_python()
    results = {}
    with RabbitMQ() as rabbitmq, PostgreSQL(durable=True) as postgres:
        name = f"b{uuid.uuid4().hex[:8]}"
        results["rabbitmq, postgresql"] = bench(python, rabbitmq.add_vhost(name), postgres.create_database(name))
    if embedded:
        with tempfile.TemporaryDirectory() as directory:
            results["embedded, sqlite"] = bench(python, f"sqlite:///{directory}/broker.sqlite",
                                                f"sqlite:///{directory}/pizzeria.sqlite")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; {OLD} old "
          f"visits of {PIZZAS} pizzas, {IN_FLIGHT} visits kept going, measures of {MEASURE_SECONDS:g} s")
    print("| where | messages/s before | during the purge | after | during / before | during / after | "
          "during / mean of both | purge, s |\n|---|---|---|---|---|---|---|---|")
    for where, r in results.items():
        rates = r["messages_per_second"]
        print(f"| {where} | {rates['before']} | {rates['during']} | {rates['after']} | {r['ratio']:.2f} | "
              f"{r['ratio_to_after']:.2f} | {r['ratio_to_both']:.2f} | {r['purge_seconds']} |")
    print("target: during / without >= 0.80")
    print("raw:", results)


if __name__ == "__main__":
    main(embedded=sys.argv[1:] == ["--embedded"])

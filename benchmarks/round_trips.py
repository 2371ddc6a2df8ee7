"""How long one statement takes on PostgreSQL at its durable defaults, right after another
(the server process busy) and after the connection idled a while, as a hop of a visit finds
it: `python benchmarks/round_trips.py`. The median of 200 of each, in microseconds."""

from __future__ import annotations

import statistics
import time

import psycopg

from pizzeria.devtools.servers import PostgreSQL

GAPS_MS = (0, 1, 5, 20)
STATEMENTS = {"select 1": "SELECT 1", "insert, committed": "INSERT INTO t VALUES (1)"}
TIMES = 200


def median_us(conn: psycopg.Connection, statement: str, gap_ms: int) -> float:
    """The median time of `statement`, each run `gap_ms` after the last one ended."""
    times = []
    for _ in range(TIMES):
        time.sleep(gap_ms / 1000)
        started = time.perf_counter()
        conn.execute(statement)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def main() -> None:
    with PostgreSQL(durable=True) as postgres:
        url = postgres.create_database("round_trips").replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE t (a int)")
            print("idle before (ms)  " + "  ".join(f"{name:>18}" for name in STATEMENTS))
            for gap in GAPS_MS:
                print(f"{gap:16d}  " + "  ".join(f"{median_us(conn, sql, gap):15.0f} us" for sql in STATEMENTS.values()))


if __name__ == "__main__":
    main()

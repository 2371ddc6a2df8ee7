"""The floor: bare kombu bouncing JSON messages through durable queues on the same broker.

A process per queue consumes it and passes every message on to the queue of the chain's next
hop (persistent, publisher confirms on a connection of its own, manual ack after the publish, the
same prefetch as pizzeria, quorum queues unless told otherwise) until a chain has made its hops;
no database. A chain stands for a visit: `--hops` is its number of messages, `--chains` how many
run at once. By default two processes, A and B, take turns; `--route visit` sends a chain of 15
messages through the queues a visit of one pizza takes, a process each (the process manager's
every other hop). A URL may list several nodes of a cluster, split by `;`. With `--database`, the
durable floor: every hop also inserts its message's id into a table of that PostgreSQL database
and commits (one durable commit) before it publishes, the least an exactly-once hop must do.

    python benchmarks/bare_kombu.py --url amqp://guest:guest@127.0.0.1:5672// --chains 500 --hops 19
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator

from kombu import Connection, Consumer, Exchange, Producer, Queue

from pizzeria.messaging.contracts.endpoint import PREFETCH

PREFIX = "bare_kombu"
# The consumers of a visit of one pizza's messages but the last, in order (GetMenu to the menu,
# MenuGot to the process manager, ShowMenu to the waiter...); the last goes to `done`.
VISIT_ROUTE = ["pm", "menu", "pm", "waiter", "pm", "waiter", "pm", "kitchen", "pm", "waiter", "pm", "waiter", "pm",
               "waiter"]


def alternating(hops: int) -> list[str]:
    """The route of a chain of `hops` messages between A and B, taking turns."""
    return ["a", "b"] * ((hops - 1) // 2) + ["a"] * ((hops - 1) % 2)


def queue(name: str, queue_type: str) -> Queue:
    return Queue(f"{PREFIX}.{name}", Exchange("", type="direct"), routing_key=f"{PREFIX}.{name}",
                 durable=True, queue_arguments={"x-queue-type": queue_type})


@contextlib.contextmanager
def recorder(database: str | None) -> Iterator[Callable[[str], None]]:
    """What records a message's id before it is passed on: a durable commit per message into
    `database` (a PostgreSQL URL, SQLAlchemy's form accepted), or nothing without one."""
    if database is None:
        yield lambda _id: None
        return
    import psycopg

    with psycopg.connect(database.replace("+psycopg", "")) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bare_kombu_seen (id text PRIMARY KEY)")
        conn.commit()

        def record(message_id: str) -> None:
            conn.execute("INSERT INTO bare_kombu_seen VALUES (%s)", (message_id,))
            conn.commit()
        yield record


def bounce(url: str, mine: str, prefetch: int, queue_type: str, database: str | None, ready) -> None:
    """Consume `mine`; send each message on to its route's next queue, or to `done` after its
    last hop (with `database`, its id committed there first)."""
    with (Connection(url) as consuming, Connection(url, transport_options={"confirm_publish": True}) as producing,
          recorder(database) as record):
        producer = Producer(producing, auto_declare=False)

        def on_message(message) -> None:
            body = json.loads(message.body)
            record(f"{body['chain']}:{body['hop']}")
            body["hop"] += 1
            target = body["route"][body["hop"]] if body["hop"] < len(body["route"]) else "done"
            producer.publish(json.dumps(body).encode(), routing_key=f"{PREFIX}.{target}", exchange="",
                             delivery_mode=2, content_type="application/json", content_encoding="utf-8")
            message.ack()

        with Consumer(consuming, [queue(mine, queue_type)], on_message=on_message, prefetch_count=prefetch):
            ready.set()
            while True:
                consuming.drain_events()


def run(url: str, chains: int, route: list[str], size: int, prefetch: int, queue_type: str,
        one_at_a_time: bool = False, database: str | None = None) -> dict:
    """Run `chains` chains along `route` at once (or one after the other, once a first one has
    warmed the bouncers up); return the throughput and latencies."""
    with Connection(url, transport_options={"confirm_publish": True}) as conn:
        for name in {*route, "done"}:
            queue(name, queue_type)(conn.default_channel).declare()
            queue(name, queue_type)(conn.default_channel).purge()
        bouncers = _start_bouncers(url, sorted(set(route)), prefetch, queue_type, database)
        try:
            if one_at_a_time:
                return _one_at_a_time(conn, chains, route, size, queue_type)
            return _measure(conn, chains, route, size, queue_type)
        finally:
            for process in bouncers:
                process.terminate()
                process.join()


def _start_bouncers(url: str, queues: list[str], prefetch: int, queue_type: str, database: str | None) -> list:
    processes = []
    for mine in queues:
        ready = multiprocessing.Event()
        process = multiprocessing.Process(target=bounce, args=(url, mine, prefetch, queue_type, database, ready),
                                          daemon=True)
        process.start()
        ready.wait(30)
        processes.append(process)
    return processes


def _one_at_a_time(conn: Connection, chains: int, route: list[str], size: int, queue_type: str) -> dict:
    """A warm-up chain, then `chains` chains one after the other; their latencies."""
    _measure(conn, 1, route, size, queue_type)
    latencies = sorted(_measure(conn, 1, route, size, queue_type)["latency_ms"]["p50"] for _ in range(chains))
    return {"chains": chains, "hops": len(route) + 1, "bouncers": len(set(route)), "one_at_a_time": True,
            "latency_ms": {"p50": round(statistics.median(latencies), 1), "max": latencies[-1]}}


def _measure(conn: Connection, chains: int, route: list[str], size: int, queue_type: str) -> dict:
    producer = Producer(conn, auto_declare=False)
    started, finished = {}, {}
    for _ in range(chains):
        chain = str(uuid.uuid4())
        started[chain] = time.time()
        body = {"chain": chain, "hop": 0, "route": route, "padding": ""}
        body["padding"] = "x" * max(0, size - len(json.dumps(body)))  # a body of `size` bytes
        producer.publish(json.dumps(body).encode(), routing_key=f"{PREFIX}.{route[0]}", exchange="",
                         delivery_mode=2, content_type="application/json", content_encoding="utf-8")

    def on_done(message) -> None:
        finished[json.loads(message.body)["chain"]] = time.time()
        message.ack()

    with Consumer(conn, [queue("done", queue_type)], on_message=on_done, prefetch_count=100):
        while len(finished) < chains:
            conn.drain_events(timeout=120)
    seconds = max(finished.values()) - min(started.values())
    latencies = sorted((finished[c] - started[c]) * 1000 for c in started)
    hops = len(route) + 1
    return {"chains": chains, "hops": hops, "bouncers": len(set(route)), "messages": chains * hops,
            "seconds": round(seconds, 3), "messages_per_second": round(chains * hops / seconds, 1),
            "latency_ms": {"p50": round(statistics.median(latencies), 1), "max": round(latencies[-1], 1)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--chains", type=int, default=500)
    parser.add_argument("--hops", type=int, default=19, help="messages per chain (a visit of 3 pizzas: 19)")
    parser.add_argument("--route", choices=["alternating", "visit"], default="alternating",
                        help="A and B taking turns (--hops messages), or a visit of one pizza's consumers (15)")
    parser.add_argument("--size", type=int, default=320, help="bytes per message body")
    parser.add_argument("--prefetch", type=int, default=PREFETCH, help="pizzeria's own by default")
    parser.add_argument("--queue-type", choices=["quorum", "classic"], default="quorum")
    parser.add_argument("--repeat", type=int, default=1, help="run this many times, report the median run")
    parser.add_argument("--one-at-a-time", action="store_true",
                        help="start each chain when the one before has ended, after a warm-up chain")
    parser.add_argument("--database", help="a PostgreSQL URL: every hop commits its message id there first")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    route = VISIT_ROUTE if args.route == "visit" else alternating(args.hops)
    runs = [run(args.url, args.chains, route, args.size, args.prefetch, args.queue_type, args.one_at_a_time,
                args.database) for _ in range(args.repeat)]
    result = sorted(runs, key=lambda r: r.get("seconds", r["latency_ms"]["p50"]))[len(runs) // 2]
    if args.json:
        print(json.dumps(result))
    elif args.one_at_a_time:
        print(f"bare kombu: {result['chains']} chains of {result['hops']} hops through {result['bouncers']} "
              f"processes one at a time, "
              f"latency p50 {result['latency_ms']['p50']} ms")
    else:
        print(f"bare kombu: {result['messages']} messages in {result['seconds']}s, "
              f"{result['messages_per_second']} messages/s, chain latency p50 {result['latency_ms']['p50']} ms")


if __name__ == "__main__":
    sys.exit(main())

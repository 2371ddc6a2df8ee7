"""The inbox keeps what each consumer handled for the retention, then forgets it: a worker
prunes it as it goes."""

from __future__ import annotations

from sqlalchemy import insert, select

from pizzeria.messaging import (
    Broker,
    Chores,
    Names,
    Topology,
    VirtualClock,
    build_worker,
)
from pizzeria.messaging.store import inbox

DAY = 86400.0


def handled_ids(engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(inbox.inbox.c.message_id)).scalars())


def mark(conn, consumer: str, message_id: str, at: float) -> None:
    conn.execute(insert(inbox.inbox), inbox.rows(consumer, "host:1", [inbox.Handling(message_id, at, attempt=1)], at))


def test_pruning_forgets_only_what_was_handled_before_the_cut(engine):
    with engine.begin() as conn:
        mark(conn, "kitchen", "old", 1_000.0)
        mark(conn, "waiter", "older", 500.0)
        mark(conn, "kitchen", "new", 2_000.0)
    assert inbox.prune(engine, before=1_500.0) == 2
    assert handled_ids(engine) == ["new"]


def test_a_worker_prunes_the_inbox_past_its_retention_on_its_clock(engine):
    clock = VirtualClock(start=30 * DAY)
    with engine.begin() as conn:
        mark(conn, "kitchen", "eight days ago", clock.time() - 8 * DAY)
        mark(conn, "kitchen", "six days ago", clock.time() - 6 * DAY)
    broker = Broker("memory://", Topology(Names("shop"), {"kitchen": ["kitchen.command.*"]}), clock)
    worker = build_worker(broker, engine, [], clock=clock, chores=Chores(inbox_retention=7 * DAY))
    worker.on_iteration()
    assert handled_ids(engine) == ["six days ago"]
    clock.advance(2 * DAY)
    worker.on_iteration()  # pruned again only once PRUNE_SECONDS have passed: they have
    assert handled_ids(engine) == []
    worker.close()

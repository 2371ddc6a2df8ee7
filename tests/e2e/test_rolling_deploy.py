"""A rolling deploy of the waiter, caught half done: today's waiter and the next release's
(`pizzeria.devtools.next_waiter`) consume the waiter's queue at once, beside today's process
manager, on RabbitMQ and PostgreSQL. Today's ShowBill (version 1) reaches both: the next
release upcasts it to its version 2. Their BillPaid come at both versions: today's process
manager reads version 2, whose tip it does not know, as a tolerant reader. Every visit finishes."""

from __future__ import annotations

import json
from collections import Counter

from polling import wait_until
from sqlalchemy import Engine, select

from pizzeria.messaging import Envelope, make_engine
from pizzeria.messaging.store.tables import inbox, replies
from pizzeria.process_manager.repository import history

VISITS = 8


def test_two_releases_of_the_waiter_serve_side_by_side_and_every_visit_finishes(on_rabbitmq, postgres_url):
    for queue in ("process_manager", "menu", "kitchen", "waiter"):
        on_rabbitmq.consume(queue)
    today = on_rabbitmq.consumers[-1]
    next_release = on_rabbitmq.consume("waiter", program="pizzeria.devtools.next_waiter")
    wait_until(lambda: consumers_of(on_rabbitmq, "waiter") == 2, timeout=60, what="both waiters to consume")
    for number in range(1, VISITS + 1):
        assert on_rabbitmq.run("serve", f"TBL{number}", "--order", "margherita:2", "--no-wait").returncode == 0

    visits = wait_until(lambda: ended(on_rabbitmq), timeout=120, what="every visit to end")
    finished = ("finished", {"amount": "17.00", "paid": True})
    assert [(visit["status"], visit["bill"]) for visit in visits] == [finished] * VISITS
    assert json.loads(on_rabbitmq.run("failed", "list", "--json").stdout) == []
    engine = make_engine(postgres_url)
    try:
        bills, answers = bills_taken(engine), bills_paid(engine)
    finally:
        engine.dispose()
    assert set(bills) == {today.pid, next_release.pid} and sum(bills.values()) == VISITS, bills
    assert sorted(answers) == [(1, 0)] * bills[today.pid] + [(2, 170)] * bills[next_release.pid]
    assert on_rabbitmq.stop_consumers() == [0] * 5


def consumers_of(pizzeria, queue: str) -> int:
    """How many consumers the broker counts on the queue."""
    endpoints = json.loads(pizzeria.run("endpoints", "--json").stdout)
    return next(endpoint["consumers"] for endpoint in endpoints if endpoint["endpoint"] == queue)


def ended(pizzeria) -> list[dict] | None:
    """The latest visit of each table, once every one has ended."""
    visits = json.loads(pizzeria.run("status", "--json").stdout)
    done = len(visits) == VISITS and all(visit["status"] != "in_progress" for visit in visits)
    return sorted(visits, key=lambda visit: visit["table_id"]) if done else None


def bills_taken(engine: Engine) -> Counter[int]:
    """How many of the bills the visits sent each waiter process handled, by its pid."""
    sent = select(history.c.message_id).where(history.c.direction == "sent", history.c.type == "ShowBill")
    query = select(inbox.c.process).where(inbox.c.consumer == "waiter", inbox.c.message_id.in_(sent))
    with engine.connect() as conn:
        return Counter(int(process.rsplit(":", 1)[1]) for process in conn.execute(query).scalars())


def bills_paid(engine: Engine) -> list[tuple[int, int | None]]:
    """The version and the tip of each BillPaid the waiters answered with, as they recorded it."""
    with engine.connect() as conn:
        bodies = conn.execute(select(replies.c.body).where(replies.c.consumer == "waiter")).scalars()
        envelopes = [Envelope.decode(body) for body in bodies]
    return [(envelope.version, envelope.payload.get("tip_cents", 0)) for envelope in envelopes
            if envelope.type == "BillPaid"]

"""The unit of work under the pipeline: a conflict runs the handlers again, a group whose
conflicts run out is tried one by one, a brief outage is tried again and a lasting one
requeues, and a commit that fails is a failed try like any other."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter

import pytest
from fakes import FakeDelivery, pipeline
from sqlalchemy import Column, Engine, MetaData, String, Table, func, insert, select, text
from sqlalchemy.exc import OperationalError

from pizzeria.kitchen.messages import DoPizza
from pizzeria.messaging import (
    SYSTEM,
    Conflict,
    Endpoint,
    Envelope,
    FailurePolicy,
    HandlerMisused,
    make_engine,
)
from pizzeria.messaging.delivery.unit import Unit
from pizzeria.messaging.store import failed, inbox
from pizzeria.messaging.store.tables import metadata

POLICY = FailurePolicy()  # the defaults, whose limits these tests reach
ONCE = FailurePolicy(immediate=0, delayed=0)
notes = Table("work_notes", MetaData(), Column("note", String(32), primary_key=True))


@pytest.fixture
def db(engine) -> Engine:
    notes.create(engine)
    return engine




def pizzas(*ids: str) -> list[FakeDelivery]:
    return [FakeDelivery.of(Envelope.wrap(DoPizza(kid, "margherita"), message_id=f"m-{kid}", correlation_id="visit-1"))
            for kid in ids]


def kitchen(handler) -> Endpoint:
    return Endpoint("kitchen", {DoPizza: handler})


def handled_ids(engine: Engine) -> set[str]:
    return inbox.handled(engine, "kitchen", [f"m-{kid}" for kid in ("a", "b", "calm", "contested", "p")])


def outage() -> OperationalError:
    return OperationalError("UPDATE visits", {}, sqlite3.OperationalError("database is locked"))


def test_a_handler_that_lost_a_conflict_runs_again_and_its_last_run_is_committed(db):
    runs: list[int] = []

    def conflicts_twice(command, context):
        runs.append(context.attempt)
        context.insert_later(notes, {"note": f"run-{len(runs)}"})
        if len(runs) <= 2:
            raise Conflict("the visit changed under us")

    deliveries = pizzas("p")
    assert pipeline(db, ONCE).handle(kitchen(conflicts_twice), deliveries)
    with db.connect() as conn:
        assert conn.execute(select(notes.c.note)).scalars().all() == ["run-3"]
    assert (runs, deliveries[0].settled, failed.entries(db)) == ([1, 2, 3], ["ack"], [])


def test_a_group_whose_conflicts_run_out_is_tried_one_by_one_and_each_is_handled(db):
    runs: Counter[str] = Counter()
    contested_runs = POLICY.group_conflict_attempts + 2

    def handler(command, context):
        runs[command.kitchen_order_id] += 1
        if command.kitchen_order_id == "contested" and runs["contested"] < contested_runs:
            raise Conflict("someone else saved first")

    deliveries = pizzas("calm", "contested")
    assert pipeline(db, ONCE).handle(kitchen(handler), deliveries)
    assert runs == {"calm": POLICY.group_conflict_attempts + 1, "contested": contested_runs}
    assert [delivery.settled for delivery in deliveries] == [["ack"], ["ack"]]
    assert handled_ids(db) == {"m-calm", "m-contested"} and failed.entries(db) == []


def test_a_message_that_never_wins_its_conflict_ends_in_the_failed_store_instead_of_looping(sqlite_engine):
    runs = []

    def always_conflicts(_command, context):
        runs.append(context.attempt)
        raise Conflict("someone else saved first")

    deliveries = pizzas("p")
    pipeline(sqlite_engine, ONCE).handle(kitchen(always_conflicts), deliveries)
    (entry,) = failed.entries(sqlite_engine)
    assert (entry.error_type, entry.attempts) == ("Conflict", POLICY.conflict_attempts)
    assert (len(runs), deliveries[0].settled) == (POLICY.conflict_attempts, ["ack"])


def test_a_brief_outage_under_a_handler_is_tried_again_and_the_message_handled(db):
    runs = []

    def database_blinks(_command, context):
        runs.append(context.attempt)
        if len(runs) == 1:
            raise outage()

    deliveries = pizzas("p")
    assert pipeline(db, ONCE).handle(kitchen(database_blinks), deliveries)
    assert (len(runs), deliveries[0].settled, handled_ids(db), failed.entries(db)) == (2, ["ack"], {"m-p"}, [])


def test_a_lasting_outage_requeues_the_batch_with_nothing_stored_or_recorded(db):
    runs = []

    def database_down(_command, _context):
        runs.append(1)
        raise outage()

    deliveries = pizzas("a", "b")
    assert pipeline(db, ONCE).handle(kitchen(database_down), deliveries) is False
    assert [delivery.settled for delivery in deliveries] == [["requeue"], ["requeue"]]
    assert (len(runs), handled_ids(db), failed.entries(db)) == (POLICY.outage_attempts, set(), [])


def test_a_connection_killed_under_a_handler_is_an_outage_and_the_unit_runs_again_on_a_new_one(postgres_url):
    engine = make_engine(postgres_url)
    metadata.create_all(engine)
    runs = []

    def killed_once(_command, context):
        runs.append(1)
        if len(runs) == 1:
            context.db.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))

    try:
        deliveries = pizzas("p")
        assert pipeline(engine, ONCE).handle(kitchen(killed_once), deliveries)
        assert (len(runs), deliveries[0].settled, handled_ids(engine)) == (2, ["ack"], {"m-p"})
    finally:
        engine.dispose()


def test_a_commit_that_breaks_a_constraint_is_a_failed_try_stored_with_the_database_error(db):
    def writes_one_row_twice(_command, context):
        context.insert_later(notes, {"note": "same"})
        context.insert_later(notes, {"note": "same"})

    deliveries = pizzas("p")
    pipeline(db, ONCE).handle(kitchen(writes_one_row_twice), deliveries)
    (entry,) = failed.entries(db)
    assert (entry.error_type, entry.attempts, deliveries[0].settled) == ("IntegrityError", 1, ["ack"])
    assert handled_ids(db) == set()


def test_work_left_for_the_commit_that_fails_rolls_back_the_group_and_is_blamed_on_its_message_alone(db):
    def cold_oven() -> None:
        raise RuntimeError("the oven is cold")

    def handler(command, context):
        context.insert_later(notes, {"note": command.kitchen_order_id})
        if command.kitchen_order_id == "b":
            context.before_commit(cold_oven)

    deliveries = pizzas("a", "b")
    pipeline(db, ONCE).handle(kitchen(handler), deliveries)
    (entry,) = failed.entries(db)
    # its handler ran twice: in the group, which nobody was blamed for, and alone
    assert (entry.message_id, entry.error_type, entry.attempts) == ("m-b", "RuntimeError", 2)
    assert handled_ids(db) == {"m-a"}
    with db.connect() as conn:
        assert conn.execute(select(notes.c.note)).scalars().all() == ["a"]


def test_a_handler_may_use_the_lent_connection_for_anything_but_ending_the_transaction(db):
    seen = []

    def reads(_command, context):
        seen.append((context.db.dialect.name, context.db.scalar(select(func.count()).select_from(notes))))

    assert pipeline(db, ONCE).handle(kitchen(reads), pizzas("p"))
    assert seen == [(db.dialect.name, 0)]


def test_a_unit_of_work_commits_once(db):
    unit = Unit(db, "kitchen", [Envelope.wrap(DoPizza("p", "margherita"), message_id="m-p", correlation_id="v")],
                SYSTEM)
    unit.handlings.append(inbox.Handling("m-p", started_at=time.time(), attempt=1))
    try:
        unit.commit()
        with pytest.raises(HandlerMisused, match="commits once"):
            unit.commit()
    finally:
        unit.close()
    assert handled_ids(db) == {"m-p"}


def test_the_inbox_answers_for_one_consumer_and_nothing_for_no_ids(db):
    handlings = [inbox.Handling(m, time.time(), 1) for m in ("m1", "m2")]
    with db.begin() as conn:
        conn.execute(insert(inbox.inbox), inbox.rows("kitchen", "host:1", handlings, time.time()))
    assert inbox.handled(db, "kitchen", ["m1", "m3"]) == {"m1"}
    assert inbox.handled(db, "waiter", ["m1"]) == set()
    assert inbox.handled(db, "kitchen", []) == set()
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(inbox.inbox)).scalar_one() == 2

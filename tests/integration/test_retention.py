"""Retention on each database: the visits that ended and the failed messages replayed longer
ago than their window go, with their history and edits, in small batches; the rest stays."""

from __future__ import annotations

import dataclasses
import threading

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from old_rows import DAY, add_failed, add_visit, edited, failed_ids, history_of, visit_ids
from sqlalchemy import delete, select

from pizzeria.messaging import failed_retention, make_engine, purge, purgeable
from pizzeria.messaging.store.retention import batches
from pizzeria.process_manager.repository import history, visits
from pizzeria.process_manager.retention import visit_retention

NOW = 1_800_000_000.0
VISITS = visit_retention(30 * DAY)
FAILED = failed_retention(7 * DAY)


def test_only_the_visits_that_ended_before_the_window_go_with_their_history(engine):
    with engine.begin() as conn:
        for status in ("finished", "rejected", "cancelled"):
            add_visit(conn, f"old-{status}", status, NOW - 31 * DAY)
        add_visit(conn, "recent-finished", "finished", NOW - 29 * DAY)
        add_visit(conn, "ancient-in-progress", "in_progress", NOW - 3650 * DAY)
    assert purge(engine, [VISITS], NOW) == {"visits": 3, "visit_history": 9}
    assert visit_ids(engine) == {"recent-finished", "ancient-in-progress"}
    assert history_of(engine) == {"recent-finished": 3, "ancient-in-progress": 3}


def test_the_failed_messages_replayed_before_the_window_go_with_their_edits_and_those_not_replayed_stay(engine):
    with engine.begin() as conn:
        gone = add_failed(conn, NOW - 30 * DAY, replayed_at=NOW - 8 * DAY, edits=2)
        recent = add_failed(conn, NOW - 30 * DAY, replayed_at=NOW - 6 * DAY, edits=1)
        waiting = add_failed(conn, NOW - 365 * DAY, replayed_at=None, edits=1)
    assert purge(engine, [FAILED], NOW) == {"failed_messages": 1, "failed_edits": 2}
    assert failed_ids(engine) == edited(engine) == {recent, waiting}
    assert gone not in failed_ids(engine)


def test_a_dry_run_counts_what_the_purge_then_removes_and_removes_nothing(engine):
    with engine.begin() as conn:
        for n in range(4):
            add_visit(conn, f"old-{n}", "finished", NOW - 40 * DAY, history_rows=n)
        add_visit(conn, "in-progress", "in_progress", NOW - 40 * DAY)
        add_failed(conn, NOW - 9 * DAY, replayed_at=NOW - 8 * DAY, edits=1)
    counted = purgeable(engine, [VISITS, FAILED], NOW)
    assert counted == {"visits": 4, "visit_history": 6, "failed_messages": 1, "failed_edits": 1}
    assert len(visit_ids(engine)) == 5 and len(failed_ids(engine)) == 1
    assert purge(engine, [VISITS, FAILED], NOW) == counted


def test_a_window_of_none_keeps_everything(engine):
    with engine.begin() as conn:
        add_visit(conn, "old", "finished", NOW - 3650 * DAY)
        add_failed(conn, NOW - 3650 * DAY, replayed_at=NOW - 3650 * DAY)
    forever = [visit_retention(0), failed_retention(0)]
    assert purgeable(engine, forever, NOW) == purge(engine, forever, NOW) == {}
    assert visit_ids(engine) == {"old"} and len(failed_ids(engine)) == 1


def test_each_batch_looks_at_no_more_rows_than_its_size(engine):
    with engine.begin() as conn:
        for n in range(12):
            add_visit(conn, f"v{n:02}", "finished" if n != 3 else "in_progress", NOW - 31 * DAY)
    small = dataclasses.replace(VISITS, batch=5)
    assert [removed["visits"] for removed in batches(engine, [small], NOW)] == [4, 5, 2]
    assert visit_ids(engine) == {"v03"}


def test_a_visit_another_transaction_holds_is_skipped_and_not_waited_for(postgres_url):
    from pizzeria.bootstrap import create_tables
    engine = make_engine(postgres_url)
    create_tables(engine)
    with engine.begin() as conn:
        for name in ("held", "free"):
            add_visit(conn, name, "finished", NOW - 31 * DAY)
    with engine.connect() as handler:
        handler.execute(select(visits).where(visits.c.visit_id == "held").with_for_update())
        done = threading.Event()
        purging = threading.Thread(target=lambda: (purge(engine, [VISITS], NOW), done.set()))
        purging.start()
        assert done.wait(10), "the purge waited for the visit a handler holds"
        handler.rollback()
    purging.join()
    assert visit_ids(engine) == {"held"} and history_of(engine) == {"held": 3}
    engine.dispose()


AGES = st.floats(min_value=-5 * DAY, max_value=5 * DAY, allow_nan=False)  # from the window's edge
VISIT = st.tuples(st.sampled_from(["in_progress", "finished", "rejected", "cancelled"]), AGES,
                  st.integers(0, 3))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=st.lists(VISIT, max_size=25), batch=st.integers(1, 7))
def test_any_mix_of_visits_loses_exactly_those_that_ended_before_the_window(engine, drawn, batch):
    edge = NOW - 30 * DAY
    with engine.begin() as conn:
        conn.execute(delete(history))
        conn.execute(delete(visits))
        for n, (status, age, rows) in enumerate(drawn):
            add_visit(conn, f"v{n}", status, edge - age, history_rows=rows)
    kept = {f"v{n}": rows for n, (status, age, rows) in enumerate(drawn)
            if status == "in_progress" or not edge - age < edge}
    counted = purgeable(engine, [VISITS], NOW)
    assert purge(engine, [dataclasses.replace(VISITS, batch=batch)], NOW) == counted
    assert visit_ids(engine) == set(kept)
    assert history_of(engine) == {visit_id: rows for visit_id, rows in kept.items() if rows}
    assert counted["visits"] == len(drawn) - len(kept)

"""The visit repository on SQLite and PostgreSQL: a unit of work whose writes are
compare-and-set."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import select

from pizzeria.kitchen.messages import PizzaDone
from pizzeria.menu.messages import MenuGot, MenuItem
from pizzeria.messaging import Conflict
from pizzeria.process_manager import saga
from pizzeria.process_manager.messages import StartTableService
from pizzeria.process_manager.repository import VisitRepository
from pizzeria.waiter.messages import MenuShown


def started(engine, visit_id="v1", table_id="T1") -> saga.Visit:
    visit, _ = saga.start(visit_id, StartTableService(table_id))
    with engine.begin() as conn:
        repository = VisitRepository(conn)
        repository.add(visit)
        repository.flush()
    return visit


def save(conn, visit: saga.Visit, version: int) -> None:
    repository = VisitRepository(conn)
    repository.save(visit, version)
    repository.flush()


def test_a_saved_visit_is_loaded_back_with_its_version(engine):
    visit = started(engine)
    with engine.begin() as conn:
        assert VisitRepository(conn).get("v1") == (visit, 1)
        save(conn, visit, 1)
    with engine.begin() as conn:
        assert VisitRepository(conn).get("v1") == (visit, 2)


def test_one_read_brings_the_expected_visits_and_one_flush_writes_them_once(engine):
    first, second = started(engine), started(engine, "v2", "T2")
    with engine.begin() as conn:
        repository = VisitRepository(conn, expected=["v1", "v2", "v3"])
        assert repository.get("v1") == (first, 1)
        assert repository.known == {"v1": (first, 1), "v2": (second, 1), "v3": None}
        moved = saga.decide(second, MenuGot((MenuItem("margherita", 800),)))[0]
        repository.save(moved, 1)
        repository.save(saga.decide(moved, MenuShown())[0], 1)  # twice in one unit: one write
        assert repository.get("v2") == (saga.decide(moved, MenuShown())[0], 1)
        repository.flush()
    with engine.begin() as conn:
        assert VisitRepository(conn).get("v2") == (saga.decide(moved, MenuShown())[0], 2)
        assert VisitRepository(conn).get("v1") == (first, 1)


def test_a_flush_of_several_visits_is_a_conflict_if_any_one_of_them_changed(engine):
    first, second = started(engine), started(engine, "v2", "T2")
    with engine.begin() as conn:
        save(conn, second, 1)
    with pytest.raises(Conflict, match="v1, v2"), engine.begin() as conn:
        repository = VisitRepository(conn)
        repository.save(first, 1)
        repository.save(second, 1)
        repository.flush()
    with engine.begin() as conn:
        assert VisitRepository(conn).get("v1") == (first, 1)


def test_of_two_writers_of_the_same_version_one_wins_and_the_other_gets_a_conflict(engine):
    started(engine)
    with engine.begin() as conn:
        first, version = VisitRepository(conn).get("v1")
    with engine.begin() as conn:
        save(conn, saga.decide(first, MenuShown())[0], version)
    with pytest.raises(Conflict), engine.begin() as conn:
        save(conn, first, version)
    with engine.begin() as conn:
        assert VisitRepository(conn).get("v1")[1] == version + 1


def test_concurrent_writers_of_one_version_leave_exactly_one_winner(engine):
    started(engine)
    outcomes, barrier = [], threading.Barrier(4)

    def write():
        barrier.wait()
        try:
            with engine.begin() as conn:
                visit, _ = VisitRepository(conn).get("v1")
                save(conn, visit, 1)
            outcomes.append("saved")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict"] * 3 + ["saved"]


def test_a_second_visit_in_progress_at_the_same_table_is_a_conflict(engine):
    started(engine)
    with pytest.raises(Conflict):
        started(engine, visit_id="v2")
    with engine.begin() as conn:
        assert VisitRepository(conn).visit_in_progress("T1") == "v1"


def test_the_tables_of_a_unit_are_looked_up_at_once_and_a_visit_it_adds_makes_its_table_busy(engine):
    started(engine)
    with engine.begin() as conn:
        repository = VisitRepository(conn, tables=["T1", "T2", "T3"])
        assert repository.visit_in_progress("T2") is None
        assert repository.busy == {"T1": "v1", "T2": None, "T3": None}
        repository.add(saga.start("v3", StartTableService("T3"))[0])
        assert repository.visit_in_progress("T3") == "v3"
        repository.flush()
    with engine.begin() as conn:
        assert VisitRepository(conn).visit_in_progress("T3") == "v3"


def test_a_table_whose_visit_ended_takes_a_new_visit(engine):
    visit = started(engine)
    with engine.begin() as conn:
        save(conn, saga.refuse("v1", StartTableService("T1"), "closed")[0], 1)
    started(engine, visit_id="v2")
    with engine.begin() as conn:
        assert VisitRepository(conn).visit_in_progress(visit.table_id) == "v2"


def test_a_visit_written_in_the_first_shape_is_upgraded_when_it_is_loaded(engine):
    """A row as the version before deadlines and compensation wrote it, by hand."""
    from sqlalchemy import insert

    from pizzeria.process_manager.repository import visits
    old = {"visit_id": "v1", "table_id": "T1", "stage": "baking", "status": "in_progress", "reason": None,
           "wish": None, "menu": [{"name": "margherita", "price_cents": 850}],
           "order": [{"pizza": "margherita", "quantity": 1}],
           "pizzas": [{"kitchen_order_id": "v1-1", "pizza": "margherita", "done": False}],
           "bill_cents": None, "paid": False}
    with engine.begin() as conn:
        conn.execute(insert(visits).values(visit_id="v1", table_id="T1", status="in_progress", version=7,
                                           state=json.dumps(old), started_at=0.0, updated_at=0.0))
    with engine.begin() as conn:
        repository = VisitRepository(conn)
        visit, version = repository.get("v1")
        assert (visit.stage, visit.resends, visit.cancelling, visit.pizzas[0].cancelled, version) == (
            saga.Stage.BAKING, 0, False, False, 7)
        repository.save(saga.decide(visit, PizzaDone("v1-1"))[0], version)
        repository.flush()
    with engine.connect() as conn:
        saved = json.loads(conn.execute(select(visits.c.state)).scalar_one())
    assert (saved["shape"], saved["stage"]) == (2, "awaiting_served")


def test_creating_the_tables_adds_the_columns_a_table_gained_since_it_was_made(sqlite_url):
    from sqlalchemy import inspect, text

    from pizzeria.bootstrap import create_tables
    from pizzeria.messaging import make_engine
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:  # the history as it was made before notes
        conn.execute(text("CREATE TABLE visit_history (id INTEGER PRIMARY KEY, visit_id VARCHAR(64) NOT NULL, "
                          "direction VARCHAR(8) NOT NULL, type VARCHAR(64) NOT NULL, "
                          "message_id VARCHAR(64) NOT NULL, at FLOAT NOT NULL)"))
    create_tables(engine)
    with engine.connect() as conn:
        assert "note" in {column["name"] for column in inspect(conn).get_columns("visit_history")}
    engine.dispose()

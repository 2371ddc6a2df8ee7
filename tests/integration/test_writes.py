"""Rows inserted many at a time (on PostgreSQL as one JSON array) come back exactly as given,
whatever their text, numbers, bytes and NULLs, and the ids returned follow their order; the
writes of a commit (on PostgreSQL one statement) insert, delete and return, and a clash names
its table; rows updated by a key (and a version) count only those that matched, and in the
writes of a commit one that changed since it was read is a conflict."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Float, Integer, LargeBinary, MetaData, String, Table, select
from sqlalchemy.exc import IntegrityError

from pizzeria.messaging import Conflict, insert_rows, update_rows
from pizzeria.messaging.store.writes import Clash, Writes

metadata = MetaData()
things = Table(
    "insert_rows_things", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=True),
    Column("count", Integer, nullable=True),
    Column("at", Float, nullable=True),
    Column("body", LargeBinary, nullable=True),
)

TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=64)  # PostgreSQL keeps no NUL
ROWS = st.lists(st.fixed_dictionaries({
    "name": st.none() | TEXT,
    "count": st.none() | st.integers(-(2**31), 2**31 - 1),
    "at": st.none() | st.floats(allow_nan=False, allow_infinity=False),
    "body": st.none() | st.binary(max_size=300),
}), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS)
def test_rows_come_back_as_given_in_their_order(engine, rows):
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(things.delete())
        returned = insert_rows(conn, things, rows, (things.c.id, things.c.name)).all()
        stored = conn.execute(select(things.c.id, things.c.name, things.c.count, things.c.at, things.c.body)).all()
    assert [row.name for row in sorted(returned, key=lambda row: row.id)] == [row["name"] for row in rows]
    assert [dict(row._mapping) for row in sorted(stored, key=lambda row: row.id)] == [
        {"id": returned_row.id, **row} for returned_row, row in zip(sorted(returned, key=lambda r: r.id), rows)]


def test_rows_without_returning_are_all_inserted(engine):
    metadata.create_all(engine)
    with engine.begin() as conn:
        insert_rows(conn, things, [{"name": "a"}, {"name": "b"}])
        assert sorted(conn.execute(select(things.c.name)).scalars()) == ["a", "b"]


def test_the_writes_of_a_commit_insert_delete_and_return_in_order(engine):
    metadata.create_all(engine)
    with engine.begin() as conn:
        insert_rows(conn, things, [{"name": "old", "count": 1}, {"name": "kept", "count": 2}])
    writes = Writes()
    writes.insert(things, [{"name": "new", "count": 3}])
    writes.delete(things.c.name, ["old", "kept"], things.c.count == 1)
    with engine.begin() as conn:
        returned = writes.run(conn, things, [{"name": "last"}, {"name": "after"}], (things.c.id, things.c.name))
        stored = conn.execute(select(things.c.name)).scalars().all()
    assert [row.name for row in sorted(returned, key=lambda row: row.id)] == ["last", "after"]
    assert sorted(stored) == ["after", "kept", "last", "new"]


def test_a_clash_in_the_writes_of_a_commit_names_its_table(engine):
    metadata.create_all(engine)
    with engine.begin() as conn:
        insert_rows(conn, things, [{"id": 7, "name": "first"}])
    writes = Writes()
    writes.insert(things, [{"id": 7, "name": "again"}])
    with pytest.raises(Clash) as clash, engine.begin() as conn:
        writes.run(conn, things, [], ())
    assert clash.value.table == "insert_rows_things"
    assert isinstance(clash.value.error, IntegrityError)


def test_rows_updated_by_their_key_and_version_count_only_those_that_matched(engine):
    metadata.create_all(engine)
    with engine.begin() as conn:
        insert_rows(conn, things, [{"id": 1, "name": "a", "count": 1}, {"id": 2, "name": "b", "count": 1}])
        updated = update_rows(conn, things, [
            {"id": 1, "seen": 1, "count": 2, "name": "a2", "body": b"\x00\xff"},
            {"id": 2, "seen": 5, "count": 6, "name": "b6", "body": None},  # read at another count: unchanged
        ], {"id": "id", "count": "seen"})
        stored = conn.execute(select(things.c.id, things.c.name, things.c.count, things.c.body).order_by(things.c.id)).all()
    assert updated == 1
    assert [tuple(row) for row in stored] == [(1, "a2", 2, b"\x00\xff"), (2, "b", 1, None)]


def test_rows_updated_in_the_writes_of_a_commit_go_with_its_inserts_and_its_last_rows(engine):
    metadata.create_all(engine)
    with engine.begin() as conn:
        insert_rows(conn, things, [{"id": 1, "name": "a", "count": 1}, {"id": 2, "name": "b", "count": 1}])
    writes = Writes()
    writes.update(things, [{"id": 1, "seen": 1, "count": 2, "name": "a2"}, {"id": 2, "seen": 1, "count": 2, "name": "b2"}],
                  {"id": "id", "count": "seen"})
    writes.insert(things, [{"id": 3, "name": "new", "count": 1}])
    with engine.begin() as conn:
        returned = writes.run(conn, things, [{"id": 4, "name": "last"}], (things.c.id,))
        stored = conn.execute(select(things.c.id, things.c.name, things.c.count).order_by(things.c.id)).all()
    assert [row.id for row in returned] == [4]
    assert [tuple(row) for row in stored] == [(1, "a2", 2), (2, "b2", 2), (3, "new", 1), (4, "last", None)]


@pytest.mark.parametrize("last", [[], [{"id": 9, "name": "last"}]], ids=["alone", "with-last-rows"])
def test_a_row_to_update_that_changed_since_it_was_read_is_a_conflict_and_nothing_is_written(engine, last):
    metadata.create_all(engine)
    with engine.begin() as conn:
        insert_rows(conn, things, [{"id": 1, "name": "a", "count": 1}, {"id": 2, "name": "b", "count": 5}])
    writes = Writes()
    writes.update(things, [{"id": 1, "seen": 1, "name": "a2"}, {"id": 2, "seen": 1, "name": "b2"}],
                  {"id": "id", "count": "seen"})
    writes.insert(things, [{"id": 3, "name": "new"}])
    with pytest.raises(Conflict, match="1 of 2 rows changed"), engine.begin() as conn:
        writes.run(conn, things, last, (things.c.id,))
    with engine.begin() as conn:
        stored = conn.execute(select(things.c.id, things.c.name).order_by(things.c.id)).all()
    assert [tuple(row) for row in stored] == [(1, "a"), (2, "b")]

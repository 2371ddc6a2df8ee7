"""Database engines, made safe for several processes sharing one SQLite file, and rows
inserted many at a time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    CursorResult,
    Engine,
    Insert,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    bindparam,
    column,
    create_engine,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry

metadata = MetaData()


def make_engine(url: str) -> Engine:
    """An engine for `url`; on SQLite, WAL, a busy timeout and write-locking transactions."""
    if not url.startswith("sqlite"):
        # No pre-ping (a round trip per checkout): a connection lost meanwhile fails its unit
        # of work as an outage, which is retried on a fresh connection.
        return create_engine(url)
    engine = create_engine(url, connect_args={"timeout": 30, "isolation_level": None})
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    return engine


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]],
                returning: tuple[Column[Any], ...] = ()) -> CursorResult[Any]:
    """Insert `rows` (each with the same keys; values of str, int, float, bytes or None) in
    one statement, returning `returning` of each in their order. On PostgreSQL the rows go as
    one JSON array: the statement is the same whatever their number, so it is parsed and
    planned once, and the rows are encoded by the json module's C encoder."""
    if conn.dialect.name != "postgresql":
        statement = insert(table).returning(*returning, sort_by_parameter_order=True) if returning else insert(table)
        return conn.execute(statement, list(rows))
    names = tuple(rows[0])
    statement, binary = _from_json(table, names, returning)
    given = [{**row, **{name: _hex(row[name]) for name in binary}, ORDER: position}
             for position, row in enumerate(rows)]
    return conn.execute(statement, {"rows": given})


ORDER = "_position"  # a key of the rows' JSON that no column takes: their order


@lru_cache(maxsize=64)
def _from_json(table: Table, names: tuple[str, ...], returning: tuple[Column[Any], ...]) -> tuple[Insert, list[str]]:
    """INSERT INTO table (names) SELECT names FROM json_to_recordset(:rows) in the rows' order
    (the ids a serial column gives follow it), and which of the names are binary columns."""
    columns = [column(name, table.c[name].type) for name in names]
    given = func.json_to_recordset(bindparam("rows", type_=JSON)).table_valued(
        *columns, column(ORDER, Integer)).render_derived(with_types=True)
    statement = insert(table).from_select(names, select(*(given.c[name] for name in names)).order_by(given.c[ORDER]))
    binary = [name for name in names if isinstance(table.c[name].type, LargeBinary)]
    return (statement.returning(*returning) if returning else statement), binary


def _hex(value: bytes | None) -> str | None:
    """Bytes as PostgreSQL reads a bytea from text."""
    return None if value is None else "\\x" + value.hex()


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()

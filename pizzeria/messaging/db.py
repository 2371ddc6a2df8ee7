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
    MetaData,
    Table,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
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
    """Insert `rows` (each with the same keys) in one statement, returning `returning` of each
    in their order. On PostgreSQL the rows go as one array per column, unnested: the statement
    is the same whatever their number, so it is parsed and planned once, and sent once."""
    if conn.dialect.name != "postgresql":
        statement = insert(table).returning(*returning, sort_by_parameter_order=True) if returning else insert(table)
        return conn.execute(statement, list(rows))
    names = tuple(rows[0])
    return conn.execute(_unnested(table, names, returning), {name: [row[name] for row in rows] for name in names})


@lru_cache(maxsize=64)
def _unnested(table: Table, names: tuple[str, ...], returning: tuple[Column[Any], ...]) -> Insert:
    """INSERT INTO table (names) SELECT * FROM unnest(one array per name) in the arrays' order;
    the ids a serial column gives follow that order."""
    arrays = [bindparam(name, type_=ARRAY(table.c[name].type)) for name in names]
    given = func.unnest(*arrays).table_valued(*names, with_ordinality="_ordinality").render_derived()
    statement = insert(table).from_select(names, select(*(given.c[name] for name in names)).order_by(given.c._ordinality))
    return statement.returning(*returning) if returning else statement


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()

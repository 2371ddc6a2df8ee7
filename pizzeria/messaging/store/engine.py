"""Database engines, made safe for several processes sharing one SQLite file."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, Index, Table, create_engine, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry


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


def on_sqlite(item: Table | Index, **options: Any) -> None:
    """Give `item` SQLAlchemy's `sqlite_` options (without the prefix) when its table is
    created on SQLite, and only there: declared with the table, they would make SQLAlchemy
    import its SQLite dialect into every process to check them."""
    table = item if isinstance(item, Table) else item.table
    assert isinstance(table, Table)  # an index is given its table when the table is declared

    def give(_target: Table, connection: Connection, **_kw: Any) -> None:
        if connection.dialect.name == "sqlite":
            for name, value in options.items():
                item.dialect_kwargs[f"sqlite_{name}"] = value

    event.listen(table, "before_create", give)


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    from .sqlite_wal import use_wal  # here: a process on PostgreSQL never imports sqlite3

    use_wal(dbapi_connection)

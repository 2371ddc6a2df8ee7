"""Database engines, made safe for several processes sharing one SQLite file."""

from __future__ import annotations

from sqlalchemy import Engine, MetaData, create_engine, event
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


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()

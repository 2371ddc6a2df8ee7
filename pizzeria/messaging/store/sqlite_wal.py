"""WAL mode for a SQLite file that several processes open at once, a new one included."""

from __future__ import annotations

import sqlite3
from typing import Any

ATTEMPTS = 10


def use_wal(conn: Any) -> None:
    """Put `conn`'s file in WAL mode with synchronous=NORMAL (a process may die at any time
    and lose nothing; an OS crash may lose the last commits). `conn` is a sqlite3 connection
    in autocommit mode with a busy timeout.

    The first process to open a new file turns it to WAL. One that tries at the same time
    fails at once with "database is locked": SQLite does not wait when it would have to turn
    its read into a write. It then waits, through the busy timeout, for the write lock (the
    winner's change is done by then) and asks again, which now finds the file in WAL mode."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or attempt == ATTEMPTS:  # any BUSY_* too
                raise
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("COMMIT")
    conn.execute("PRAGMA synchronous=NORMAL")

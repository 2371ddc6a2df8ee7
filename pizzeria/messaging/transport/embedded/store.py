"""The embedded broker's queues in one SQLite file: messages leased to a consumer for a while,
deleted when acked, released when rejected; a lease that runs out (its consumer died) lets the
message go to the next consumer, flagged redelivered."""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from ...store.sqlite_wal import use_wal

SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    payload TEXT NOT NULL,
    leased_until REAL,
    token TEXT,
    deliveries INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_by_queue ON messages (queue, id);
"""
BUSY_TIMEOUT_MS = 30_000
# SQLite never shrinks the write-ahead log: it is written over from the start once checkpointed
# and no one reads it, which under load from several processes is seldom, so it grows well past
# the 4 MB at which it is checkpointed (5 to 8 MB in a 200-visit bench); and a process that dies
# holding the file leaves it as large as it grew. Past this size, the next write checkpoints it
# (waiting for the readers as a write waits for the writer), and the write after that starts it
# over, cut back to this size (journal_size_limit): written over, not grown again from nothing.
WAL_LIMIT_BYTES = 1024 * 1024
READY = "queue = :queue AND (leased_until IS NULL OR leased_until < :now)"  # never leased, or its lease over
# One statement leases up to :count ready messages of a queue, oldest first.
CLAIM = f"""
UPDATE messages SET leased_until = :until, token = :token, deliveries = deliveries + 1
WHERE id IN (SELECT id FROM messages WHERE {READY} ORDER BY id LIMIT :count)
RETURNING id, payload, deliveries
"""


class Lease(NamedTuple):
    """A message held by one consumer until `until`; `token` names this lease, not the next."""

    id: int
    token: str


class Leased(NamedTuple):
    """A leased message: its lease, its payload, and how many times it was delivered."""

    lease: Lease
    payload: str
    deliveries: int


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode and WAL mode (sqlite_wal.use_wal), waiting on a busy file,
    its write-ahead log cut back to WAL_LIMIT_BYTES whenever it starts over."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    use_wal(conn)
    conn.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
    return conn


class Store:
    """The queries of the embedded broker, on one connection."""

    def __init__(self, path: Path):
        self.conn = connect(path)
        self.conn.executescript(SCHEMA)
        self.wal = Path(f"{path}-wal")

    def declare(self, queue: str) -> None:
        """Make `queue` exist."""
        self.conn.execute("INSERT OR IGNORE INTO queues (name) VALUES (?)", (queue,))

    def exists(self, queue: str) -> bool:
        """True if `queue` was declared."""
        return self.conn.execute("SELECT 1 FROM queues WHERE name = ?", (queue,)).fetchone() is not None

    def put(self, queue: str, payload: str) -> None:
        """Add a message to `queue`."""
        self.conn.execute("INSERT INTO messages (queue, payload) VALUES (?, ?)", (queue, payload))
        self._bound_wal()

    def claim(self, queue: str, count: int, now: float, until: float) -> list[Leased]:
        """Lease up to `count` ready messages of `queue` until `until`, oldest first."""
        token = uuid.uuid4().hex
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            rows = self.conn.execute(CLAIM, {"queue": queue, "count": count, "now": now, "until": until,
                                             "token": token}).fetchall()
        finally:
            self.conn.execute("COMMIT")
        self._bound_wal()
        return sorted(Leased(Lease(row[0], token), row[1], row[2]) for row in rows)

    def ack(self, lease: Lease) -> bool:
        """Delete the message if the lease is still its own; False if it is not (a late ack)."""
        deleted = self.conn.execute("DELETE FROM messages WHERE id = ? AND token = ?", lease).rowcount == 1
        self._bound_wal()
        return deleted

    def release(self, lease: Lease) -> bool:
        """Give the message back to its queue at once, the same row; False if the lease was lost."""
        query = "UPDATE messages SET leased_until = NULL, token = NULL WHERE id = ? AND token = ?"
        return self.conn.execute(query, lease).rowcount == 1

    def renew(self, leases: Iterable[Lease], until: float) -> None:
        """Hold the leases until `until`; those lost meanwhile stay lost."""
        self.conn.executemany("UPDATE messages SET leased_until = ? WHERE id = ? AND token = ?",
                              [(until, *lease) for lease in leases])

    def size(self, queue: str, now: float) -> int:
        """How many messages of `queue` are ready."""
        query = f"SELECT count(*) FROM messages WHERE {READY}"
        return int(self.conn.execute(query, {"queue": queue, "now": now}).fetchone()[0])

    def purge(self, queue: str, now: float) -> int:
        """Delete the ready messages of `queue`; return how many."""
        return self.conn.execute(f"DELETE FROM messages WHERE {READY}", {"queue": queue, "now": now}).rowcount

    def delete(self, queue: str) -> None:
        """Delete `queue` and every message in it."""
        self.conn.execute("DELETE FROM messages WHERE queue = ?", (queue,))
        self.conn.execute("DELETE FROM queues WHERE name = ?", (queue,))

    def data_version(self) -> int:
        """A number that changes whenever another connection commits to the file."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def _bound_wal(self) -> None:
        """After a write of the busy path (put, claim, ack): past WAL_LIMIT_BYTES, checkpoint the
        write-ahead log so that the next write starts it over."""
        with contextlib.suppress(FileNotFoundError):  # none yet: nothing to bound
            if self.wal.stat().st_size > WAL_LIMIT_BYTES:
                self.conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

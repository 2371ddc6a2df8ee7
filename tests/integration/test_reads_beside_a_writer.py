"""On SQLite, what `status` reads waits for a writer in another connection instead of failing
with "database is locked": no result is left open (a read snapshot held) when the next
transaction begins, which SQLite could not wait for."""

from __future__ import annotations

import threading

from sqlalchemy import text

from pizzeria.messaging import VirtualClock
from pizzeria.messaging.store.engine import make_engine
from pizzeria.process_manager import views
from pizzeria.process_manager.repository import VisitRepository
from pizzeria.process_manager.saga import Visit

TABLES = [f"T{n}" for n in range(5)]


def keep_writing(url: str, stop: threading.Event) -> None:
    """Commit a write after another, in a connection of its own, until told to stop."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS scribbles (n INTEGER)"))
    while not stop.is_set():
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO scribbles VALUES (1)"))
    engine.dispose()


def test_every_table_is_read_while_another_connection_keeps_writing(sqlite_engine, sqlite_url):
    with sqlite_engine.begin() as conn:
        repository = VisitRepository(conn, clock=VirtualClock(1_800_000_000.0))
        for n, table_id in enumerate(TABLES):
            repository.add(Visit(f"visit-{n}", table_id))
        repository.flush()
    stop = threading.Event()
    writer = threading.Thread(target=keep_writing, args=(sqlite_url, stop))
    writer.start()
    try:
        for _ in range(30):
            assert [report["table_id"] for report in views.every_table(sqlite_engine)] == TABLES
    finally:
        stop.set()
        writer.join()

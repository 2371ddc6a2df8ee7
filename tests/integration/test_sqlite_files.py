"""Processes that open a new SQLite file at the same moment all get it, in WAL mode.

SQLite fails the second of two processes turning a new file to WAL at once with "database is
locked", without waiting; each round has a fair chance of showing that, so many rounds do."""

import multiprocessing

import pytest
from sqlalchemy import text

from pizzeria.messaging import make_engine
from pizzeria.messaging.transport.embedded.store import Store

ROUNDS = 40
PROCESSES = 6


def open_with_the_engine(path: str):
    """A function that opens the file with the database engine, made ready beforehand."""
    engine = make_engine(f"sqlite:///{path}")

    def open_() -> str:
        with engine.connect() as conn:
            return conn.execute(text("PRAGMA journal_mode")).scalar_one()
    return open_


def open_as_the_broker(path: str):
    """A function that opens the file as the embedded broker does."""
    return lambda: Store(path).conn.execute("PRAGMA journal_mode").fetchone()[0]


def _open_at_once(opener, path, barrier, results) -> None:
    open_ = opener(path)
    barrier.wait()
    try:
        results.put(open_())
    except Exception as error:  # sqlite3's, or SQLAlchemy's wrapping of it
        results.put(f"{type(error).__name__}: {str(error).splitlines()[0]}")


@pytest.mark.parametrize("opener", [open_with_the_engine, open_as_the_broker])
def test_processes_opening_a_new_file_at_once_all_get_it_in_wal_mode(opener, tmp_path):
    context = multiprocessing.get_context("fork")
    for round_ in range(ROUNDS):
        barrier, results = context.Barrier(PROCESSES), context.Queue()
        path = str(tmp_path / f"new-{round_}.sqlite")
        processes = [context.Process(target=_open_at_once, args=(opener, path, barrier, results))
                     for _ in range(PROCESSES)]
        for process in processes:
            process.start()
        modes = sorted(results.get(timeout=60) for _ in processes)
        for process in processes:
            process.join(timeout=60)
        assert modes == ["wal"] * PROCESSES, f"round {round_}"

"""The inbox: which messages each consumer has already handled, and how it went (which
process, when its handler started, at which attempt, after which error, how many copies were
dropped), for a conversation's story."""

from __future__ import annotations

import os
import socket
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, delete, func, select, update

from .tables import inbox as inbox  # its table, for the modules that read or write it

RETENTION_SECONDS = 7 * 24 * 3600.0  # far longer than any lease, retry or redelivery


def this_process() -> str:
    """How the inbox names the process that handled a message: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Handling:
    """How one message's handling went, to keep with its inbox row."""

    message_id: str
    started_at: float
    attempt: int
    last_error: str | None = None
    duplicates: int = 0


def handled(engine: Engine, consumer: str, message_ids: Iterable[str]) -> set[str]:
    """Which of `message_ids` `consumer` committed the handling of before."""
    wanted = list(message_ids)
    if not wanted:
        return set()
    query = select(inbox.c.message_id).where(inbox.c.consumer == consumer, inbox.c.message_id.in_(wanted))
    with engine.connect() as conn:
        return set(conn.execute(query).scalars())


def rows(consumer: str, process: str, handlings: list[Handling], now: float) -> list[dict[str, object]]:
    """The inbox rows that mark the messages handled by `consumer` in `process` at `now`."""
    return [{"consumer": consumer, "message_id": handling.message_id, "handled_at": now,
             "started_at": handling.started_at, "process": process, "attempt": handling.attempt,
             "last_error": handling.last_error and handling.last_error[:255], "duplicates": handling.duplicates}
            for handling in handlings]


COUNT_DUPLICATES = (update(inbox)
                    .where(inbox.c.consumer == bindparam("b_consumer"), inbox.c.message_id == bindparam("b_id"))
                    .values(duplicates=func.coalesce(inbox.c.duplicates, 0) + bindparam("b_copies")))


def count_duplicates(engine: Engine, consumer: str, message_ids: list[str]) -> None:
    """Count a copy dropped for each of `message_ids` (a message may come several times)."""
    if message_ids:
        with engine.begin() as conn:
            conn.execute(COUNT_DUPLICATES, [{"b_consumer": consumer, "b_id": message_id, "b_copies": copies}
                                            for message_id, copies in Counter(message_ids).items()])


def prune(engine: Engine, before: float) -> int:
    """Forget the messages handled before `before`; return how many. A copy of one that comes
    later is handled again: keep them longer than any copy can take to come."""
    with engine.begin() as conn:
        return conn.execute(delete(inbox).where(inbox.c.handled_at < before)).rowcount

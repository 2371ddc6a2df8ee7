"""The transactional outbox: messages saved with the state that caused them, then relayed."""

from __future__ import annotations

import json
import time
from typing import Callable

from sqlalchemy import (Column, Connection, Engine, Float, Integer, LargeBinary, String, Table,
                        Text, delete, insert, or_, select, update)

from .db import metadata
from .envelope import Envelope

outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(64), nullable=False),
    Column("exchange", String(255), nullable=True),  # None: the topology's exchange
    Column("routing_key", String(255), nullable=False),
    Column("headers", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("not_before", Float, nullable=False, index=True),
    Column("claimed_until", Float, nullable=True),
)

Publish = Callable[..., None]


def add(conn: Connection, envelope: Envelope, routing_key: str) -> None:
    """Save `envelope` for sending, in the caller's transaction."""
    add_raw(conn, envelope.message_id, routing_key, envelope.encode(), envelope.headers())


def add_raw(conn: Connection, message_id: str, routing_key: str, body: bytes, headers: dict,
            exchange: str | None = None, delay: float = 0.0) -> None:
    """Save a message as it will go on the wire, not to be sent before `delay` seconds;
    `exchange` "" sends it straight to the queue named `routing_key`."""
    conn.execute(insert(outbox).values(
        message_id=message_id, exchange=exchange, routing_key=routing_key,
        headers=json.dumps(headers), body=body, not_before=time.time() + delay))


class Relay:
    """Publishes due outbox rows, then deletes them; a claim (lease) keeps relays apart."""

    def __init__(self, engine: Engine, publish: Publish, lease: float = 10.0, batch: int = 100):
        self.engine = engine
        self.publish = publish
        self.lease = lease
        self.batch = batch

    def flush(self) -> int:
        """Publish every row that is due and not claimed by another relay; return how many."""
        sent = 0
        while rows := self._claim():
            published = []
            try:
                for row in rows:
                    self.publish(row.routing_key, row.body, json.loads(row.headers), row.exchange)
                    published.append(row.id)
            finally:
                self._forget(published)
            sent += len(published)
        return sent

    def _claim(self) -> list:
        now = time.time()
        due = (select(outbox.c.id)
               .where(outbox.c.not_before <= now, _unclaimed(now))
               .order_by(outbox.c.id).limit(self.batch)
               .with_for_update(skip_locked=True))
        claim = (update(outbox)
                 .where(outbox.c.id.in_(due.scalar_subquery()), _unclaimed(now))
                 .values(claimed_until=now + self.lease)
                 .returning(outbox.c.id, outbox.c.exchange, outbox.c.routing_key, outbox.c.headers,
                            outbox.c.body))
        with self.engine.begin() as conn:
            return sorted(conn.execute(claim).all(), key=lambda row: row.id)

    def _forget(self, ids: list[int]) -> None:
        if ids:
            with self.engine.begin() as conn:
                conn.execute(delete(outbox).where(outbox.c.id.in_(ids)))


def _unclaimed(now: float):
    return or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now)

"""The transactional outbox: messages saved with the state that caused them, then relayed."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Row, bindparam, delete, insert, or_, select, update

from ..contracts.clock import SYSTEM, Clock
from ..contracts.envelope import Envelope
from ..delivery.middleware import Middleware, Middlewares, Step
from ..observe.middlewares import standard
from ..transport.delivery import Outgoing
from ..transport.headers import from_json_safe, to_json_safe
from .tables import outbox as outbox  # its table, for the modules that read or write it
from .writes import Writes, insert_rows

PublishMany = Callable[[list[Outgoing]], None]
LEASE_SECONDS = 10.0
COLUMNS = (outbox.c.id, outbox.c.exchange, outbox.c.routing_key, outbox.c.headers, outbox.c.body)


def add(conn: Connection, messages: list[tuple[Envelope, str]], now: float) -> Sequence[Row[Any]]:
    """Save `(envelope, routing_key)` pairs as `to_send` rows, in the caller's transaction;
    return the rows, in order."""
    if not messages:
        return []
    return sorted(insert_rows(conn, outbox, to_send(messages, now), COLUMNS), key=lambda row: row.id)


def to_send(messages: list[tuple[Envelope, str]], now: float,
            traced: Mapping[str, Mapping[str, str]] = {}) -> list[dict[str, Any]]:
    """The rows of `(envelope, routing_key)` pairs to send at `now`, claimed by the caller for
    a lease, so that it can send them right after its commit; if it dies first, another relay
    takes them when the lease ends. `traced` adds headers to a message (by id): the context
    of the span that created it."""
    return [_row(envelope, routing_key, traced) | {"not_before": now, "claimed_until": now + LEASE_SECONDS}
            for envelope, routing_key in messages]


def to_send_later(messages: list[tuple[Envelope, str, float]], now: float,
                  traced: Mapping[str, Mapping[str, str]] = {}) -> list[dict[str, Any]]:
    """The rows of `(envelope, routing_key, delay)` triples, for any relay to send once their
    delay after `now` has passed; `traced` as for `to_send`."""
    return [_row(envelope, routing_key, traced) | {"not_before": now + delay} for envelope, routing_key, delay in messages]


def _row(envelope: Envelope, routing_key: str, traced: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """The outbox row of a message sent to the topology's exchange, its span's headers added."""
    return {"message_id": envelope.message_id, "exchange": None, "routing_key": routing_key,
            "headers": json.dumps({**envelope.headers(), **traced.get(envelope.message_id, {})}),
            "body": envelope.encode()}


def withdraw(writes: Writes, message_ids: list[str]) -> None:
    """Delete, with the writes, the rows of delayed messages that no relay has claimed yet."""
    writes.delete(outbox.c.message_id, message_ids, _NOT_CLAIMED)


def add_raw(conn: Connection, message: Outgoing, message_id: str, not_before: float) -> None:
    """Save a JSON message as it will go on the wire, headers of any AMQP type included, for
    any relay to send from the time `not_before` on."""
    conn.execute(insert(outbox).values(
        message_id=message_id, exchange=message.exchange, routing_key=message.routing_key,
        headers=json.dumps(to_json_safe(message.headers)), body=message.body,
        not_before=not_before))


def outgoing(row: Row[Any]) -> Outgoing:
    """The message an outbox row holds, its headers restored."""
    return Outgoing(row.routing_key, row.body, from_json_safe(json.loads(row.headers)), row.exchange)


class Relay:
    """Publishes outbox rows and deletes them once published: the rows a handler just wrote
    (`send`), and any other row that is due and not claimed by a live relay (`sweep`)."""

    def __init__(self, engine: Engine, publish_many: PublishMany, lease: float = LEASE_SECONDS,
                 batch: int = 100, clock: Clock = SYSTEM, middleware: Middleware | None = None, exchange: str = ""):
        self.engine = engine
        self.exchange = exchange  # the topology's, for the traces of what goes to it
        self.publish_many = publish_many
        self.clock = clock
        self.middleware = middleware or Middlewares(standard())  # traces, unless told otherwise
        self.lease = lease
        self.batch = batch
        self.published: list[int] = []

    def send(self, rows: list[Row[Any]]) -> None:
        """Publish rows this process holds the claim of, all confirmed at once; they are
        deleted at the next sweep."""
        if rows:
            messages = [outgoing(row) for row in rows]
            publishing = [(message.exchange or self.exchange, message.routing_key, message.headers)
                          for message in messages]
            self.middleware.before_publish(publishing)
            try:
                self.publish_many(messages)
            except BaseException as error:
                self.middleware.after_publish(publishing, error)
                raise
            self.middleware.after_publish(publishing, None)
            self.published += [row.id for row in rows]

    def sweep(self) -> int:
        """Delete what was published; then publish and delete every row that is due and
        unclaimed (left by a process that died, or delayed); return how many it published."""
        self.forget_published()
        sent = 0
        while rows := self._claim():
            self.middleware.reached(Step.RELAY_CLAIMED)
            self.send(rows)
            self.middleware.reached(Step.RELAY_CONFIRMED)
            self.forget_published()
            sent += len(rows)
        return sent

    def forget_published(self) -> None:
        """Delete the rows published so far."""
        if self.published:
            with self.engine.begin() as conn:
                conn.execute(delete(outbox).where(outbox.c.id.in_(self.published)))
            self.published = []

    def _claim(self) -> list[Row[Any]]:
        now = self.clock.time()
        with self.engine.begin() as conn:
            rows = conn.execute(CLAIM, {"now": now, "until": now + self.lease, "batch": self.batch}).all()
        return sorted(rows, key=lambda row: row.id)


# Built once: a relay claims after every batch and every second, a commit withdraws deadlines.
_NOT_CLAIMED = outbox.c.claimed_until.is_(None)
_UNCLAIMED = or_(_NOT_CLAIMED, outbox.c.claimed_until < bindparam("now"))
_DUE = (select(outbox.c.id).where(outbox.c.not_before <= bindparam("now"), _UNCLAIMED)
        .order_by(outbox.c.id).limit(bindparam("batch")).with_for_update(skip_locked=True))
CLAIM = (update(outbox).where(outbox.c.id.in_(_DUE.scalar_subquery()), _UNCLAIMED)
         .values(claimed_until=bindparam("until")).returning(*COLUMNS))

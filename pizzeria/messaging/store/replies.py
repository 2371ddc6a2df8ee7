"""What a consumer answered to each command it handled, kept with its inbox row: a command that
comes again (a saga re-sending a step whose answer was lost) gets the same answer again, the
same ids, instead of nothing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, Engine, delete, select

from ..contracts.envelope import Envelope
from .tables import replies as replies  # its table, for the modules that read or write it


def rows(consumer: str, answers: Mapping[str, list[tuple[Envelope, str]]], now: float) -> list[dict[str, object]]:
    """The rows that keep what `consumer` sent in answer to each command."""
    return [{"consumer": consumer, "message_id": command_id, "position": position, "routing_key": routing_key,
             "body": envelope.encode(), "recorded_at": now}
            for command_id, sent in answers.items() for position, (envelope, routing_key) in enumerate(sent)]


def recorded(conn: Connection, consumer: str, command_ids: Iterable[str]) -> list[tuple[Envelope, str]]:
    """What `consumer` answered to these commands, in the order it sent it."""
    query = (select(replies.c.body, replies.c.routing_key)
             .where(replies.c.consumer == consumer, replies.c.message_id.in_(list(command_ids)))
             .order_by(replies.c.message_id, replies.c.position))
    return [(Envelope.decode(body), routing_key) for body, routing_key in conn.execute(query)]


def prune(engine: Engine, before: float) -> int:
    """Forget the answers recorded before `before`, as the inbox forgets its rows."""
    with engine.begin() as conn:
        return conn.execute(delete(replies).where(replies.c.recorded_at < before)).rowcount

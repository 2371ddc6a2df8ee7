"""The failed-message store: what could not be handled, kept whole with its error, to be
listed, shown, edited (see failed_edits), replayed or deleted, by id or many at once."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Row, and_, delete, func, insert, select, update

from ..contracts.names import Names
from ..delivery.policy import Tries
from ..observe import tracing
from ..observe.redact import hide_password
from ..transport.delivery import Outgoing
from ..transport.headers import from_json_safe, to_json_safe
from . import failed_edits
from .tables import failed_messages as failed_messages  # its table, for the modules that read or write it


@dataclass(frozen=True)
class Entry:
    """A message that failed for good, as it came, with why."""

    queue: str
    body: bytes
    headers: dict[str, Any]
    content_type: str | None
    error: BaseException
    traceback: str | None
    attempts: int
    first_failed_at: float | None = None

    def without_headers(self, why: BaseException) -> Entry:
        """The same entry with no headers, saying why they could not be kept."""
        return dataclasses.replace(self, headers={}, traceback=f"{self.traceback or ''}\n(headers not kept: {why})")


def store(engine: Engine, entry: Entry, names: Names, now: float) -> int:
    """Keep a message that failed for good at `now`, with its error, once: a replay that fails
    again updates the entry it came from, and so does a message stored before whose delivery
    came back unacked (its consumer died first); their attempts add up. Return the entry's id."""
    failure = {"error_type": type(entry.error).__name__, "error": _shown(str(entry.error)),
               "traceback": _shown(entry.traceback) if entry.traceback else None, "last_failed_at": now}
    with engine.begin() as conn:
        earlier = _earlier(conn, entry, names)
        if earlier is not None:
            conn.execute(update(failed_messages).where(failed_messages.c.id == earlier.id).values(
                **failure, attempts=earlier.attempts + entry.attempts, replayed_at=None))
            return int(earlier.id)
        key = conn.execute(insert(failed_messages).values(
            **failure, queue=entry.queue, message_id=_text(entry.headers.get("message_id")),
            type=_text(entry.headers.get("type")), correlation_id=_text(entry.headers.get("correlation_id")),
            headers=json.dumps(to_json_safe(entry.headers)), body=entry.body,
            content_type=_shown(entry.content_type)[:255] if entry.content_type else None,
            attempts=entry.attempts, first_failed_at=entry.first_failed_at or now)).inserted_primary_key
        assert key is not None  # the insert of one row has one
        return int(key[0])


def _earlier(conn: Connection, entry: Entry, names: Names) -> Row[Any, Any] | None:
    """The entry `entry` is a new failure of: the one it was replayed from, else the one of the
    same message in the same queue, not replayed (by id, or by body when it has none)."""
    columns = select(failed_messages.c.id, failed_messages.c.attempts)
    replayed = _number(entry.headers.get(names.header("replayed")))
    if replayed is not None:
        return conn.execute(columns.where(failed_messages.c.id == replayed)).first()
    message_id = _text(entry.headers.get("message_id"))
    same = failed_messages.c.message_id == message_id if message_id else and_(
        failed_messages.c.message_id.is_(None), failed_messages.c.body == entry.body)
    return conn.execute(columns.where(failed_messages.c.queue == entry.queue, failed_messages.c.replayed_at.is_(None),
                                      same).order_by(failed_messages.c.id).limit(1)).first()


_NOT_REPLAYED = failed_messages.c.replayed_at.is_(None)


def entries(engine: Engine, ids: Sequence[int] | None = None, replayed: bool | None = None,
            where: Sequence[ColumnElement[bool]] = (), **equal: str | None) -> list[Row[Any]]:
    """The entries with these ids (every entry if None), oldest first; only those replayed (or
    not) if `replayed` is given, those that meet each condition of `where`, and those whose
    columns hold each value of `equal` that is not None."""
    with engine.connect() as conn:
        return list(conn.execute(_chosen(select(failed_messages), ids, replayed, where, equal)
                                 .order_by(failed_messages.c.id)).all())


def remove_chosen(engine: Engine, replayed: bool | None, where: Sequence[ColumnElement[bool]]) -> list[int]:
    """Delete the entries `entries` would list with these conditions, and their edits, in one
    transaction; return their ids."""
    with engine.begin() as conn:
        ids = list(conn.execute(_chosen(select(failed_messages.c.id), None, replayed, where, {})).scalars())
        _remove(conn, ids)
    return sorted(ids)


def _chosen(query: Any, ids: Sequence[int] | None, replayed: bool | None, where: Sequence[ColumnElement[bool]],
            equal: dict[str, str | None]) -> Any:
    if ids is not None:
        query = query.where(failed_messages.c.id.in_(ids))
    if replayed is not None:
        query = query.where(failed_messages.c.replayed_at.is_not(None) if replayed else _NOT_REPLAYED)
    return query.where(*where, *(failed_messages.c[name] == value for name, value in equal.items() if value is not None))


def groups(engine: Engine) -> list[dict[str, Any]]:
    """The entries not replayed, counted by queue, type and error class, the largest group first
    (of two as large, the one that failed first)."""
    columns = [failed_messages.c.queue, failed_messages.c.type, failed_messages.c.error_type]
    query = (select(*columns, func.count().label("count")).where(_NOT_REPLAYED).group_by(*columns)
             .order_by(func.count().desc(), func.min(failed_messages.c.id)))
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def headers_of(entry: Row[Any]) -> dict[str, Any]:
    """The headers the entry's message came with, of their AMQP types."""
    return from_json_safe(json.loads(entry.headers))


def replay(engine: Engine, publish: Callable[[Outgoing], None], entry: Row[Any], names: Names, now: float) -> None:
    """Send the entry's message to its queue again, as it was or as its latest edit has it, its
    earlier tries forgotten and marked as a replay of the entry (and of the edit, by their
    ids), traced as one; the inbox lets it through if it never succeeded, and drops it if it
    did. The entry (and the edit) is marked replayed at `now` first, so that a replay failing
    again at once unmarks it."""
    with engine.connect() as conn:
        edit = failed_edits.latest(conn, entry.id)
    headers = {**Tries.forgotten(headers_of(entry), names), names.header("replayed"): entry.id}
    if edit is not None:
        headers[names.header("edit")] = edit.id
    headers |= tracing.replayed(entry.queue, headers, entry.id)
    _mark(engine, entry.id, now, None if edit is None else (edit.id, now))
    try:
        publish(Outgoing(entry.queue, entry.body if edit is None else edit.body, headers, exchange="",
                         content_type=entry.content_type or "application/octet-stream"))
    except BaseException:
        _mark(engine, entry.id, None, None if edit is None else (edit.id, edit.replayed_at))
        raise


def remove(engine: Engine, ids: Sequence[int]) -> None:
    """Delete these entries, and their edits."""
    with engine.begin() as conn:
        _remove(conn, ids)


def _remove(conn: Connection, ids: Sequence[int]) -> None:
    failed_edits.remove(conn, ids)
    conn.execute(delete(failed_messages).where(failed_messages.c.id.in_(ids)))


def _mark(engine: Engine, entry_id: int, replayed_at: float | None, edit: tuple[int, float | None] | None) -> None:
    """Mark the entry replayed at `replayed_at`, and the edit (its id) at its time."""
    with engine.begin() as conn:
        conn.execute(update(failed_messages).where(failed_messages.c.id == entry_id)
                     .values(replayed_at=replayed_at))
        if edit is not None:
            failed_edits.mark(conn, *edit)


def _text(value: object) -> str | None:
    return _shown(str(value))[:64] if value else None


def _shown(text: str) -> str:
    """`text` as the store keeps it: passwords hidden, NUL characters (which PostgreSQL's text
    refuses) written out."""
    return hide_password(text).replace("\x00", "\\x00")


def _number(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError, ArithmeticError):
        return None

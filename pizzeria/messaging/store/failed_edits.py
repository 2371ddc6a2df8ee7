"""Edits of failed messages: a stored message with fields of its payload set anew, kept beside
the original (which its entry keeps as it came) once its message type accepts it. A replay
sends the latest edit; the edit keeps the message's id, so that the consumer's inbox still lets
it take effect once: never if the original did meanwhile."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, insert, select, update

from ..contracts.envelope import Envelope
from ..contracts.errors import BadMessage, MessagingError
from .tables import failed_edits


class EditRefused(MessagingError, ValueError):
    """An edit that does not fit the message's contract, or of a message that cannot be edited,
    saying which field and why."""


def edit(engine: Engine, entry: Row[Any], changes: Mapping[str, Any], types: Mapping[str, type],
         now: float) -> int:
    """Keep the entry's message (as its latest edit left it, else as it came) with each field of
    `changes` set to its value, a dotted field (`order.0.pizza`) reaching inside one, once the
    type of `types` it names decodes it; return the edit's id. EditRefused says why not."""
    if not changes:
        raise EditRefused("nothing to change: set a field")
    with engine.begin() as conn:
        earlier = latest(conn, entry.id)
        body = _edited(entry.body if earlier is None else earlier.body, changes, types)
        key = conn.execute(insert(failed_edits).values(failed_id=entry.id, body=body, edited_at=now,
                                                       changes=json.dumps(dict(changes)))).inserted_primary_key
    assert key is not None  # the insert of one row has one
    return int(key[0])


def _edited(body: bytes, changes: Mapping[str, Any], types: Mapping[str, type]) -> bytes:
    """`body` with `changes` made, once the message type it names decodes it."""
    data = _envelope(body)
    cls = types.get(data["type"])
    if cls is None:
        raise EditRefused(f"its queue takes no message of type {data['type']!r}: there is no contract to check it by")
    payload = copy.deepcopy(data["payload"])
    for field, value in changes.items():
        _set(payload, field, value, cls)
    edited = json.dumps({**data, "payload": payload}, separators=(",", ":")).encode()
    try:
        Envelope.decode(edited).open(types)
    except BadMessage as error:
        raise EditRefused(f"{', '.join(changes)}: {error}") from None
    return edited


def latest(conn: Connection, failed_id: int) -> Row[Any] | None:
    """The entry's latest edit, if it has one."""
    return conn.execute(select(failed_edits).where(failed_edits.c.failed_id == failed_id)
                        .order_by(failed_edits.c.id.desc()).limit(1)).first()


def mark(conn: Connection, edit_id: int, replayed_at: float | None) -> None:
    """Note when a replay sent the edit (None: it could not)."""
    conn.execute(update(failed_edits).where(failed_edits.c.id == edit_id).values(replayed_at=replayed_at))


def remove(conn: Connection, failed_ids: Sequence[int]) -> None:
    """Delete the edits of these entries."""
    conn.execute(delete(failed_edits).where(failed_edits.c.failed_id.in_(failed_ids)))


def details(edit: Row[Any]) -> dict[str, Any]:
    """An edit as plain data: its id, what it set, when, when a replay sent it, and its body."""
    return {"id": edit.id, "changes": json.loads(edit.changes), "edited_at": _iso(edit.edited_at),
            "replayed_at": _iso(edit.replayed_at), "body": edit.body.decode("utf-8", "backslashreplace")}


def _iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _envelope(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if not (isinstance(data, dict) and isinstance(data.get("payload"), dict) and isinstance(data.get("type"), str)):
        raise EditRefused("its body is not a message in an envelope: only a payload's fields can be edited")
    return data


def _set(payload: dict[str, Any], field: str, value: Any, cls: type) -> None:
    """Set `field` of `payload`: its first part names a field of `cls`, the others reach inside."""
    first, *inner = field.split(".")
    if first not in {each.name for each in dataclasses.fields(cls)}:
        raise EditRefused(f"{field}: {cls.__name__} has no field {first!r}")
    container: Any = payload
    key = first
    for depth, part in enumerate(inner):
        container = _inside(container, key, field)
        if not _holds(container, part):
            raise EditRefused(f"{field}: {'.'.join([first, *inner[:depth]])} has no {part!r}")
        key = part
    container[int(key) if isinstance(container, list) else key] = value


def _inside(container: Any, part: str, field: str) -> Any:
    inner = container[int(part)] if isinstance(container, list) else container.get(part)
    if not isinstance(inner, dict | list):
        raise EditRefused(f"{field}: {part!r} holds no fields")
    return inner


def _holds(container: dict[str, Any] | list[Any], part: str) -> bool:
    if isinstance(container, list):
        return part.isascii() and part.isdigit() and int(part) < len(container)
    return part in container

"""The failed store as plain data, for the command line and the web alike: an entry's summary
and its details, the entries that match a filter, and the groups they fall into (by queue,
type and error class)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

FAILED, REPLAYED = "failed", "replayed"
GROUPED_BY = ("queue", "type", "error_type")


def status(entry: Any) -> str:
    """`replayed` once sent again (until it fails again), else `failed`."""
    return REPLAYED if entry.replayed_at else FAILED


def summary(entry: Any) -> dict[str, Any]:
    """What a list shows of an entry."""
    return {"id": entry.id, "status": status(entry), "queue": entry.queue, "type": entry.type,
            "visit_id": entry.correlation_id, "error_type": entry.error_type,
            "error": f"{entry.error_type}: {entry.error}", "attempts": entry.attempts,
            "first_failed_at": _iso(entry.first_failed_at), "last_failed_at": _iso(entry.last_failed_at),
            "replayed_at": _iso(entry.replayed_at)}


def details(entry: Any) -> dict[str, Any]:
    """An entry whole: its summary, the message's id, content type, headers and body, and the traceback."""
    return {**summary(entry), "message_id": entry.message_id, "content_type": entry.content_type,
            "headers": json.loads(entry.headers), "body": entry.body.decode("utf-8", "backslashreplace"),
            "traceback": entry.traceback}


def matching(entries: Iterable[Any], **wanted: str | None) -> list[Any]:
    """The entries whose summary has every value `wanted` (a None value matches anything)."""
    asked = {key: value for key, value in wanted.items() if value is not None}
    return [entry for entry in entries if asked.items() <= summary(entry).items()]


def groups(entries: Iterable[Any]) -> list[dict[str, Any]]:
    """The entries not replayed, counted by queue, type and error class, the largest group first."""
    counts = Counter(tuple(getattr(entry, key) for key in GROUPED_BY) for entry in entries if not entry.replayed_at)
    return [dict(zip(GROUPED_BY, key), count=count) for key, count in counts.most_common()]


def _iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")

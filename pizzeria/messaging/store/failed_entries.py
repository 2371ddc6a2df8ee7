"""The failed store's entries as plain data, for the command line and the web alike: an entry's
status, its summary and its details."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

FAILED, REPLAYED = "failed", "replayed"


def status(entry: Any) -> str:
    """`replayed` once sent again (until it fails again), else `failed`."""
    return REPLAYED if entry.replayed_at else FAILED


def summary(entry: Any) -> dict[str, Any]:
    """What a list shows of an entry."""
    return {"id": entry.id, "status": status(entry), "queue": entry.queue, "type": entry.type,
            "correlation_id": entry.correlation_id, "error_type": entry.error_type,
            "error": f"{entry.error_type}: {entry.error}", "attempts": entry.attempts,
            "first_failed_at": _iso(entry.first_failed_at), "last_failed_at": _iso(entry.last_failed_at),
            "replayed_at": _iso(entry.replayed_at)}


def details(entry: Any) -> dict[str, Any]:
    """An entry whole: its summary, the message's id, content type, headers and body, and the traceback."""
    return {**summary(entry), "message_id": entry.message_id, "content_type": entry.content_type,
            "headers": json.loads(entry.headers), "body": entry.body.decode("utf-8", "backslashreplace"),
            "traceback": entry.traceback}


def _iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")

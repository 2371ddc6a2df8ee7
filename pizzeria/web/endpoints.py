"""The endpoints and their health over HTTP: each endpoint with its queue's depth and
consumers, the messages its consumers handled and the failed ones not replayed, the consumer
processes by their heartbeats; the outbox's lag; the visits that look stuck."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Engine, func, or_, select

from pizzeria.devtools.endpoints import describe
from pizzeria.messaging.store import heartbeats
from pizzeria.messaging.store.failed import failed_messages
from pizzeria.messaging.store.inbox import inbox
from pizzeria.messaging.store.outbox import outbox
from pizzeria.process_manager import views

router = APIRouter(prefix="/api/endpoints", tags=["endpoints"])


@router.get("", summary="The endpoints and their health")
def health(request: Request) -> dict[str, Any]:
    """Every endpoint with its consumers and counts, the outbox's lag, the stuck visits."""
    app, now = request.app.state.pizzeria, time.time()
    processes = heartbeats.processes(app.engine, now)
    handled, failed = _handled(app.engine), _failed(app.engine)
    endpoints = [{**endpoint, "handled": handled.get(endpoint["endpoint"], 0), "failed": failed.get(endpoint["queue"], 0),
                  "processes": [process for process in processes if endpoint["queue"] in process["queues"]]}
                 for endpoint in describe(app)]
    return {"endpoints": endpoints, "outbox": _outbox_lag(app.engine, now),
            "stuck_visits": views.stuck(app.engine, now, app.settings.step_deadline_seconds)}


def _handled(engine: Engine) -> dict[str, int]:
    """The messages each consumer handled, as far back as its inbox remembers."""
    with engine.connect() as conn:
        return {consumer: count for consumer, count in conn.execute(
            select(inbox.c.consumer, func.count()).group_by(inbox.c.consumer))}


def _failed(engine: Engine) -> dict[str, int]:
    """The failed messages not replayed, by queue."""
    query = (select(failed_messages.c.queue, func.count()).where(failed_messages.c.replayed_at.is_(None))
             .group_by(failed_messages.c.queue))
    with engine.connect() as conn:
        return {queue: count for queue, count in conn.execute(query)}


def _outbox_lag(engine: Engine, now: float) -> dict[str, Any]:
    """How many outbox rows are due and not in a relay's hands (those a relay published wait
    only to be deleted), and how long the oldest has waited; how many wait for later."""
    due = outbox.c.not_before <= now
    free = or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now)
    with engine.connect() as conn:
        pending, oldest = conn.execute(select(func.count(), func.min(outbox.c.not_before)).where(due, free)).one()
        later = conn.execute(select(func.count()).where(~due)).scalar_one()
    return {"pending": pending, "oldest_seconds": None if oldest is None else round(now - oldest, 3), "delayed": later}

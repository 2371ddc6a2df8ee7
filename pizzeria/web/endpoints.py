"""The endpoints and their health over HTTP: each endpoint with its queue's depth and
consumers, the messages its consumers handled and the failed ones not replayed, the consumer
processes by their heartbeats and their circuit breakers; the outbox's lag; the visits that look
stuck; the breakers' latest changes."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request

from pizzeria.devtools.endpoints import describe
from pizzeria.messaging import admin
from pizzeria.process_manager import views

router = APIRouter(prefix="/api/endpoints", tags=["endpoints"])


@router.get("", summary="The endpoints and their health")
def health(request: Request) -> dict[str, Any]:
    """Every endpoint with its consumers and counts, the outbox's lag, the stuck visits."""
    app, now = request.app.state.pizzeria, time.time()
    processes = admin.consumer_processes(app.engine, now)
    handled, failed = admin.handled_counts(app.engine), admin.failed_by_queue(app.engine)
    breakers = admin.breaker_states(app.engine, now)
    endpoints = [{**endpoint, "handled": handled.get(endpoint["endpoint"], 0), "failed": failed.get(endpoint["queue"], 0),
                  "processes": [process for process in processes if endpoint["queue"] in process["queues"]],
                  "breakers": [state for state in breakers if state["queue"] == endpoint["queue"]]}
                 for endpoint in describe(app)]
    return {"endpoints": endpoints, "outbox": admin.outbox_lag(app.engine, now),
            "stuck_visits": views.stuck(app.engine, now, app.settings.step_deadline_seconds),
            "breaker_changes": admin.breaker_changes(app.engine)}

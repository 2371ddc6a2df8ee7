"""A visit as it happens, over server-sent events: a `step` event for each entry of its
history (the ones before too), then an `end` event with its report once it has ended."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from pizzeria.process_manager import views
from pizzeria.process_manager.saga import IN_PROGRESS

from . import requests
from .problems import Problem, responses

POLL_SECONDS = 0.2
PING_SECONDS = 15

router = APIRouter(prefix="/api/visits", tags=["visits"])


STREAM: dict[int | str, dict[str, Any]] = {"200": {
    "description": "Events `step`, then `end`", "content": {"text/event-stream": {"schema": {"type": "string"}}}}}


@router.get("/{visit_id}/events", summary="Follow a visit as it happens (server-sent events)",
            response_class=EventSourceResponse, responses={**STREAM, **responses(404, 422)})
def events(visit_id: str, request: Request) -> EventSourceResponse:
    """The visit's steps as they happen (event `step`), ending with its report (event `end`)."""
    engine = request.app.state.pizzeria.engine
    if views.visit(engine, visit_id) is None and requests.by_visit(engine, visit_id) is None:
        raise Problem(404, "No such visit", f"no visit {visit_id}")
    return EventSourceResponse(steps(engine, visit_id), ping=PING_SECONDS)


def steps(engine: Any, visit_id: str, poll: float = POLL_SECONDS) -> Iterator[ServerSentEvent]:
    """Each new history entry of the visit, then its end; it polls the store meanwhile."""
    shown = 0
    while True:
        report = views.visit(engine, visit_id)
        history = report["history"] if report else []
        for entry in history[shown:]:
            yield ServerSentEvent(json.dumps({"visit_id": visit_id, "visit_status": report and report["status"],
                                              **entry}), event="step")
        shown = len(history)
        if report is not None and report["status"] not in (IN_PROGRESS, views.FAILED):
            yield ServerSentEvent(json.dumps(report), event="end")
            return
        time.sleep(poll)

"""The visits over HTTP: start one (idempotently), read one, list them, tell its story, cancel
it or send its step again."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from pizzeria.messaging import new_id
from pizzeria.process_manager import service, storyboard, views
from pizzeria.process_manager.messages import CancelVisit, OrderLine, RetryStep, StartTableService
from pizzeria.process_manager.story import story

from . import requests
from .problems import Problem

TABLE_ID = r"^[A-Za-z0-9_-]{1,32}$"
REQUESTED = "requested"  # asked for, not opened by the process manager yet

router = APIRouter(prefix="/api/visits", tags=["visits"])


class Line(BaseModel):
    """A line of an order."""

    pizza: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=20)


class NewVisit(BaseModel):
    """A visit to start: the table, and what the client will order (None: the waiter chooses)."""

    table_id: str = Field(pattern=TABLE_ID)
    order: list[Line] | None = None


class Cancel(BaseModel):
    """Why the house cancels the visit, told to the client."""

    reason: str = Field(default="cancelled by the house", min_length=1, max_length=200)


@router.post("", status_code=202, summary="Start a visit")
def start(visit: NewVisit, request: Request,
          idempotency_key: Annotated[str | None, Header(max_length=255)] = None) -> JSONResponse:
    """Start a visit; 202 with its Location. The same Idempotency-Key gives the same visit."""
    visit_id = begin(request.app.state.pizzeria, visit, idempotency_key)
    return JSONResponse({"visit_id": visit_id, "table_id": visit.table_id, "status": REQUESTED},
                        status_code=202, headers={"Location": f"/api/visits/{visit_id}"})


def begin(app: Any, visit: NewVisit, idempotency_key: str | None = None) -> str:
    """Start the visit, or find the one started with the same key; return its id. Raises Problem."""
    body = json.dumps(visit.model_dump(), sort_keys=True)
    command = _command(visit)
    visit_id = _visit_of_key(app, idempotency_key, body) if idempotency_key else None
    if visit_id is None:
        _refuse_if_busy(app, visit.table_id)
        visit_id = new_id()
        if not requests.keep(app.engine, visit_id, idempotency_key, body, visit.table_id, time.time()):
            visit_id = _visit_of_key(app, idempotency_key or "", body)  # another request took the key first
    return str(_publish(app, lambda publisher: service.publish_start(publisher, command, str(visit_id))))


@router.get("", summary="List the latest visits")
def listed(request: Request, status: str | None = None, table_id: str | None = None,
           limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """The latest visits, newest first, by status and table if asked."""
    return views.latest_visits(request.app.state.pizzeria.engine, table_id, status, limit)


@router.get("/{visit_id}", summary="Read a visit")
def one(visit_id: str, request: Request) -> dict[str, Any]:
    """A visit: its state, pizzas, bill and history; `requested` until the process manager opens it."""
    engine = request.app.state.pizzeria.engine
    report = views.visit(engine, visit_id)
    if report is not None:
        return report
    asked = requests.by_visit(engine, visit_id)
    if asked is None:
        raise Problem(404, "No such visit", f"no visit {visit_id}")
    return {"visit_id": visit_id, "table_id": asked.table_id, "status": REQUESTED}


@router.get("/{visit_id}/story", summary="Tell a visit's story")
def told(visit_id: str, request: Request) -> dict[str, Any]:
    """The visit's story (see `pizzeria story`)."""
    found = story(request.app.state.pizzeria.engine, visit_id)
    if found is None:
        raise Problem(404, "No such visit", f"no visit {visit_id}")
    return storyboard.as_data(found)


@router.post("/{visit_id}/cancel", status_code=202, summary="Cancel a visit")
def cancel(visit_id: str, request: Request, why: Cancel | None = None) -> dict[str, Any]:
    """Cancel the visit: what can be undone is, what was served is billed, the client is told why."""
    return tell(request, visit_id, CancelVisit((why or Cancel()).reason))


@router.post("/{visit_id}/retry", status_code=202, summary="Send a visit's step again")
def retry(visit_id: str, request: Request) -> dict[str, Any]:
    """Send the visit's current step again, now."""
    return tell(request, visit_id, RetryStep())


def _command(visit: NewVisit) -> StartTableService:
    try:
        order = None if visit.order is None else tuple(OrderLine(line.pizza, line.quantity) for line in visit.order)
    except ValueError as error:
        raise Problem(422, "The request is not valid", f"order: {error}",
                      errors=[{"field": "order", "message": str(error)}]) from None
    return StartTableService(visit.table_id, order)


def _visit_of_key(app: Any, key: str, body: str) -> str | None:
    earlier = requests.by_key(app.engine, key)
    if earlier is None:
        return None
    if earlier.body != body:
        raise Problem(422, "Idempotency-Key reused", "this Idempotency-Key came with another request body")
    return str(earlier.visit_id)


def _refuse_if_busy(app: Any, table_id: str) -> None:
    try:
        service.refuse_if_busy(app.engine, table_id)
    except service.TableBusy as busy:
        raise Problem(409, "Table busy", str(busy)) from None


def tell(request: Request, visit_id: str, command: Any) -> dict[str, Any]:
    """Send `command` to the visit in progress; Problem 404 or 409 if it cannot go."""
    app = request.app.state.pizzeria
    try:
        _publish(app, lambda publisher: service.tell(app.engine, publisher, visit_id, command))
    except service.NotInProgress as error:
        raise Problem(409, "Visit not in progress", str(error)) from None
    except LookupError as error:
        raise Problem(404, "No such visit", str(error)) from None
    return {"visit_id": visit_id, "sent": type(command).__name__}


def _publish(app: Any, send: Any) -> Any:
    publisher = app.publisher()
    try:
        return send(publisher)
    finally:
        publisher.close()

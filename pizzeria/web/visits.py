"""The visits over HTTP: start one (idempotently), read one, list them, tell its story, cancel
it or send its step again."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from pizzeria.messaging import new_id
from pizzeria.process_manager import service, storyboard, views
from pizzeria.process_manager.messages import CancelVisit, OrderLine, RetryStep, StartTableService
from pizzeria.process_manager.story import Story, story
from pizzeria.waiter.messages import MAX_QUANTITY, PIZZA_NAME

from . import requests
from .problems import Problem, responses

TABLE_ID = r"^[A-Za-z0-9_-]{1,32}$"
REQUESTED = "requested"  # asked for, not opened by the process manager yet

router = APIRouter(prefix="/api/visits", tags=["visits"])


class Line(BaseModel):
    """A line of an order."""

    pizza: str = Field(pattern=PIZZA_NAME.pattern)
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class NewVisit(BaseModel):
    """A visit to start: the table, and what the client will order (None: the waiter chooses)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"table_id": "T1", "order": [{"pizza": "margherita", "quantity": 2}]}, {"table_id": "T2"}]})

    table_id: str = Field(pattern=TABLE_ID)
    order: list[Line] | None = None


class Cancel(BaseModel):
    """Why the house cancels the visit, told to the client."""

    reason: str = Field(default="cancelled by the house", min_length=1, max_length=200, examples=["the oven is out"])


STARTED: dict[int | str, dict[str, Any]] = {"202": {
    "description": "Requested: the visit, its table and status `requested`",
    "headers": {"Location": {"description": "The visit", "schema": {"type": "string"}}}}}


@router.post("", status_code=202, summary="Start a visit", responses={**STARTED, **responses(409, 422)})
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


@router.get("", summary="List the latest visits", responses=responses(422))
def listed(request: Request, status: str | None = None, table_id: str | None = None,
           limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """The latest visits, newest first, by status and table if asked."""
    return views.latest_visits(request.app.state.pizzeria.engine, table_id, status, limit)


@router.get("/{visit_id}", summary="Read a visit", responses=responses(404, 422))
def one(visit_id: str, request: Request) -> dict[str, Any]:
    """A visit: its state, pizzas, bill and history; `requested` until the process manager opens it."""
    engine = request.app.state.pizzeria.engine
    report = views.visit(engine, visit_id)
    if report is not None:
        return report
    return {"visit_id": visit_id, "table_id": _asked(engine, visit_id).table_id, "status": REQUESTED}


@router.get("/{visit_id}/story", summary="Tell a visit's story", responses=responses(404, 422))
def told(visit_id: str, request: Request) -> dict[str, Any]:
    """The visit's story (see `pizzeria story`); a visit not opened yet has no steps."""
    engine = request.app.state.pizzeria.engine
    found = story(engine, visit_id)
    if found is None:
        asked = _asked(engine, visit_id)
        found = Story(visit_id, asked.table_id, REQUESTED, asked.requested_at, asked.requested_at, [], [])
    return storyboard.as_data(found)


def _asked(engine: Any, visit_id: str) -> Any:
    """The request of a visit the process manager has not opened; Problem 404 if there is none."""
    asked = requests.by_visit(engine, visit_id)
    if asked is None:
        raise Problem(404, "No such visit", f"no visit {visit_id}")
    return asked


@router.post("/{visit_id}/cancel", status_code=202, summary="Cancel a visit", responses=responses(404, 409, 422))
def cancel(visit_id: str, request: Request, why: Cancel | None = None) -> dict[str, Any]:
    """Cancel the visit: what can be undone is, what was served is billed, the client is told why."""
    return tell(request, visit_id, CancelVisit((why or Cancel()).reason))


@router.post("/{visit_id}/retry", status_code=202, summary="Send a visit's step again",
             responses=responses(404, 409, 422))
def retry(visit_id: str, request: Request) -> dict[str, Any]:
    """Send the visit's current step again, now."""
    return tell(request, visit_id, RetryStep())


def _command(visit: NewVisit) -> StartTableService:
    order = None if visit.order is None else tuple(OrderLine(line.pizza, line.quantity) for line in visit.order)
    return StartTableService(visit.table_id, order)


def _visit_of_key(app: Any, key: str, body: str) -> str | None:
    earlier = requests.by_key(app.engine, key)
    if earlier is None:
        return None
    if earlier.body != body:
        # 409, not 422: the request is valid, but the key is taken by an earlier one
        raise Problem(409, "Idempotency-Key reused", "this Idempotency-Key came with another request body")
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
        if requests.by_visit(app.engine, visit_id) is not None:
            raise Problem(409, "Visit not in progress", f"visit {visit_id} is {REQUESTED}, not opened yet") from None
        raise Problem(404, "No such visit", str(error)) from None
    return {"visit_id": visit_id, "sent": type(command).__name__}


def _publish(app: Any, send: Any) -> Any:
    publisher = app.publisher()
    try:
        return send(publisher)
    finally:
        publisher.close()

"""The pages: the house's charts, fetched again every few seconds, and the visits, updating live
over server-sent events, with filters, a form to start one and one to choose many to act on
(see chosen_visits); a visit with its story, its sequence diagram, its cancel and retry; the
endpoints' health, rates and processing times; the sign-in for a token. Every value shown is
escaped (Jinja2's autoescape)."""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from pizzeria.process_manager import storyboard, views
from pizzeria.process_manager.choice import WAITING
from pizzeria.process_manager.messages import CancelVisit, RetryStep, parse_order
from pizzeria.process_manager.story import MANAGER, story

from . import charts, house
from .endpoints import health
from .problems import Problem
from .visits import Line, NewVisit, begin, tell

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TOKEN_COOKIE = "pizzeria_token"  # HttpOnly and SameSite=Strict: no script and no other site sends it
LIVE_POLL_SECONDS = 0.5
STATUSES = ("in_progress", "failed", "finished", "rejected", "cancelled")
TEMPLATES.env.globals.update(columns=charts.columns, bars=charts.bars, ranges=charts.ranges)

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def visits_page(request: Request, status: str = "", table_id: str = "") -> HTMLResponse:
    """The house at a glance; the latest visits, live, by status and table if asked; a form to
    start one, and one to choose visits to act on."""
    chosen, app = {"status": status, "table_id": table_id}, request.app.state.pizzeria
    return TEMPLATES.TemplateResponse(request, "visits.html", {
        "visits": _rows(app.engine, **chosen), "chosen": chosen, "statuses": STATUSES, "stages": WAITING,
        "live": f"/events/visits?{urlencode(chosen)}", "house": house.charted(app, time.time())})


@router.get("/house", response_class=HTMLResponse)
def house_charts(request: Request) -> HTMLResponse:
    """The charts of the house as they are now, the fragment the home page fetches again every few seconds."""
    answer = TEMPLATES.TemplateResponse(request, "_house.html", {"house": house.charted(request.app.state.pizzeria,
                                                                                         time.time())})
    answer.headers["Cache-Control"] = "no-store"
    return answer


@router.post("/visits", response_class=HTMLResponse)
def start_from_form(request: Request, table_id: Annotated[str, Form()], order: Annotated[str, Form()] = "") -> str:
    """Start a visit from the form; the answer is the line the page shows under it."""
    try:
        lines = [Line(pizza=line.pizza, quantity=line.quantity) for line in parse_order(order)] if order.strip() else None
        visit_id = begin(request.app.state.pizzeria, NewVisit(table_id=table_id, order=lines))
    except (ValueError, ValidationError, Problem) as error:
        return message(_why(error), error=True)
    return message(f"{table_id}: visit {visit_id} started")


@router.get("/visits/{visit_id}", response_class=HTMLResponse)
def visit_page(visit_id: str, request: Request) -> HTMLResponse:
    """One visit: its state, pizzas and bill, its story and sequence diagram, cancel and retry."""
    engine = request.app.state.pizzeria.engine
    report, told = views.visit(engine, visit_id), story(engine, visit_id)
    if report is None or told is None:
        raise Problem(404, "No such visit", f"no visit {visit_id}")
    return TEMPLATES.TemplateResponse(request, "visit.html", {
        "visit": report, "timeline": storyboard.as_text(told), "diagram": storyboard.as_mermaid(told),
        "waiting": storyboard.waiting(told), **_laid_out(*storyboard.as_sequence(told))})


@router.post("/visits/{visit_id}/{operation}", response_class=HTMLResponse)
def operate(visit_id: str, operation: str, request: Request) -> str:
    """Cancel the visit, or send its step again; the answer is the line the page shows."""
    commands = {"cancel": lambda: CancelVisit("cancelled by the house"), "retry": RetryStep}
    if operation not in commands:
        raise Problem(404, "No such operation", f"a visit can be cancelled or retried, not {operation}")
    try:
        tell(request, visit_id, commands[operation]())
    except Problem as error:
        return message(_why(error), error=True)
    return message(f"{operation}: sent")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    """A form for the token that the pages' actions need when one is set."""
    return TEMPLATES.TemplateResponse(request, "login.html", {"needed": request.app.state.token is not None})


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, token: Annotated[str, Form()]) -> HTMLResponse:
    """Keep the token in an HttpOnly, same-site cookie if it is the right one."""
    expected = request.app.state.token
    if expected is None or not hmac.compare_digest(token.encode(), expected.encode()):
        return HTMLResponse(message("that is not the token", error=True), status_code=401)
    answer = HTMLResponse(message("signed in: the pages' actions carry the token now"))
    answer.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
    return answer


@router.get("/endpoints", response_class=HTMLResponse)
def endpoints_page(request: Request) -> HTMLResponse:
    """Every endpoint with its queue, counts, breaker, rate and processing time, the consumer
    processes, the breakers' changes, the outbox, the stuck visits."""
    found = health(request)
    processes = {process["process"]: process for endpoint in found["endpoints"] for process in endpoint["processes"]}
    return TEMPLATES.TemplateResponse(request, "endpoints.html", {
        "health": found, "recent": house.endpoint_figures(request.app.state.pizzeria, time.time()), "processes": [
            {**process, "seen": _when(process["seen_at"])} for process in processes.values()],
        "breaker_changes": [{**change, "when": _when(change["at"])} for change in found["breaker_changes"]]})


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


@router.get("/events/visits")
def visits_events(request: Request, status: str = "", table_id: str = "") -> EventSourceResponse:
    """The visits' rows (by status and table if asked), sent again whenever they change."""
    return EventSourceResponse(_rows_as_they_change(request.app.state.pizzeria.engine, status, table_id), ping=15)


def _rows_as_they_change(engine: Any, status: str, table_id: str) -> Iterator[ServerSentEvent]:
    shown = None
    while True:
        html = TEMPLATES.get_template("_visit_rows.html").render(visits=_rows(engine, status, table_id))
        if html != shown:
            yield ServerSentEvent(html, event="visits")
            shown = html
        time.sleep(LIVE_POLL_SECONDS)


def _rows(engine: Any, status: str = "", table_id: str = "") -> list[dict[str, Any]]:
    """The latest visits, each with how long it took (or has taken so far)."""
    rows = []
    for visit in views.latest_visits(engine, table_id or None, status or None, limit=50):
        started, updated = (datetime.fromisoformat(visit[key]) for key in ("started_at", "updated_at"))
        ended = updated if visit["status"] != "in_progress" else datetime.now(started.tzinfo)
        rows.append({**visit, "took": f"{(ended - started).total_seconds():.1f} s"})
    return rows


COLUMN, ROW, TOP = 170, 26, 50  # the sequence diagram's spacing, in pixels


def _laid_out(parties: list[str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The sequence diagram placed: each party's x, each row's y and its ends' x."""
    x = {party: 80 + COLUMN * column for column, party in enumerate(parties)}
    placed = [{**row, "y": TOP + ROW * index, "x1": x[row.get("from", MANAGER)], "x2": x.get(row.get("to", ""), 0)}
              for index, row in enumerate(rows)]
    return {"parties": [{"name": party, "x": x[party]} for party in parties], "rows": placed,
            "width": 80 * 2 + COLUMN * (len(parties) - 1), "height": TOP + ROW * len(rows) + 10}


def message(text: str, error: bool = False) -> str:
    """The line a page shows after an action (escaped)."""
    return TEMPLATES.get_template("_message.html").render(error=error, text=text)


def _why(error: Exception) -> str:
    if isinstance(error, Problem):
        return error.detail or error.title
    if isinstance(error, ValidationError):
        return "; ".join(f"{'.'.join(map(str, item['loc']))}: {item['msg']}" for item in error.errors())
    return str(error)

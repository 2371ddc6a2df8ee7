"""Operations on many visits from the visits page: the visits in progress at a stage, stuck, or
started longer ago than a while, previewed, then cancelled or sent their step again after a
confirmation, chosen again by the same filters."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from pizzeria.messaging import admin
from pizzeria.process_manager import choice
from pizzeria.process_manager.messages import CancelVisit, RetryStep

from .pages import TEMPLATES, message
from .problems import Problem

router = APIRouter(prefix="/chosen-visits", include_in_schema=False)
COMMANDS = {"cancel": lambda: CancelVisit("cancelled by the house"), "retry": RetryStep}


@router.get("", response_class=HTMLResponse)
def preview(request: Request, stage: str = "", stuck: str = "", older_than: str = "") -> HTMLResponse:
    """The visits the filters choose, with the buttons that act on them: what an operation would touch."""
    try:
        visits = _chosen(request.app.state.pizzeria, stage, stuck, older_than)
    except ValueError as error:
        return HTMLResponse(message(str(error), error=True))
    values = json.dumps({"stage": stage, "stuck": stuck, "older_than": older_than})
    return TEMPLATES.TemplateResponse(request, "_chosen_visits.html", {"visits": visits, "values": values})


@router.post("/{operation}", response_class=HTMLResponse)
def operate(operation: str, request: Request, stage: Annotated[str, Form()] = "", stuck: Annotated[str, Form()] = "",
            older_than: Annotated[str, Form()] = "") -> str:
    """Cancel the visits the filters choose, or send their step again; the answer is the line the page shows."""
    if operation not in COMMANDS:
        raise Problem(404, "No such operation", f"visits can be cancelled or retried, not {operation}")
    app = request.app.state.pizzeria
    try:
        visits = _chosen(app, stage, stuck, older_than)
    except ValueError as error:
        return message(str(error), error=True)
    publisher = app.publisher()
    try:
        told = choice.tell_each(app.engine, publisher, [visit["visit_id"] for visit in visits], COMMANDS[operation]())
    finally:
        publisher.close()
    tables = {visit["visit_id"]: visit["table_id"] for visit in visits}
    return message(f"{operation} sent to {len(told)} visit(s): {', '.join(tables[each] for each in told) or 'none'}")


def _chosen(app: Any, stage: str, stuck: str, older_than: str) -> list[dict[str, Any]]:
    """The visits the filters choose now; ValueError for a bad age, or no filter at all."""
    filters = choice.VisitFilters(stage or None, bool(stuck), admin.duration(older_than) if older_than.strip() else None)
    if not filters.given():
        raise ValueError("choose a stage, the stuck visits, or an age first")
    return choice.chosen(app.engine, filters, time.time(), app.settings.step_deadline_seconds)

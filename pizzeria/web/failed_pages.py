"""The failed messages' pages: their groups, one group's messages, one message whole; replay or
delete one, a selection or a group, each after a confirmation. Bodies, headers and errors come
from anywhere: the templates escape every one of them."""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from pizzeria.messaging import admin
from pizzeria.process_manager.views import with_visit_id

from .failed import ByGroup, ByIds, Group, Id, delete_chosen, details, replay_chosen
from .pages import TEMPLATES, message
from .problems import Problem

router = APIRouter(prefix="/failed", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def groups_page(request: Request) -> HTMLResponse:
    """The messages not replayed, by queue, type and error class."""
    groups = [{**group, "query": urlencode({key: group[key] or "" for key in Group.model_fields})}
              for group in admin.failed_groups(request.app.state.pizzeria.engine)]
    return TEMPLATES.TemplateResponse(request, "failed.html", {"groups": groups})


@router.get("/group", response_class=HTMLResponse)
def group_page(request: Request, queue: str, error_type: str, type: str = "") -> HTMLResponse:
    """One group's messages not replayed, to choose from."""
    group = Group(queue=queue, type=type or None, error_type=error_type)
    entries = admin.failed_entries(request.app.state.pizzeria.engine, status=admin.FAILED, **group.model_dump())
    return TEMPLATES.TemplateResponse(request, "failed_group.html", {
        "group": group, "entries": [with_visit_id(admin.failed_summary(entry)) for entry in entries],
        "group_values": json.dumps({"queue": queue, "type": type, "error_type": error_type})})


@router.get("/{entry_id}", response_class=HTMLResponse)
def message_page(entry_id: int, request: Request) -> HTMLResponse:
    """One failed message whole, and whether a replay would do anything."""
    entry = details(request.app.state.pizzeria.engine, entry_id)
    return TEMPLATES.TemplateResponse(request, "failed_message.html", {
        "entry": entry, "headers": json.dumps(entry["headers"], indent=2, ensure_ascii=False)})


DONE = {"replay": "replayed", "delete": "deleted"}


@router.post("/{operation}", response_class=HTMLResponse)
def operate(operation: str, request: Request, ids: Annotated[list[Id] | None, Form()] = None,
            queue: Annotated[str, Form()] = "", type: Annotated[str, Form()] = "",
            error_type: Annotated[str, Form()] = "") -> str:
    """Replay or delete the chosen messages, or a whole group's; the answer is the line the page shows."""
    app = request.app.state.pizzeria
    if operation not in DONE:
        raise Problem(404, "No such operation", f"failed messages can be replayed or deleted, not {operation}")
    if not ids and not (queue and error_type):
        return message("choose a message first", error=True)
    chosen = ByIds(ids=ids) if ids else ByGroup(group=Group(queue=queue, type=type or None, error_type=error_type))
    try:
        done = replay_chosen(app, chosen) if operation == "replay" else delete_chosen(app.engine, chosen)
    except Problem as error:
        return message(error.detail or error.title, error=True)
    return message(f"{DONE[operation]} {', '.join(map(str, done)) or 'nothing'}")

"""The failed messages' pages: their groups, one group's messages (narrowed by age and error),
one message whole with a form to edit it; replay or delete one, a selection or the messages of
a group shown, each after a confirmation. Bodies, headers and errors come from anywhere: the
templates escape every one of them."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from pizzeria.bootstrap import NAMES
from pizzeria.messaging import admin
from pizzeria.process_manager.views import with_visit_id

from .failed import ByIds, Group, Id, delete_chosen, details, entries_of, of_group, replay_chosen, replay_entries
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
def group_page(request: Request, queue: str, error_type: str, type: str = "", older_than: str = "",
               error: str = "") -> HTMLResponse:
    """One group's messages not replayed, those older and with the error text given if asked: to
    choose from, or to replay or delete all those shown."""
    group = Group(queue=queue, type=type or None, error_type=error_type)
    narrowed = {"older_than": older_than, "error": error}
    problem: str | None = None
    try:
        entries = admin.failed_chosen(request.app.state.pizzeria.engine, _narrowed(group, older_than, error),
                                      time.time())
    except ValueError as bad:
        entries, problem = [], str(bad)
    return TEMPLATES.TemplateResponse(request, "failed_group.html", {
        "group": group, "entries": [with_visit_id(admin.failed_summary(entry)) for entry in entries],
        "narrowed": narrowed, "problem": problem,
        "group_values": json.dumps({"queue": queue, "type": type, "error_type": error_type, **narrowed})})


@router.get("/{entry_id}", response_class=HTMLResponse)
def message_page(entry_id: int, request: Request) -> HTMLResponse:
    """One failed message whole, whether a replay would do anything, and a form to edit it."""
    engine = request.app.state.pizzeria.engine
    entry = details(engine, entry_id)
    return TEMPLATES.TemplateResponse(request, "failed_message.html", {
        "entry": entry, "headers": json.dumps(entry["headers"], indent=2, ensure_ascii=False),
        **_edit_section(engine, entry_id)})


@router.post("/{entry_id}/edit", response_class=HTMLResponse)
def edit(entry_id: int, request: Request, payload: Annotated[str, Form()]) -> HTMLResponse:
    """Keep an edit of the message, its payload the form's JSON, once its contract accepts it;
    the answer is the page's edit section again, saying what happened or why not."""
    app = request.app.state.pizzeria
    (entry,) = entries_of(app.engine, [entry_id])
    section = _edit_section(app.engine, entry_id)
    try:
        changes = _changes(section["payload"] or "{}", payload)
        edit_id = admin.edit_failed(app.engine, entry, changes, app.endpoints.values(), NAMES, time.time())
    except ValueError as refused:  # EditRefused too: the form keeps what was written, to be mended
        section |= {"payload": payload, "note": f"edit refused: {refused}", "error": True}
    else:
        section = _edit_section(app.engine, entry_id) | {
            "note": f"edit {edit_id} kept beside the original: a replay sends it", "error": False}
    return TEMPLATES.TemplateResponse(request, "_failed_edit.html", {**section, "entry": {"id": entry_id}})


DONE = {"replay": "replayed", "delete": "deleted"}


@router.post("/{operation}", response_class=HTMLResponse)
def operate(operation: str, request: Request, ids: Annotated[list[Id] | None, Form()] = None,
            queue: Annotated[str, Form()] = "", type: Annotated[str, Form()] = "",
            error_type: Annotated[str, Form()] = "", older_than: Annotated[str, Form()] = "",
            error: Annotated[str, Form()] = "") -> str:
    """Replay or delete the chosen messages, or a group's (those older and with the error text
    given, if any); the answer is the line the page shows."""
    app = request.app.state.pizzeria
    if operation not in DONE:
        raise Problem(404, "No such operation", f"failed messages can be replayed or deleted, not {operation}")
    if not ids and not (queue and error_type):
        return message("choose a message first", error=True)
    try:
        if ids:
            chosen = ByIds(ids=ids)
            done = replay_chosen(app, chosen) if operation == "replay" else delete_chosen(app.engine, chosen)
        else:
            done = _on_group(app, operation, Group(queue=queue, type=type or None, error_type=error_type),
                             older_than, error)
    except Problem as failure:
        return message(failure.detail or failure.title, error=True)
    except ValueError as failure:  # a bad age
        return message(str(failure), error=True)
    return message(f"{DONE[operation]} {', '.join(map(str, done)) or 'nothing'}")


def _on_group(app: Any, operation: str, group: Group, older_than: str, error: str) -> list[int]:
    """Replay or delete the group's messages (those older and with the error text given)."""
    filters = _narrowed(group, older_than, error)
    if operation == "replay":
        return replay_entries(app, admin.failed_chosen(app.engine, filters, time.time()))
    return admin.delete_failed_chosen(app.engine, filters, time.time())


def _narrowed(group: Group, older_than: str, error: str) -> admin.FailedFilters:
    """The group's filters, narrowed by the age and error text given; ValueError for a bad age."""
    return of_group(group, admin.duration(older_than) if older_than.strip() else None, error.strip() or None)


def _edit_section(engine: Any, entry_id: int) -> dict[str, Any]:
    """What the edit section shows: the latest edit, and the payload to edit (None if the body
    holds no message in an envelope)."""
    edit = admin.failed_edit(engine, entry_id)
    (entry,) = entries_of(engine, [entry_id])
    try:
        data = json.loads(edit["body"] if edit else entry.body)
    except ValueError:
        data = None
    payload = data.get("payload") if isinstance(data, dict) else None
    return {"edit": edit, "changes": json.dumps(edit["changes"], ensure_ascii=False) if edit else "",
            "payload": json.dumps(payload, indent=2, ensure_ascii=False) if isinstance(payload, dict) else None}


def _changes(before: str, after: str) -> dict[str, Any]:
    """The fields whose values the form changed; ValueError if it is no JSON object or drops a field."""
    try:
        old, new = json.loads(before), json.loads(after, parse_constant=_no_constant)
    except ValueError as error:
        raise ValueError(f"the payload is not JSON: {error}") from None
    if not isinstance(new, dict):
        raise ValueError("the payload is a JSON object: {\"field\": value, ...}")
    dropped = sorted(set(old) - set(new))
    if dropped:
        raise ValueError(f"{', '.join(dropped)}: a field cannot be removed, only changed")
    return {field: value for field, value in new.items() if field not in old or old[field] != value}


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is no JSON value")

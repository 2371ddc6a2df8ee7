"""The failed store over HTTP: list and filter it, its groups, one message whole (and whether
the inbox shows it took effect already), replay or delete a selection or a whole group."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from pizzeria.bootstrap import NAMES
from pizzeria.messaging import admin
from pizzeria.process_manager.views import with_visit_id

from .problems import Problem, responses

MAX_ID = 2**53 - 1  # the largest integer every JSON client keeps exactly (JavaScript's MAX_SAFE_INTEGER)
MAX_CHOSEN = 10_000  # ids in one request, each a parameter of one query (SQLite takes 32766)
Id = Annotated[int, Field(ge=1, le=MAX_ID)]

router = APIRouter(prefix="/api/failed", tags=["failed messages"])


class Group(BaseModel):
    """The failed messages of one queue, type and error class (a group as /groups lists it will do)."""

    queue: str
    type: str | None
    error_type: str


class ByIds(BaseModel):
    """Failed messages by id."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"ids": [1, 2]}]})

    ids: list[Id] = Field(min_length=1, max_length=MAX_CHOSEN)


class ByGroup(BaseModel):
    """A whole group: those of its failed messages not replayed yet."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"group": {"queue": "pizzeria.kitchen", "type": "DoPizza", "error_type": "InjectedFault"}}]})

    group: Group


Chosen = ByIds | ByGroup  # one or the other, never both


@router.get("", summary="List the failed messages", responses=responses(422))
def listed(request: Request, queue: str | None = None, type: str | None = None, error_type: str | None = None,
           visit_id: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
    """The failed messages, oldest first, filtered by queue, type, error class, visit and status."""
    entries = admin.failed_entries(request.app.state.pizzeria.engine, queue=queue, type=type, error_type=error_type,
                                   correlation_id=visit_id, status=status)
    return [with_visit_id(admin.failed_summary(entry)) for entry in entries]


@router.get("/groups", summary="Count the failed messages by group")
def grouped(request: Request) -> list[dict[str, Any]]:
    """The messages not replayed, counted by queue, type and error class, the largest group first."""
    return admin.failed_groups(request.app.state.pizzeria.engine)


@router.post("/replay", summary="Replay failed messages", responses=responses(404, 422))
def replay(chosen: Chosen, request: Request) -> dict[str, list[int]]:
    """Send the chosen messages to their queue again, as they were."""
    return {"replayed": replay_chosen(request.app.state.pizzeria, chosen)}


@router.post("/delete", summary="Delete failed messages", responses=responses(404, 422))
def delete(chosen: Chosen, request: Request) -> dict[str, list[int]]:
    """Delete the chosen messages from the store."""
    return {"deleted": delete_chosen(request.app.state.pizzeria.engine, chosen)}


# `:int`: /api/failed/replay is not an entry to GET (405, not 422); the OpenAPI path omits it
@router.get("/{entry_id:int}", summary="Read a failed message whole", responses=responses(404, 422))
def one(entry_id: Annotated[int, Path(ge=1, le=MAX_ID)], request: Request) -> dict[str, Any]:
    """One failed message whole; `took_effect` says whether its consumer's inbox shows it handled
    (a replay would then do nothing)."""
    return details(request.app.state.pizzeria.engine, entry_id)


def details(engine: Any, entry_id: int) -> dict[str, Any]:
    """One entry whole, and whether its consumer's inbox shows it handled; Problem 404 if none."""
    (entry,) = entries_of(engine, [entry_id])
    return {**with_visit_id(admin.failed_details(entry)), "took_effect": admin.took_effect(engine, entry, NAMES)}


def replay_chosen(app: Any, chosen: Chosen) -> list[int]:
    """Replay the chosen entries; return their ids."""
    return replay_entries(app, _chosen(app.engine, chosen))


def replay_entries(app: Any, entries: list[Any]) -> list[int]:
    """Replay these entries, as they came or as last edited; return their ids."""
    publisher = app.publisher()
    try:
        for entry in entries:
            admin.replay_failed(app.engine, publisher.publish, entry, NAMES, time.time())
    finally:
        publisher.close()
    return [entry.id for entry in entries]


def delete_chosen(engine: Any, chosen: Chosen) -> list[int]:
    """Delete the chosen entries; return their ids."""
    if isinstance(chosen, ByGroup):
        return admin.delete_failed_chosen(engine, of_group(chosen.group), time.time())
    ids = [entry.id for entry in entries_of(engine, chosen.ids)]
    admin.delete_failed(engine, ids)
    return ids


def of_group(group: Group, older_than: float | None = None, error: str | None = None) -> admin.FailedFilters:
    """The filters that choose the group's entries not replayed (of those, the ones older and
    with the error given)."""
    return admin.FailedFilters(error=error, older_than=older_than,
                               group=admin.FailedGroup(group.queue, group.type, group.error_type))


def _chosen(engine: Any, chosen: Chosen) -> list[Any]:
    if isinstance(chosen, ByIds):
        return entries_of(engine, chosen.ids)
    return admin.failed_chosen(engine, of_group(chosen.group), time.time())


def entries_of(engine: Any, ids: list[int]) -> list[Any]:
    """The entries with these ids; 404 naming those the store does not hold."""
    entries = admin.failed_entries(engine, ids)
    missing = sorted(set(ids) - {entry.id for entry in entries})
    if missing:
        raise Problem(404, "No such failed message", f"no failed message with id {', '.join(map(str, missing))}")
    return entries

"""The failed store over HTTP: list and filter it, its groups, one message whole (and whether
the inbox shows it took effect already), replay or delete a selection or a whole group."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, model_validator

from pizzeria.bootstrap import NAMES
from pizzeria.messaging import admin
from pizzeria.process_manager.views import with_visit_id

from .problems import Problem

router = APIRouter(prefix="/api/failed", tags=["failed messages"])


class Group(BaseModel):
    """The failed messages of one queue, type and error class."""

    queue: str
    type: str | None
    error_type: str


class Chosen(BaseModel):
    """Failed messages by id, or a whole group (those of it not replayed yet)."""

    ids: list[int] | None = Field(default=None, min_length=1)
    group: Group | None = None

    @model_validator(mode="after")
    def one_of_them(self) -> Chosen:
        if (self.ids is None) == (self.group is None):
            raise ValueError("give ids or a group, not both")
        return self


@router.get("", summary="List the failed messages")
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


@router.get("/{entry_id}", summary="Read a failed message whole")
def one(entry_id: int, request: Request) -> dict[str, Any]:
    """One failed message whole; `took_effect` says whether its consumer's inbox shows it handled
    (a replay would then do nothing)."""
    return details(request.app.state.pizzeria.engine, entry_id)


@router.post("/replay", summary="Replay failed messages")
def replay(chosen: Chosen, request: Request) -> dict[str, list[int]]:
    """Send the chosen messages to their queue again, as they were."""
    return {"replayed": replay_chosen(request.app.state.pizzeria, chosen)}


@router.post("/delete", summary="Delete failed messages")
def delete(chosen: Chosen, request: Request) -> dict[str, list[int]]:
    """Delete the chosen messages from the store."""
    return {"deleted": delete_chosen(request.app.state.pizzeria.engine, chosen)}


def details(engine: Any, entry_id: int) -> dict[str, Any]:
    """One entry whole, and whether its consumer's inbox shows it handled; Problem 404 if none."""
    (entry,) = _entries(engine, [entry_id])
    return {**with_visit_id(admin.failed_details(entry)), "took_effect": admin.took_effect(engine, entry, NAMES)}


def replay_chosen(app: Any, chosen: Chosen) -> list[int]:
    """Replay the chosen entries; return their ids."""
    entries = _chosen(app.engine, chosen)
    publisher = app.publisher()
    try:
        for entry in entries:
            admin.replay_failed(app.engine, publisher.publish, entry, NAMES, time.time())
    finally:
        publisher.close()
    return [entry.id for entry in entries]


def delete_chosen(engine: Any, chosen: Chosen) -> list[int]:
    """Delete the chosen entries; return their ids."""
    ids = [entry.id for entry in _chosen(engine, chosen)]
    admin.delete_failed(engine, ids)
    return ids


def _chosen(engine: Any, chosen: Chosen) -> list[Any]:
    if chosen.ids is not None:
        return _entries(engine, chosen.ids)
    assert chosen.group is not None  # the validator lets nothing else through
    return admin.failed_entries(engine, status=admin.FAILED, **chosen.group.model_dump())


def _entries(engine: Any, ids: list[int]) -> list[Any]:
    """The entries with these ids; 404 naming those the store does not hold."""
    entries = admin.failed_entries(engine, ids)
    missing = sorted(set(ids) - {entry.id for entry in entries})
    if missing:
        raise Problem(404, "No such failed message", f"no failed message with id {', '.join(map(str, missing))}")
    return entries

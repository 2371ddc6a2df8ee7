"""A visit's whole story, from the database alone: each message the process manager received
and sent, in order, with who handled it (the consumer's process, from its inbox), when, for
how long, at which attempt, the stage before and after, and the failures, replays and
duplicates it met; and what still waits in the outbox (a deadline, a retry)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from pizzeria.kitchen.messages import contract as kitchen
from pizzeria.menu.messages import contract as menu
from pizzeria.messaging import admin
from pizzeria.waiter.messages import contract as waiter

from .messages import contract
from .repository import history, visits

MANAGER = contract.module
CLIENT = "client"  # whoever sent a command from outside: the CLI, an operator
ROUTES = {name: kind.route for each in (contract, menu, waiter, kitchen) for name, kind in each.messages.items()}


@dataclass(frozen=True)
class Handled:
    """A message's handling that committed, as its consumer's inbox keeps it."""

    consumer: str
    process: str | None
    started_at: float | None
    handled_at: float
    attempt: int | None
    last_error: str | None
    duplicates: int


@dataclass(frozen=True)
class Failure:
    """A message kept in the failed store: why, after how many attempts, replayed when."""

    failed_id: int
    error: str
    attempts: int
    failed_at: float
    replayed_at: float | None


@dataclass
class Step:
    """One message on its way between two parties of the visit."""

    type: str
    message_id: str
    sender: str
    receiver: str
    sent_at: float | None = None
    handled: Handled | None = None
    stage_before: str | None = None
    stage_after: str | None = None
    note: str | None = None  # why the visit ignored it, what it made go again
    ignored: bool = False  # by the visit: it did not fit the stage
    failures: list[Failure] = field(default_factory=list)

    @property
    def begins(self) -> float | None:
        """When it first shows: sent, else its handler started, else it failed."""
        started = (self.handled.started_at or self.handled.handled_at) if self.handled else None
        failed = self.failures[0].failed_at if self.failures else None
        return self.sent_at or started or failed


@dataclass(frozen=True)
class Waiting:
    """A message of the visit still in the outbox: a deadline, a retry, one not relayed yet."""

    type: str
    due_at: float


@dataclass
class Story:
    """A visit, and every step of it in the order they began."""

    visit_id: str
    table_id: str
    status: str
    started_at: float
    updated_at: float
    steps: list[Step]
    waiting: list[Waiting]

    @property
    def trace_id(self) -> str:
        """The visit's trace, in any tracing backend."""
        return admin.conversation_trace_id(self.visit_id)

    @property
    def begins_at(self) -> float:
        """The first moment the story knows of (the visit is saved while its first message is handled)."""
        return min([self.started_at] + [begins for step in self.steps if (begins := step.begins) is not None])

    @property
    def ends_at(self) -> float:
        """The last moment the story knows of."""
        times = [self.updated_at] + [step.handled.handled_at for step in self.steps if step.handled]
        return max(times + [failure.failed_at for step in self.steps for failure in step.failures])


def story(engine: Engine, visit_id: str) -> Story | None:
    """The story of one visit, or None if there is no such visit."""
    with engine.connect() as conn:
        visit = conn.execute(select(visits).where(visits.c.visit_id == visit_id)).first()
        rows = conn.execute(select(history).where(history.c.visit_id == visit_id).order_by(history.c.id)).all()
    if visit is None:
        return None
    steps = _steps(engine, rows)
    _add_failures(engine, visit_id, steps)
    waiting = [Waiting(kind, due_at) for kind, due_at in admin.waiting_in_outbox(engine, visit_id)]
    ordered = sorted(steps.values(), key=lambda step: step.begins or visit.started_at)
    return Story(visit_id, visit.table_id, visit.status, visit.started_at, visit.updated_at, ordered, waiting)


def _steps(engine: Engine, rows: Sequence[Any]) -> dict[str, Step]:
    """A step for every message of the visit's history, with its handling from the inbox."""
    handled = _handled(engine, rows)
    ours = {row.message_id for row in rows}
    steps: dict[str, Step] = {}
    stage = None
    for row in rows:
        module, kind = _module_and_kind(row.type)
        if row.direction == "sent":
            steps[row.message_id] = Step(row.type, row.message_id, MANAGER, module, sent_at=row.at,
                                         handled=handled.get((module, row.message_id)))
            continue
        sender = module if kind == "event" else MANAGER if row.causation_id in ours else CLIENT
        cause = handled.get((sender, row.causation_id))
        steps[row.message_id] = Step(row.type, row.message_id, sender, MANAGER, sent_at=cause.handled_at if cause else None,
                                     handled=handled.get((MANAGER, row.message_id)), stage_before=stage,
                                     stage_after=row.stage, note=row.note, ignored=row.direction == "ignored")
        stage = row.stage or stage
    return steps


def _handled(engine: Engine, rows: Sequence[Any]) -> dict[tuple[str, str], Handled]:
    """The inbox rows of the history's messages (and of their causes), by consumer and message."""
    ids = {row.message_id for row in rows} | {row.causation_id for row in rows if row.causation_id}
    consumers = {MANAGER} | {_module_and_kind(row.type)[0] for row in rows}
    return {(row.consumer, row.message_id): Handled(row.consumer, row.process, row.started_at, row.handled_at,
                                                    row.attempt, row.last_error, row.duplicates or 0)
            for row in admin.inbox_rows(engine, consumers, ids)}


def _add_failures(engine: Engine, visit_id: str, steps: dict[str, Step]) -> None:
    """Put each failed-store entry of the visit on its message's step, or on a step of its own."""
    for entry in admin.failed_entries(engine, correlation_id=visit_id):
        failure = Failure(entry.id, f"{entry.error_type}: {entry.error}", entry.attempts, entry.last_failed_at,
                          entry.replayed_at)
        key = entry.message_id or f"failed {entry.id}"
        if key not in steps:
            receiver = entry.queue.rsplit(".", 1)[-1]
            module, kind = _module_and_kind(entry.type or "")
            sender = MANAGER if receiver != MANAGER else module if kind == "event" else CLIENT
            steps[key] = Step(entry.type or "a message", entry.message_id or "", sender, receiver)
        steps[key].failures.append(failure)


def _module_and_kind(message_type: str) -> tuple[str, str]:
    """The module a message of this type belongs to, and whether it is a command or an event."""
    module, kind, _ = ROUTES.get(message_type, f"{CLIENT}.command.{message_type}").split(".", 2)
    return module, kind

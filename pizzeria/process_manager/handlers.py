"""The process manager's handlers: load the visit, let the saga decide, save, send."""

from __future__ import annotations

from typing import Any

from pizzeria.kitchen.messages import contract as kitchen
from pizzeria.menu.messages import contract as menu
from pizzeria.messaging import Context, Handler
from pizzeria.waiter.messages import contract as waiter

from . import saga
from .messages import StartTableService
from .repository import VisitRepository, history, history_row


class UnknownVisit(LookupError):
    """An event for a visit that never started."""


def start_table_service(command: StartTableService, context: Context) -> None:
    """Open a visit, unless the table already has one in progress."""
    repository = context.once(VisitRepository.of)
    visit_id = context.envelope.correlation_id
    if repository.get(visit_id) is not None:
        return
    busy = repository.visit_in_progress(command.table_id)
    if busy is None:
        visit, commands = saga.start(visit_id, command)
    else:
        reason = f"table {command.table_id} already has a visit in progress ({busy})"
        visit, commands = saga.refuse(visit_id, command, reason)
    repository.add(visit)
    _record(context, visit.visit_id, commands)


def on_event(event: Any, context: Context) -> None:
    """Move the visit on by one event; the save is compare-and-set at the commit, a conflict is
    retried."""
    repository = context.once(VisitRepository.of)
    loaded = repository.get(context.envelope.correlation_id)
    if loaded is None:
        raise UnknownVisit(f"no visit {context.envelope.correlation_id}")
    visit, version = loaded
    visit, commands = saga.decide(visit, event)
    repository.save(visit, version)
    _record(context, visit.visit_id, commands)


def _record(context: Context, visit_id: str, commands: list) -> None:
    """Send the commands; the history gets the message received and each command sent."""
    now = context.clock.time()
    context.insert_later(history, history_row(visit_id, "received", context.envelope, now))
    for command in commands:
        sent = context.send(command)
        context.insert_later(history, history_row(visit_id, "sent", sent, now))


HANDLERS: dict[type, Handler] = {StartTableService: start_table_service}
HANDLERS.update({event: on_event for contract in (menu, waiter, kitchen)
                 for event in contract.events.values()})

"""The process manager's handlers: load the visit, let the saga decide, save, send; ask for the
step's deadline as a delayed message; record what the visit received, sent, or ignored."""

from __future__ import annotations

from functools import partial
from typing import Any

from pizzeria.kitchen.messages import contract as kitchen
from pizzeria.menu.messages import contract as menu
from pizzeria.messaging import Handler, HandlerContext, tracing
from pizzeria.waiter.messages import contract as waiter

from . import saga
from .messages import CancelVisit, Deadline, RetryStep, StartTableService
from .repository import VisitRepository, history, history_row, sent_before


class UnknownVisit(LookupError):
    """A message for a visit that has not started (yet: it is retried, then stored as failed)."""


def start_table_service(command: StartTableService, context: HandlerContext, timing: saga.Timing) -> None:
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
    _record(context, visit, commands)
    _ask_deadline(context, visit, None, timing)


def on_message(message: Any, context: HandlerContext, timing: saga.Timing) -> None:
    """Move the visit on by one event (or deadline, cancellation, retry); one that does not fit
    its stage is recorded as ignored. The save is compare-and-set at the commit; a conflict is
    retried."""
    repository = context.once(VisitRepository.of)
    loaded = repository.get(context.envelope.correlation_id)
    if loaded is None:
        raise UnknownVisit(f"no visit {context.envelope.correlation_id}")
    before, version = loaded
    if not saga.fits(before, message, timing):
        if not isinstance(message, Deadline):  # a deadline of a step answered since is no news
            context.insert_later(history, history_row(before.visit_id, "ignored", context.envelope,
                                                      context.clock.time(), f"at stage {before.stage}",
                                                      before.stage))
        return
    visit, commands = saga.decide(before, message, timing)
    _trace_decision(before, visit, message)
    repository.save(visit, version)
    _record(context, visit, commands, resending=isinstance(message, (Deadline, RetryStep)))
    _ask_deadline(context, visit, before, timing)


def _trace_decision(before: saga.Visit, visit: saga.Visit, message: Any) -> None:
    """The stage before and after on the message's span; a timeout and a compensation as events."""
    tracing.annotate(**{"pizzeria.stage.before": before.stage, "pizzeria.stage.after": visit.stage})
    if isinstance(message, Deadline):
        tracing.event("deadline passed", stage=message.stage, resends=message.round,
                      then="compensating" if visit.cancelling else "sent again")
    if visit.cancelling and not before.cancelling:
        tracing.event("compensation began", reason=visit.reason)


def _record(context: HandlerContext, visit: saga.Visit, commands: list, resending: bool = False) -> None:
    """Send the commands; the history gets the message received (with the stage it took the
    visit to) and each command sent, once: a command sent again (after a deadline, on a retry)
    is noted on the message that made it go."""
    now, visit_id = context.clock.time(), visit.visit_id
    sent = [context.send(command) for command in commands]
    again = sent_before(context.db, visit_id, [envelope.message_id for envelope in sent]) if resending else set()
    note = f"sent again: {', '.join(e.type for e in sent if e.message_id in again)}" if again else None
    context.insert_later(history, history_row(visit_id, "received", context.envelope, now, note, visit.stage))
    for envelope in sent:
        if envelope.message_id not in again:
            context.insert_later(history, history_row(visit_id, "sent", envelope, now))


def _ask_deadline(context: HandlerContext, visit: saga.Visit, before: saga.Visit | None, timing: saga.Timing) -> None:
    """Once the visit moved on (or ended), take back the deadline of the step it left, if it has
    not gone yet, and send the new step's to the process manager itself, to come back in time."""
    deadline = saga.deadline(visit, before)
    if deadline is None and visit.status == saga.IN_PROGRESS:
        return  # the same step still waits: its deadline stands
    previous = None if before is None else saga.deadline(before)
    if previous is not None:
        context.withdraw(previous)
    if deadline is not None:
        context.send(deadline, delay=timing.deadline_seconds)


def handlers(timing: saga.Timing = saga.TIMING) -> dict[type, Handler]:
    """The process manager's handlers, with the steps' deadlines and re-sends of `timing`."""
    start = partial(start_table_service, timing=timing)
    move_on = partial(on_message, timing=timing)
    found: dict[type, Handler] = {StartTableService: start, Deadline: move_on, CancelVisit: move_on,
                                  RetryStep: move_on}
    found.update({event: move_on for contract in (menu, waiter, kitchen) for event in contract.events.values()})
    return found

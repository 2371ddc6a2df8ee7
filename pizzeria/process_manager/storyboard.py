"""How a visit's story shows: plain data (for JSON), a timeline with bars for a terminal, and a
Mermaid sequence diagram of the messages between the process manager and the workers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from .story import CLIENT, MANAGER, Failure, Handled, Step, Story

BAR_WIDTH = 40
WAIT, WORK, FAIL = "·", "█", "✗"


def as_data(story: Story) -> dict[str, Any]:
    """The story as JSON-ready data: times in ISO 8601, durations in milliseconds."""
    return {"visit_id": story.visit_id, "table_id": story.table_id, "status": story.status,
            "trace_id": story.trace_id, "begins_at": _iso(story.begins_at), "ends_at": _iso(story.ends_at),
            "steps": [_step_data(step) for step in story.steps],
            "waiting": waiting(story)}


def waiting(story: Story) -> list[dict[str, Any]]:
    """What of the visit still waits in the outbox, as data: each message's type and when it is due."""
    return [{"type": wait.type, "due_at": _iso(wait.due_at)} for wait in story.waiting]


def as_text(story: Story) -> str:
    """A heading, then a line per message with a bar of its time (· queued, █ handled, ✗ failed)
    on the scale of the whole visit, and a line of what it met below it."""
    start = story.begins_at
    span = max(story.ends_at - start, 1e-6)
    lines = [f"{story.table_id}  {story.status}  visit {story.visit_id}  trace {story.trace_id}",
             f"from {_iso(start)}, {span:.3f} s; each bar is the whole visit (· queued, █ handled, ✗ failed)"]
    for step in story.steps:
        took = f"{_ms(step.handled):.1f} ms" if step.handled and step.handled.started_at else ""
        process = (step.handled.process or "") if step.handled else "not handled"
        route = f"{step.sender} → {step.receiver}"
        lines.append(f"  {(step.begins or start) - start:+8.3f}s  {step.type:<18} {route:<33} {took:>9}  "
                     f"{process:<20.20} |{_bar(step, start, span)}|")
        if met := _what_it_met(step, start):
            lines.append(f"{'':13}{met}")
    lines += [f"  waiting: {wait.type} due {_iso(wait.due_at)} ({wait.due_at - start:+.3f}s)"
              for wait in story.waiting]
    return "\n".join(lines)


def as_sequence(story: Story) -> tuple[list[str], list[dict[str, Any]]]:
    """The diagram's parties, in order, and its rows: a message (from, to, label, whether an event,
    whether it failed for good) or a note of the stage the visit moved to."""
    parties = list(dict.fromkeys([CLIENT, MANAGER] + [p for step in story.steps for p in (step.sender, step.receiver)]))
    rows: list[dict[str, Any]] = []
    for step in story.steps:
        rows.append({"from": step.sender, "to": step.receiver, "label": _label(step),
                     "event": step.sender not in (MANAGER, CLIENT), "failed": step.handled is None and bool(step.failures)})
        if step.stage_after and step.stage_after != step.stage_before:
            rows.append({"note": step.stage_after})
    return parties, rows


def as_mermaid(story: Story) -> str:
    """A Mermaid sequenceDiagram: commands as solid arrows, events as dashed ones, a message
    that failed for good crossed out, and the visit's stage as a note when it changes."""
    parties, rows = as_sequence(story)
    lines = ["sequenceDiagram"] + [f"    participant {party}" for party in parties]
    for row in rows:
        if "note" in row:
            lines.append(f"    Note over {MANAGER}: {row['note']}")
            continue
        arrow = "-x" if row["failed"] else "-->>" if row["event"] else "->>"
        lines.append(f"    {row['from']}{arrow}{row['to']}: {_mermaid_text(row['label'])}")
    return "\n".join(lines)


def _step_data(step: Step) -> dict[str, Any]:
    return {"type": step.type, "message_id": step.message_id, "from": step.sender, "to": step.receiver,
            "sent_at": _iso(step.sent_at), "handled": _handled_data(step.handled),
            "stage_before": step.stage_before, "stage_after": step.stage_after, "note": step.note,
            "ignored": step.ignored,
            "failures": [_failure_data(failure) for failure in step.failures]}


def _handled_data(handled: Handled | None) -> dict[str, Any] | None:
    if handled is None:
        return None
    return {"by": handled.consumer, "process": handled.process, "started_at": _iso(handled.started_at),
            "handled_at": _iso(handled.handled_at), "duration_ms": _ms(handled) if handled.started_at else None,
            "attempt": handled.attempt, "last_error": handled.last_error, "duplicates": handled.duplicates}


def _failure_data(failure: Failure) -> dict[str, Any]:
    return {"failed_id": failure.failed_id, "error": failure.error, "attempts": failure.attempts,
            "failed_at": _iso(failure.failed_at), "replayed_at": _iso(failure.replayed_at)}


def _what_it_met(step: Step, start: float) -> str:
    """The stage it moved the visit to, its retries, duplicates, failures and replays, if any."""
    met = []
    if step.stage_after and step.stage_after != step.stage_before:
        met.append(f"stage {step.stage_before or 'new'} → {step.stage_after}")
    if step.note:
        met.append(f"ignored {step.note}" if step.ignored else step.note)
    handled = step.handled
    if handled and (handled.attempt or 1) > 1:
        met.append(f"attempt {handled.attempt}" + (f", after {handled.last_error}" if handled.last_error else ""))
    if handled and handled.duplicates:
        met.append(f"{handled.duplicates} duplicate{'s' if handled.duplicates > 1 else ''} dropped")
    for failure in step.failures:
        replayed = f", replayed at {failure.replayed_at - start:+.3f}s" if failure.replayed_at else ""
        met.append(f"failed after {failure.attempts} attempts: {failure.error} "
                   f"(pizzeria failed show {failure.failed_id}){replayed}")
    return "; ".join(met)


def _bar(step: Step, start: float, span: float) -> str:
    """The step's time on the visit's scale: queued from sent to its handler's start, then handled."""
    cells = [" "] * BAR_WIDTH

    def paint(since: float | None, until: float | None, mark: str) -> None:
        if since is not None and until is not None:
            for cell in range(_cell(since, start, span), _cell(until, start, span) + 1):
                cells[cell] = mark

    handled = step.handled
    if handled is not None:
        began = handled.started_at or handled.handled_at
        paint(step.sent_at, began, WAIT)
        paint(began, handled.handled_at, WORK)
    for failure in step.failures:
        paint(failure.failed_at, failure.failed_at, FAIL)
    if handled is None and not step.failures:
        paint(step.sent_at, start + span, WAIT)
    return "".join(cells)


def _cell(at: float, start: float, span: float) -> int:
    return min(BAR_WIDTH - 1, max(0, int((at - start) / span * BAR_WIDTH)))


def _label(step: Step) -> str:
    handled = step.handled
    if handled is None and step.failures:
        return f"{step.type} (failed: {step.failures[-1].error.split(':')[0]})"
    if handled and (handled.attempt or 1) > 1:
        return f"{step.type} (attempt {handled.attempt})"
    return step.type + (" (ignored)" if step.ignored else "")


def _mermaid_text(text: str) -> str:
    """Text a Mermaid message may hold: no line breaks, no statement or entity separators."""
    return re.sub(r"[;#\n\r]", " ", text)


def _ms(handled: Handled) -> float:
    return round((handled.handled_at - (handled.started_at or handled.handled_at)) * 1000, 3)


def _iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat()

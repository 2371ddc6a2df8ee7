"""What `status` shows: a visit's state and history as plain data, read straight from the store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from pizzeria.messaging import admin

from .messages import Deadline
from .repository import history, visits
from .saga import IN_PROGRESS

FAILED = "failed"


def latest_visit(engine: Engine, table_id: str) -> dict[str, Any] | None:
    """The report of the table's visit in progress, else of its latest one; None if it had none."""
    query = (select(visits).where(visits.c.table_id == table_id)
             .order_by((visits.c.status == IN_PROGRESS).desc(), visits.c.started_at.desc()).limit(1))
    return _first_report(engine, query)


def visit(engine: Engine, visit_id: str) -> dict[str, Any] | None:
    """The report of one visit by its id, or None."""
    return _first_report(engine, select(visits).where(visits.c.visit_id == visit_id))


def every_table(engine: Engine) -> list[dict[str, Any]]:
    """The visit `latest_visit` reports for every table, by table id."""
    with engine.connect() as conn:
        tables = conn.execute(select(visits.c.table_id).distinct().order_by(visits.c.table_id)).scalars().all()
    return [report for table_id in tables if (report := latest_visit(engine, table_id)) is not None]


def latest_visits(engine: Engine, table_id: str | None = None, status: str | None = None,
                  limit: int = 100) -> list[dict[str, Any]]:
    """The reports of the latest visits, newest first, of one table or all, of one status or any
    (`failed` included: a visit held up by a failed message), without their history."""
    query = select(visits).order_by(visits.c.started_at.desc(), visits.c.visit_id)
    if table_id is not None:
        query = query.where(visits.c.table_id == table_id)
    if status is not None and status != FAILED:
        query = query.where(visits.c.status == status)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    reports = (_report(engine, row, with_history=False) for row in rows)
    return [report for report in reports if status is None or report["status"] == status][:limit]


def stuck(engine: Engine, now: float, deadline_seconds: float, grace: float = 1.0) -> list[dict[str, Any]]:
    """The visits in progress that have not moved for longer than a step's deadline, or that
    have no deadline pending (for longer than `grace`): their reports, with their stage, how
    long they have waited and whether a deadline is pending."""
    pending = admin.conversations_waiting(engine, Deadline.route)
    with engine.connect() as conn:
        rows = conn.execute(select(visits).where(visits.c.status == IN_PROGRESS).order_by(visits.c.table_id)).all()
    found = []
    for row in rows:
        waited = now - row.updated_at
        if waited > deadline_seconds or (row.visit_id not in pending and waited > grace):
            found.append({**_report(engine, row), "stage": json.loads(row.state)["stage"],
                          "waited_seconds": round(waited, 1), "deadline_pending": row.visit_id in pending})
    return found


def _first_report(engine: Engine, query) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else _report(engine, row)


def _report(engine: Engine, row, with_history: bool = True) -> dict[str, Any]:
    state = json.loads(row.state)
    bill = state["bill_cents"]
    status, reason = row.status, state["reason"]
    stuck = _failed_message(engine, row.visit_id) if status == IN_PROGRESS else None
    if stuck is not None:
        status, reason = FAILED, (f"{stuck.type or 'a message'} failed in {stuck.queue} after "
                                  f"{stuck.attempts} attempts: {stuck.error_type}: {stuck.error} "
                                  f"(pizzeria failed show {stuck.id})")
    return {
        "table_id": row.table_id, "visit_id": row.visit_id, "trace_id": admin.conversation_trace_id(row.visit_id),
        "status": status, "stage": state["stage"],
        "reason": reason, "started_at": _iso(row.started_at), "updated_at": _iso(row.updated_at),
        "order": [{"pizza": line["pizza"], "quantity": line["quantity"]} for line in state["order"]],
        "pizzas": [{"kitchen_order_id": pizza["kitchen_order_id"], "pizza": pizza["pizza"],
                    "status": _pizza_status(pizza)} for pizza in state["pizzas"]],
        "bill": None if bill is None else {"amount": f"{bill / 100:.2f}", "paid": state["paid"]},
        **({"history": _history(engine, row.visit_id)} if with_history else {}),
    }


def _history(engine: Engine, visit_id: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        entries = conn.execute(select(history).where(history.c.visit_id == visit_id).order_by(history.c.id)).all()
    return [{"type": entry.type, "direction": entry.direction, "message_id": entry.message_id, "at": _iso(entry.at),
             "note": entry.note} for entry in entries]


def _failed_message(engine: Engine, visit_id: str):
    """The visit's oldest message in the failed store that was not replayed, if any."""
    return next(iter(admin.failed_entries(engine, correlation_id=visit_id, status=admin.FAILED)), None)


def with_visit_id(entry: dict[str, Any]) -> dict[str, Any]:
    """A failed message's summary or details as the house shows them: its correlation id is its visit's id."""
    return {("visit_id" if key == "correlation_id" else key): value for key, value in entry.items()}


def _pizza_status(pizza: dict[str, Any]) -> str:
    return "done" if pizza["done"] else "cancelled" if pizza.get("cancelled") else "todo"


def arrow(direction: str) -> str:
    """How a history entry shows: → sent, ← received, × ignored."""
    return {"sent": "→", "received": "←"}.get(direction, "×")


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def visit_line(report: dict[str, Any]) -> str:
    """One line: table, status, order, bill, and the reason if it did not finish."""
    order = ", ".join(f"{line['pizza']} x{line['quantity']}" for line in report["order"]) or "no order"
    bill = report["bill"]
    paid = f"bill {bill['amount']} {'paid' if bill['paid'] else 'unpaid'}" if bill else "no bill"
    reason = f" ({report['reason']})" if report["reason"] else ""
    return f"{report['table_id']:<8} {report['status']:<11} {order}; {paid}{reason}"


def visit_details(report: dict[str, Any]) -> str:
    """Several lines: the visit's line, its pizzas and its history."""
    lines = [visit_line(report), f"  visit {report['visit_id']} started {report['started_at']}, trace {report['trace_id']}"]
    lines += [f"  pizza {p['pizza']:<18} {p['status']:<5} {p['kitchen_order_id']}" for p in report["pizzas"]]
    lines += [f"  {e['at']}  {arrow(e['direction'])} {e['type']}" + (f" (ignored {e['note']})" if e["note"] else "")
              for e in report["history"]]
    return "\n".join(lines)

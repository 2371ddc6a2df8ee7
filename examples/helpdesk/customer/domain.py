"""The customer service's own records: one row per issue reported, with its ticket and the time
its confirmation went out once they are known."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Connection, Engine, Float, Integer, MetaData, Row, String, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from pizzeria.messaging import Conflict

from .messages import MAX_EMAIL, MAX_ID, MAX_SUMMARY, ReportIssue

metadata = MetaData()

issues = Table(
    "customer_issues", metadata,
    Column("issue_id", String(MAX_ID), primary_key=True),
    Column("email", String(MAX_EMAIL), nullable=False),
    Column("summary", String(MAX_SUMMARY), nullable=False),
    Column("reported_at", Float, nullable=False),
    Column("ticket_id", Integer, nullable=True),
    Column("confirmed_at", Float, nullable=True),
)


def record_issue(conn: Connection, report: ReportIssue, at: float) -> bool:
    """Record the issue reported at `at`; False if an issue with its id is known already. Raise
    Conflict if another customer service recorded it meanwhile (the handler then runs again)."""
    if conn.execute(select(issues.c.issue_id).where(issues.c.issue_id == report.issue_id)).first() is not None:
        return False
    try:
        conn.execute(insert(issues).values(issue_id=report.issue_id, email=report.email, summary=report.summary,
                                           reported_at=at))
    except IntegrityError:
        raise Conflict(f"issue {report.issue_id} was recorded meanwhile") from None
    return True


def note_ticket(conn: Connection, issue_id: str, ticket_id: int) -> None:
    """Write down the ticket the backoffice opened for the issue."""
    conn.execute(update(issues).where(issues.c.issue_id == issue_id).values(ticket_id=ticket_id))


def note_confirmation(conn: Connection, issue_id: str, at: float) -> None:
    """Write down that the issue's confirmation went out at `at`."""
    conn.execute(update(issues).where(issues.c.issue_id == issue_id).values(confirmed_at=at))


def issue(engine: Engine, issue_id: str) -> Row[Any] | None:
    """The issue's row, if it was recorded."""
    with engine.connect() as conn:
        return conn.execute(select(issues).where(issues.c.issue_id == issue_id)).first()

"""The backoffice's own records: the tickets, one row per ticket opened (an issue given two
tickets would show as two rows), each correlated with the issue it was opened for."""

from __future__ import annotations

from sqlalchemy import Column, Connection, Engine, Float, Integer, MetaData, String, Table, func, insert, select

metadata = MetaData()

tickets = Table(
    "backoffice_tickets", metadata,
    Column("ticket_id", Integer, primary_key=True, autoincrement=True),
    Column("issue_id", String(64), nullable=False, index=True),
    Column("correlation_id", String(64), nullable=False),
    Column("summary", String(200), nullable=False),
    Column("opened_at", Float, nullable=False),
)


def open_ticket(conn: Connection, issue_id: str, correlation_id: str, summary: str, at: float) -> int:
    """Open a ticket for the issue at `at`, correlated with `correlation_id`; return its number."""
    key = conn.execute(insert(tickets).values(issue_id=issue_id, correlation_id=correlation_id, summary=summary,
                                              opened_at=at)).inserted_primary_key
    assert key is not None  # the insert of one row has one
    return int(key[0])


def tickets_per_issue(engine: Engine) -> dict[str, int]:
    """How many tickets each issue was given."""
    query = select(tickets.c.issue_id, func.count()).group_by(tickets.c.issue_id)
    with engine.connect() as conn:
        return {issue_id: count for issue_id, count in conn.execute(query)}

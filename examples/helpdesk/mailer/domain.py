"""The mailer's own records: one row per confirmation sent (one sent twice would show as two
rows), and the mail server it sends through, which is up unless a row says it is down: a
simulated outage, set by whoever runs the helpdesk, never by chance."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Connection, Engine, Float, Integer, MetaData, String, Table, delete, func, insert, select

from ..customer.messages import MAX_EMAIL, MAX_ID

metadata = MetaData()

confirmations = Table(
    "mailer_confirmations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("issue_id", String(MAX_ID), nullable=False, index=True),
    Column("email", String(MAX_EMAIL), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("sent_at", Float, nullable=False),
)

mail_server = Table(
    "mailer_mail_server", metadata,
    Column("name", String(32), primary_key=True),
    Column("down", Boolean, nullable=False),
)

SERVER = "smtp"


class MailServerDown(Exception):
    """The mail server refused the mail: it is down, try again later."""


def send_mail(conn: Connection, issue_id: str, email: str, subject: str, at: float) -> None:
    """Send the confirmation of the issue, which is recording it in the transaction; raise
    MailServerDown while the mail server is down."""
    if conn.execute(select(mail_server.c.down).where(mail_server.c.name == SERVER)).scalar():
        raise MailServerDown("the mail server is down")
    conn.execute(insert(confirmations).values(issue_id=issue_id, email=email, subject=subject, sent_at=at))


def take_mail_server_down(engine: Engine) -> None:
    """From now on the mail server refuses every mail."""
    with engine.begin() as conn:
        conn.execute(delete(mail_server).where(mail_server.c.name == SERVER))
        conn.execute(insert(mail_server).values(name=SERVER, down=True))


def bring_mail_server_up(engine: Engine) -> None:
    """From now on the mail server takes mail again."""
    with engine.begin() as conn:
        conn.execute(delete(mail_server).where(mail_server.c.name == SERVER))


def confirmations_per_issue(engine: Engine) -> dict[str, int]:
    """How many confirmations went out for each issue."""
    query = select(confirmations.c.issue_id, func.count()).group_by(confirmations.c.issue_id)
    with engine.connect() as conn:
        return {issue_id: count for issue_id, count in conn.execute(query)}

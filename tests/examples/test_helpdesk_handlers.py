"""Each handler of the helpdesk alone, through the core's `FakeContext`: what it records in its
module's tables, what it sends, and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

from examples.helpdesk.backoffice.domain import tickets
from examples.helpdesk.backoffice.handlers import open_ticket_for
from examples.helpdesk.backoffice.messages import OpenTicket, TicketOpened
from examples.helpdesk.customer.domain import issue
from examples.helpdesk.customer.handlers import confirmation_sent, report_issue, ticket_opened
from examples.helpdesk.customer.messages import IssueReported, ReportIssue
from examples.helpdesk.mailer.domain import (
    MailServerDown,
    bring_mail_server_up,
    confirmations,
    confirmations_per_issue,
    take_mail_server_down,
)
from examples.helpdesk.mailer.handlers import issue_reported
from examples.helpdesk.mailer.messages import ConfirmationSent
from pizzeria.messaging import VirtualClock, derived_id
from pizzeria.messaging.testing import FakeContext

REPORT = ReportIssue("issue-1", "ada@example.com", "The printer prints only question marks")
REPORTED = IssueReported("issue-1", "ada@example.com", "The printer prints only question marks")


def handled(handler: Any, message: Any, engine: Engine, at: float = 1000.0, correlation_id: str = "issue-1") -> FakeContext:
    """Run `handler` on the first delivery of `message` in `correlation_id`, and commit."""
    context = FakeContext.of(message, correlation_id=correlation_id, engine=engine, clock=VirtualClock(start=at))
    handler(message, context)
    context.commit()
    return context


def test_a_report_records_the_issue_publishes_it_and_asks_the_backoffice_for_a_ticket(engine):
    context = handled(report_issue, REPORT, engine)
    assert context.messages == [REPORTED, OpenTicket("issue-1", REPORT.summary)]
    assert context.sent[1].message_id == derived_id("issue-1", "OpenTicket/issue-1")  # the same for every resend
    recorded = issue(engine, "issue-1")
    assert recorded is not None
    assert (recorded.email, recorded.reported_at, recorded.ticket_id) == ("ada@example.com", 1000.0, None)


def test_an_issue_reported_again_is_left_as_it_is_and_nothing_is_sent(engine):
    handled(report_issue, REPORT, engine)
    context = handled(report_issue, ReportIssue("issue-1", "bob@example.com", "Something else"), engine)
    assert context.messages == []
    recorded = issue(engine, "issue-1")
    assert recorded is not None and recorded.email == "ada@example.com"


@pytest.mark.parametrize("fields", [
    {"issue_id": ""}, {"issue_id": "x" * 65}, {"email": "ada.example.com"}, {"email": "a@b@c"},
    {"summary": "   "}, {"summary": "x" * 201},
])
def test_a_report_with_a_bad_field_is_refused_when_it_is_made(fields):
    with pytest.raises(ValueError):
        ReportIssue(**{"issue_id": "issue-1", "email": "ada@example.com", "summary": "Broken", **fields})


def test_the_customer_notes_the_ticket_and_the_confirmation_as_they_come(engine):
    handled(report_issue, REPORT, engine)
    assert handled(ticket_opened, TicketOpened("issue-1", 7), engine).messages == []
    assert handled(confirmation_sent, ConfirmationSent("issue-1", "ada@example.com"), engine, at=1005.0).messages == []
    recorded = issue(engine, "issue-1")
    assert recorded is not None and (recorded.ticket_id, recorded.confirmed_at) == (7, 1005.0)


def test_the_mailer_sends_the_confirmation_and_says_so(engine):
    context = handled(issue_reported, REPORTED, engine)
    assert context.messages == [ConfirmationSent("issue-1", "ada@example.com")]
    with engine.connect() as conn:
        (mail,) = conn.execute(select(confirmations)).all()
    assert (mail.issue_id, mail.email, mail.sent_at) == ("issue-1", "ada@example.com", 1000.0)
    assert "issue-1" in mail.subject and REPORTED.summary in mail.subject


def test_while_the_mail_server_is_down_the_mailer_raises_and_sends_nothing(engine):
    take_mail_server_down(engine)
    with FakeContext.of(REPORTED, correlation_id="issue-1", engine=engine) as context, pytest.raises(MailServerDown):
        issue_reported(REPORTED, context)
    assert context.messages == [] and confirmations_per_issue(engine) == {}
    bring_mail_server_up(engine)
    assert handled(issue_reported, REPORTED, engine).messages == [ConfirmationSent("issue-1", "ada@example.com")]


def test_the_backoffice_opens_a_ticket_in_the_issues_correlation_and_answers_with_its_number(engine):
    first = handled(open_ticket_for, OpenTicket("issue-1", "Broken"), engine)
    second = handled(open_ticket_for, OpenTicket("issue-2", "Also broken"), engine, correlation_id="issue-2")
    (opened,) = first.messages
    assert isinstance(opened, TicketOpened) and opened.issue_id == "issue-1"
    assert second.messages == [TicketOpened("issue-2", opened.ticket_id + 1)]
    with engine.connect() as conn:
        rows = conn.execute(select(tickets.c.issue_id, tickets.c.correlation_id).order_by(tickets.c.ticket_id)).all()
    assert [tuple(row) for row in rows] == [("issue-1", "issue-1"), ("issue-2", "issue-2")]

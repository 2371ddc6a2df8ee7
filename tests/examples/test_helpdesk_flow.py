"""The helpdesk's three modules together on the core's harness (`Bus`, in one process): the
routes the distributed bus derives from what each module handles, an issue's whole story with
its mail failed, stored and replayed, and, for any number of issues, one ticket and one
confirmation each."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from examples.helpdesk.app import NAMES, create_tables, endpoints
from examples.helpdesk.backoffice.domain import tickets_per_issue
from examples.helpdesk.backoffice.messages import TicketOpened
from examples.helpdesk.customer.domain import issue
from examples.helpdesk.customer.messages import ReportIssue
from examples.helpdesk.mailer.domain import bring_mail_server_up, confirmations_per_issue, take_mail_server_down
from examples.helpdesk.mailer.messages import ConfirmationSent
from pizzeria.messaging import admin, make_engine
from pizzeria.messaging.testing import Bus


def report(issue_id: str) -> ReportIssue:
    """The report of an issue by Ada."""
    return ReportIssue(issue_id, "ada@example.com", f"Trouble number {issue_id}")


def bus_on(engine: Engine) -> Bus:
    """The helpdesk's endpoints on the harness."""
    return Bus(list(endpoints().values()), engine, NAMES)


def replay(engine: Engine, bus: Bus, entry: Any) -> None:
    """Send the failed store's entry again, on the bus."""
    admin.replay_failed(engine, bus.publish, entry, NAMES, time.time())


def test_each_module_is_bound_to_the_commands_sent_to_it_and_the_events_it_subscribes_to():
    routes = {name: endpoint.routes for name, endpoint in endpoints().items()}
    assert routes == {"customer": ["backoffice.event.TicketOpened", "customer.command.*", "mailer.event.ConfirmationSent"],
                      "mailer": ["customer.event.IssueReported"], "backoffice": ["backoffice.command.*"]}


def test_an_issue_whose_mail_failed_is_replayed_and_ends_with_one_ticket_and_one_confirmation(engine):
    take_mail_server_down(engine)
    with bus_on(engine) as bus:
        bus.send(report("issue-1"), correlation_id="issue-1")
        bus.wait_for(TicketOpened, "issue-1")
        bus.run()
        (entry,) = admin.failed_entries(engine, correlation_id="issue-1")
        assert (entry.type, entry.error_type, entry.error) == ("IssueReported", "MailServerDown", "the mail server is down")
        assert admin.failed_status(entry) == admin.FAILED
        assert confirmations_per_issue(engine) == {}
        bring_mail_server_up(engine)
        replay(engine, bus, entry)
        bus.wait_for(ConfirmationSent, "issue-1")
        bus.run()
    recorded = issue(engine, "issue-1")
    assert recorded is not None and recorded.ticket_id is not None and recorded.confirmed_at is not None
    assert confirmations_per_issue(engine) == {"issue-1": 1} and tickets_per_issue(engine) == {"issue-1": 1}
    assert [admin.failed_status(each) for each in admin.failed_entries(engine)] == [admin.REPLAYED]


def test_a_message_replayed_again_after_it_succeeded_sends_no_second_mail(engine):
    take_mail_server_down(engine)
    with bus_on(engine) as bus:
        bus.send(report("issue-1"), correlation_id="issue-1")
        bus.run()
        (entry,) = admin.failed_entries(engine)
        bring_mail_server_up(engine)
        for _ in range(2):
            replay(engine, bus, entry)
            bus.run()
    assert confirmations_per_issue(engine) == {"issue-1": 1}


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=1, max_value=6).flatmap(lambda n: st.tuples(
    st.just(n), st.integers(min_value=0, max_value=n), st.lists(st.integers(0, n - 1), max_size=3))))
def test_any_number_of_issues_each_get_one_ticket_and_one_confirmation_once_the_failed_are_replayed(case):
    """`n` issues, reported in turn, the mail server back after the first `up_after`, a few
    reported twice over; then every failed message replayed."""
    n, up_after, again = case
    ids = [f"issue-{i}" for i in range(n)]
    with tempfile.TemporaryDirectory() as data:
        engine = make_engine(f"sqlite:///{Path(data) / 'helpdesk.sqlite'}")
        create_tables(engine)
        take_mail_server_down(engine)
        with bus_on(engine) as bus:
            for i, issue_id in enumerate([*ids, *(ids[i] for i in again)]):
                if i == up_after:
                    bring_mail_server_up(engine)
                bus.send(report(issue_id), correlation_id=issue_id)
                bus.run()
            bring_mail_server_up(engine)
            failed = admin.failed_entries(engine)
            assert sorted(entry.correlation_id for entry in failed) == ids[:up_after]
            for entry in failed:
                replay(engine, bus, entry)
            bus.run()
        assert confirmations_per_issue(engine) == dict.fromkeys(ids, 1)
        assert tickets_per_issue(engine) == dict.fromkeys(ids, 1)
        engine.dispose()

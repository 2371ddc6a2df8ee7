"""The helpdesk on a real RabbitMQ, its three consumers separate processes, the customer
service killed with SIGKILL as soon as it has recorded issues (what it sent for them perhaps
still in its outbox, their tickets still to come) and started again: once the failed mails are
replayed, every issue has one ticket and one confirmation."""

from __future__ import annotations

import time

import pytest
from polling import wait_until
from sqlalchemy import func, select

from examples.helpdesk.app import NAMES, build, init, report
from examples.helpdesk.backoffice.domain import tickets_per_issue
from examples.helpdesk.customer.domain import issues
from examples.helpdesk.customer.messages import ReportIssue
from examples.helpdesk.mailer.domain import bring_mail_server_up, confirmations_per_issue, take_mail_server_down
from examples.helpdesk.processes import Consumers
from pizzeria.messaging import Publisher, admin

ISSUES = 20


def count(engine, *where) -> int:
    """How many issues the customer service recorded (of those matching `where`)."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(issues).where(*where)).scalar_one()


@pytest.mark.rabbitmq
def test_every_issue_gets_one_ticket_and_one_confirmation_though_the_customer_service_was_killed(amqp_url, tmp_path):
    database_url = f"sqlite:///{tmp_path / 'helpdesk.sqlite'}"
    helpdesk = build(amqp_url, database_url)
    init(helpdesk)
    take_mail_server_down(helpdesk.engine)
    ids = [f"issue-{n}" for n in range(ISSUES)]
    with Consumers(amqp_url, database_url, tmp_path / "log") as consumers:
        consumers.start("customer", "mailer", "backoffice")
        for issue_id in ids:
            report(helpdesk, ReportIssue(issue_id, f"{issue_id}@example.com", f"Trouble with {issue_id}"))
        wait_until(lambda: count(helpdesk.engine) > 0, what="the first issue recorded")
        consumers.kill("customer")
        consumers.start("customer")
        wait_until(lambda: len(admin.failed_entries(helpdesk.engine)) == ISSUES and count(
            helpdesk.engine, issues.c.ticket_id.is_not(None)) == ISSUES, what="every mail failed and every ticket noted")
        bring_mail_server_up(helpdesk.engine)
        publisher = Publisher(helpdesk.broker)
        for entry in admin.failed_entries(helpdesk.engine):
            admin.replay_failed(helpdesk.engine, publisher.publish, entry, NAMES, time.time())
        publisher.close()
        wait_until(lambda: count(helpdesk.engine, issues.c.confirmed_at.is_not(None)) == ISSUES,
                   what="every confirmation noted")
        assert consumers.stop() == [0, 0, 0]
    assert confirmations_per_issue(helpdesk.engine) == tickets_per_issue(helpdesk.engine) == dict.fromkeys(ids, 1)
    helpdesk.engine.dispose()

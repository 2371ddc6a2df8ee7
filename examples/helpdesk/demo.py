"""`python -m examples.helpdesk demo`: the whole story on real processes. The mail server is
down; a customer reports an issue; the backoffice opens its ticket, while the mailer's tries
fail and its message lands in the failed store; the mail server comes back, the message is
replayed, the confirmation goes out once."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import Row

from pizzeria.messaging import Publisher, admin, new_id

from .app import NAMES, Helpdesk, build, init, report
from .backoffice.domain import tickets_per_issue
from .customer.domain import issue
from .customer.messages import ReportIssue
from .mailer.domain import bring_mail_server_up, confirmations_per_issue, take_mail_server_down
from .processes import Consumers

T = TypeVar("T")
POLL_SECONDS = 0.05


class DemoFailed(Exception):
    """The story did not reach its end: a consumer died, or a step took too long."""


def run(broker_url: str, database_url: str, data: Path, timeout: float) -> None:
    """Tell the story on this broker and database, consumers logging in `data`/log; raise DemoFailed if it stalls."""
    helpdesk = build(broker_url, database_url)
    init(helpdesk)
    take_mail_server_down(helpdesk.engine)
    say("helpdesk", f"broker {where(broker_url)}, database {where(database_url)}, logs in {data / 'log'}")
    with Consumers(broker_url, database_url, data / "log") as consumers:
        consumers.start("customer", "mailer", "backoffice")
        say("helpdesk", "consumers started: customer, mailer, backoffice; the mail server is down")
        tell(helpdesk, consumers, timeout)
        codes = consumers.stop()
    if any(codes):
        raise DemoFailed(f"the consumers stopped with exit codes {codes} (see their logs in {data / 'log'})")
    say("helpdesk", "consumers stopped")
    helpdesk.engine.dispose()


def tell(helpdesk: Helpdesk, consumers: Consumers, timeout: float) -> None:
    """Report an issue, replay what failed, and say what happened at each step."""
    reported = ReportIssue(f"issue-{new_id()[:8]}", "ada@example.com", "The printer prints only question marks")
    report(helpdesk, reported)
    say("customer", f"{reported.issue_id} reported by {reported.email}: {reported.summary!r}")
    waiting = Waiting(consumers, time.monotonic() + timeout)
    entry = waiting.until(lambda: next(iter(admin.failed_entries(helpdesk.engine, correlation_id=reported.issue_id)), None),
                          "the mailer's message to land in the failed store")
    say("mailer", f"{entry.type} failed {entry.attempts} times ({entry.error_type}: {entry.error}): "
                  f"in the failed store, entry {entry.id}")
    ticket = waiting.until(lambda: getattr(issue(helpdesk.engine, reported.issue_id), "ticket_id", None),
                           "the ticket to be opened")
    say("backoffice", f"ticket #{ticket} opened for {reported.issue_id}")
    bring_mail_server_up(helpdesk.engine)
    replay(helpdesk, entry)
    say("operator", f"the mail server is back up; failed entry {entry.id} replayed")
    waiting.until(lambda: getattr(issue(helpdesk.engine, reported.issue_id), "confirmed_at", None),
                  "the confirmation to be sent")
    say("mailer", f"confirmation sent to {reported.email}")
    mails, tickets = (counts(helpdesk.engine)[reported.issue_id] for counts in (confirmations_per_issue, tickets_per_issue))
    say("customer", f"{reported.issue_id} has ticket #{ticket} and its confirmation: {tickets} ticket, {mails} mail in all")


def replay(helpdesk: Helpdesk, entry: Row[Any]) -> None:
    """Send the failed store's entry to its queue again, on a publisher of its own."""
    publisher = Publisher(helpdesk.broker)
    try:
        admin.replay_failed(helpdesk.engine, publisher.publish, entry, NAMES, time.time())
    finally:
        publisher.close()


class Waiting:
    """Polls for a step of the story until a deadline, as long as every consumer runs."""

    def __init__(self, consumers: Consumers, deadline: float):
        self.consumers = consumers
        self.deadline = deadline

    def until(self, found: Callable[[], T | None], what: str) -> T:
        """The first value of `found()` that is not None; raise DemoFailed if a consumer dies or the deadline passes."""
        while (value := found()) is None:
            if dead := self.consumers.dead():
                raise DemoFailed(f"while waiting for {what}: {'; '.join(dead)}")
            if time.monotonic() > self.deadline:
                raise DemoFailed(f"timed out waiting for {what}")
            time.sleep(POLL_SECONDS)
        return value


def say(who: str, what: str) -> None:
    """One line of the story."""
    print(f"{who:<10} {what}", flush=True)


def where(url: str) -> str:
    """A URL as the story shows it: a SQLite file's path, else the server without its credentials."""
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///")
    parts = urlsplit(url.split(";")[0])
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"

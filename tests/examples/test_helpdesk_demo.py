"""`python -m examples.helpdesk demo`, the one command, run as a user would on the embedded
broker: the story reaches its end, as the database shows; bad input is one line of error."""

from __future__ import annotations

import subprocess
import sys

from examples.helpdesk.app import default_urls
from examples.helpdesk.backoffice.domain import tickets_per_issue
from examples.helpdesk.mailer.domain import confirmations_per_issue
from examples.helpdesk.processes import ROOT
from pizzeria.messaging import admin, make_engine


def helpdesk(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m examples.helpdesk ARGS` to its end, its output captured."""
    return subprocess.run([sys.executable, "-m", "examples.helpdesk", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_the_demo_ends_with_one_ticket_and_one_confirmation_after_a_replay_and_exits_0(tmp_path):
    done = helpdesk("demo", "--data", str(tmp_path))
    assert (done.returncode, done.stderr) == (0, "")
    engine = make_engine(default_urls(tmp_path)[1])
    (issue_id,) = tickets_per_issue(engine)
    assert tickets_per_issue(engine) == confirmations_per_issue(engine) == {issue_id: 1}
    assert [(entry.correlation_id, entry.type, admin.failed_status(entry)) for entry in admin.failed_entries(engine)] == [
        (issue_id, "IssueReported", admin.REPLAYED)]
    engine.dispose()


def test_a_broker_of_no_known_kind_is_one_line_of_error_and_exit_1(tmp_path):
    done = helpdesk("demo", "--data", str(tmp_path), "--broker", "nosuch://anywhere")
    assert done.returncode == 1
    assert done.stderr.splitlines() == ["error: No such transport: nosuch"]

"""`pizzeria purge` as a user runs it, on the embedded database and on PostgreSQL: --dry-run
counts what is past its retention and removes nothing, the purge then removes just that; a bad
window or an unreachable database is one line."""

from __future__ import annotations

import json
import time

from old_rows import DAY, add_failed, add_visit, failed_ids, visit_ids
from test_cli_errors import one_line_error

from pizzeria.messaging import make_engine


def database(pizzeria):
    """An engine on the database the commands of `pizzeria` use."""
    return make_engine(pizzeria.env.get("PIZZERIA_DATABASE_URL", f"sqlite:///{pizzeria.cwd}/var/pizzeria.sqlite"))


def test_a_dry_run_counts_and_keeps_what_the_purge_then_removes(pizzeria):
    assert pizzeria.run("init").returncode == 0
    engine, now = database(pizzeria), time.time()
    with engine.begin() as conn:
        add_visit(conn, "old", "finished", now - 31 * DAY)
        add_visit(conn, "recent", "cancelled", now - DAY)
        add_visit(conn, "going", "in_progress", now - 99 * DAY)
        replayed = add_failed(conn, now - 9 * DAY, replayed_at=now - 8 * DAY, edits=1)
        waiting = add_failed(conn, now - 99 * DAY, replayed_at=None)
    dry = pizzeria.run("purge", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "PIZZERIA_FAILED_RETENTION_DAYS=7: would remove failed_messages 1, failed_edits 1",
        "PIZZERIA_VISIT_RETENTION_DAYS=30: would remove visits 1, visit_history 3",
        "dry run: nothing removed"]
    assert (visit_ids(engine), failed_ids(engine)) == ({"old", "recent", "going"}, {replayed, waiting})
    done = pizzeria.run("purge", "--json")
    assert json.loads(done.stdout) == {"dry_run": False, "removed": {
        "failed_messages": 1, "failed_edits": 1, "visits": 1, "visit_history": 3}}
    assert (visit_ids(engine), failed_ids(engine)) == ({"recent", "going"}, {waiting})
    engine.dispose()


def test_a_window_of_0_keeps_everything_and_says_so(embedded):
    embedded.env["PIZZERIA_VISIT_RETENTION_DAYS"] = "0"
    done = embedded.run("purge")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "PIZZERIA_FAILED_RETENTION_DAYS=7: removed failed_messages 0, failed_edits 0",
        "PIZZERIA_VISIT_RETENTION_DAYS=0: visits, visit_history kept forever"]


def test_a_window_out_of_bounds_is_one_line_and_exit_2(embedded):
    embedded.env["PIZZERIA_FAILED_RETENTION_DAYS"] = "-1"
    result = embedded.run("purge", "--dry-run")
    assert result.returncode == 2
    assert one_line_error(result) == "error: PIZZERIA_FAILED_RETENTION_DAYS='-1' must be between 0 and 36500"


def test_an_argument_purge_does_not_take_is_one_line_and_exit_2(embedded):
    result = embedded.run("purge", "everything")
    assert result.returncode == 2
    assert "unexpected extra argument" in one_line_error(result)


def test_an_unreachable_database_is_one_line_and_exit_1(embedded):
    embedded.env["PIZZERIA_DATABASE_URL"] = "postgresql+psycopg://pizza:s3cret@127.0.0.1:1/pizzeria"
    result = embedded.run("purge", "--dry-run", timeout=60)
    assert result.returncode == 1
    assert one_line_error(result).startswith("error: cannot use the database at postgresql+psycopg://pizza:***@")

"""`pizzeria failed` on many and `failed edit`, run through click on the embedded broker and a
SQLite file: filters choose, `--dry-run` lists what the real run then touches and changes
nothing, no id and no filter is refused, a bad filter or a refused edit is one line naming what
is wrong, and the edit shows beside the original."""

from __future__ import annotations

import json
import logging
import os
import time

import pytest
import structlog
from click.testing import CliRunner

from pizzeria.bootstrap import NAMES, bootstrap, create_tables
from pizzeria.cli import main
from pizzeria.config import Settings
from pizzeria.kitchen.messages import DoPizza
from pizzeria.messaging import Envelope, admin
from pizzeria.messaging.store import failed
from pizzeria.waiter.messages import ShowBill


@pytest.fixture
def house(tmp_path):
    """The pizza house's settings in tmp_path (embedded broker, SQLite), its app, and a command
    runner; the logging each command sets up is undone after."""
    env = {**{key: None for key in os.environ if key.startswith("PIZZERIA_")}, "PIZZERIA_VAR_DIR": str(tmp_path / "var")}
    app = bootstrap(Settings.from_env({"PIZZERIA_VAR_DIR": env["PIZZERIA_VAR_DIR"]}))
    create_tables(app.engine)
    handlers, config = logging.root.handlers[:], structlog.get_config()
    yield app, lambda *args: CliRunner().invoke(main, list(args), env=env)
    logging.root.handlers[:] = handlers
    structlog.configure(**config)
    app.engine.dispose()


def store(app, message, queue: str, error: Exception, minutes_ago: float, n: int) -> int:
    envelope = Envelope.wrap(message, message_id=f"m-{n}", correlation_id=f"visit-{n}")
    entry = failed.Entry(queue, envelope.encode(), envelope.headers(), "application/json", error, None, attempts=1)
    return failed.store(app.engine, entry, NAMES, time.time() - 60 * minutes_ago)


@pytest.fixture
def entries(house):
    """Two pizzas the kitchen failed, an hour ago and just now, and a bill the waiter failed."""
    app, _run = house
    return [store(app, DoPizza("p1", "diavola"), "pizzeria.kitchen", LookupError("no recipe"), 60, 1),
            store(app, DoPizza("p2", "diavola"), "pizzeria.kitchen", LookupError("no recipe"), 0, 2),
            store(app, ShowBill(900), "pizzeria.waiter", ValueError("the till is shut"), 60, 3)]


def ids_in_store(app) -> list[int]:
    return [entry.id for entry in admin.failed_entries(app.engine)]


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_dry_run_lists_what_the_filters_choose_and_the_real_run_deletes_just_that(house, entries):
    app, run = house
    first, second, third = entries
    dry = run("failed", "delete", "--queue", "pizzeria.kitchen", "--older-than", "30m", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines()[0] == f"would delete 1 failed message(s): {first}"
    assert ids_in_store(app) == entries
    done = run("failed", "delete", "--queue", "pizzeria.kitchen", "--older-than", "30m")
    assert (done.exit_code, done.stdout.strip(), ids_in_store(app)) == (0, "deleted 1 failed message(s)",
                                                                        [second, third])
    assert run("failed", "delete", "--error", "TILL IS", "--type", "ShowBill").exit_code == 0
    assert ids_in_store(app) == [second]


def test_a_group_is_named_as_failed_groups_lists_it_and_replayed_whole(house, entries):
    app, run = house
    groups = run("failed", "groups")
    assert groups.stdout.splitlines() == ["     2  pizzeria.kitchen/DoPizza/LookupError",
                                          "     1  pizzeria.waiter/ShowBill/ValueError"]
    dry = run("failed", "replay", "--group", "pizzeria.kitchen/DoPizza/LookupError", "--dry-run")
    assert dry.stdout.splitlines()[0] == f"would replay 2 failed message(s): {entries[0]}, {entries[1]}"
    assert [admin.failed_status(entry) for entry in admin.failed_entries(app.engine)] == [admin.FAILED] * 3
    done = run("failed", "replay", "--group", "pizzeria.kitchen/DoPizza/LookupError")
    assert done.exit_code == 0, done.output
    assert [admin.failed_status(entry) for entry in admin.failed_entries(app.engine)] == [
        admin.REPLAYED, admin.REPLAYED, admin.FAILED]
    again = run("failed", "replay", "--group", "pizzeria.kitchen/DoPizza/LookupError", "--dry-run")
    assert again.stdout.strip() == "would replay 0 failed message(s): -"


@pytest.mark.parametrize("args, complaint", [
    (["failed", "replay"], "error: give the ids of failed messages or --all or filters (--queue, --type, --error, "
                           "--group, --older-than)"),
    (["failed", "delete", "--all", "--queue", "pizzeria.kitchen"], "give --all or filters"),
    (["failed", "delete", "--older-than", "soon"], "'soon' is not a duration"),
    (["failed", "replay", "--group", "pizzeria.kitchen"], "is not a group: write QUEUE/TYPE/ERROR"),
    (["failed", "edit", "1", "--set", "pizza"], "'pizza': write FIELD=VALUE"),
    (["visit", "cancel"], "error: give TABLE_ID or filters (--stage, --stuck, --older-than)"),
    (["visit", "retry", "TBL1", "--stuck"], "give TABLE_ID or filters (--stage, --stuck, --older-than), not both"),
    (["visit", "cancel", "--stage", "eating"], "'eating' is not one of awaiting_menu,"),
    (["visit", "retry", "--older-than", "2 days"], "'2 days' is not a duration"),
    (["visit", "cancel", "TBL1", "--dry-run"], "--dry-run goes with filters"),
])
def test_nothing_chosen_or_a_bad_filter_is_refused_in_one_line_and_nothing_changes(house, entries, args, complaint):
    app, run = house
    result = run(*args)
    assert result.exit_code == 2
    assert complaint in one_line(result)
    assert ids_in_store(app) == entries


def test_an_edit_is_checked_kept_beside_the_original_and_shown(house, entries):
    app, run = house
    first = entries[0]
    refused = run("failed", "edit", str(first), "--set", "pizza=7")
    assert (refused.exit_code, one_line(refused)) == (1, "error: edit refused: pizza: DoPizza.pizza: expected str, got int")
    unknown = run("failed", "edit", str(first), "--set", "pizza=margherita", "--set", "oven=hot")
    assert one_line(unknown) == "error: edit refused: oven: DoPizza has no field 'oven'"
    assert run("failed", "edit", "99", "--set", "pizza=x").exit_code == 1
    done = run("failed", "edit", str(first), "--set", "pizza=margherita", "--set", 'kitchen_order_id="42"')
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("edit 1 of failed message")
    shown = json.loads(run("failed", "show", str(first), "--json").stdout)
    assert json.loads(shown["body"])["payload"] == {"kitchen_order_id": "p1", "pizza": "diavola"}
    assert (shown["edit"]["changes"], json.loads(shown["edit"]["body"])["payload"]) == (
        {"pizza": "margherita", "kitchen_order_id": "42"}, {"kitchen_order_id": "42", "pizza": "margherita"})
    assert "edited body:" in run("failed", "show", str(first)).stdout


def test_an_empty_filter_is_no_filter_and_touches_nothing(house, entries):
    app, run = house
    result = run("failed", "delete", "--error", "")
    assert (result.exit_code, "give the ids of failed messages or --all or filters" in one_line(result)) == (2, True)
    assert ids_in_store(app) == entries

"""Bad arguments and unreachable servers: one line, the right exit code, never a traceback."""

from __future__ import annotations

import json

import pytest
from polling import wait_until


def one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.parametrize("args, complaint", [
    (["serve", "TBL 1"], "use 1 to 32 of A-Z a-z 0-9 _ -"),
    (["serve", "T" * 33], "use 1 to 32 of A-Z a-z 0-9 _ -"),
    (["serve", "TBL1", "--order", "margherita"], "write PIZZA:QUANTITY"),
    (["serve", "TBL1", "--order", "margherita:x"], "write PIZZA:QUANTITY"),
    (["serve", "TBL1", "--order", "margherita:0"], "bad quantity 0"),
    (["serve", "TBL1", "--order", "Margherita:1"], "bad pizza name"),
    (["serve", "TBL1", "--timeout", "-1"], "--timeout"),
    (["status", "no/slash"], "use 1 to 32"),
    (["consume", "oven"], "'oven' is not one of 'process_manager', 'menu', 'waiter', 'kitchen'"),
    (["consume"], "Missing argument 'QUEUE...'"),
    (["demo", "--tables", "0"], "--tables"),
    (["visit", "cancel", "TBL 1"], "use 1 to 32 of A-Z a-z 0-9 _ -"),
    (["visit", "retry"], "give TABLE_ID or filters (--stage, --stuck, --older-than)"),
])
def test_bad_arguments_exit_2_naming_the_problem(embedded, args, complaint):
    result = embedded.run(*args)
    assert result.returncode == 2
    assert complaint in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_setting_exits_2_with_one_line(embedded):
    embedded.env["PIZZERIA_KITCHEN__BAKE_SECONDS"] = "soon"
    result = embedded.run("init")
    assert result.returncode == 2
    assert one_line_error(result) == "error: PIZZERIA_KITCHEN__BAKE_SECONDS='soon' is not a number"


@pytest.mark.parametrize("url, complaint", [
    ("sqlite:////nowhere/at/all/broker.sqlite", "its directory does not exist"),
    ("sqlite://", "no file in the embedded broker's URL"),
])
def test_an_embedded_broker_url_that_cannot_work_exits_1_with_one_line(embedded, url, complaint):
    embedded.env["PIZZERIA_BROKER_URL"] = url
    result = embedded.run("consume", "kitchen")
    assert result.returncode == 1
    assert complaint in one_line_error(result)


def test_acting_on_a_table_with_no_visit_in_progress_exits_1_with_one_line(embedded):
    result = embedded.run("visit", "cancel", "TBL9")
    assert (result.returncode, one_line_error(result)) == (1, "error: table TBL9 has had no visit")


def test_status_of_a_table_that_never_had_a_visit_exits_1(embedded):
    result = embedded.run("status", "TBL9")
    assert (result.returncode, one_line_error(result)) == (1, "error: table TBL9 has had no visit")


def test_status_of_every_table_lists_none_before_the_first_visit(embedded):
    assert json.loads(embedded.run("status", "--json").stdout) == []


def test_a_visit_nobody_serves_times_out_with_exit_3(embedded):
    result = embedded.run("serve", "TBL1", "--timeout", "0.5")
    assert result.returncode == 3
    assert "did not end" in result.stderr


def test_a_table_with_a_visit_in_progress_refuses_a_second_one(embedded):
    assert embedded.run("serve", "TBL1", "--no-wait").returncode == 0
    embedded.consume("process_manager")
    wait_until(lambda: json.loads(embedded.run("status", "--json").stdout), what="the first visit")
    second = embedded.run("serve", "TBL1", "--no-wait")
    assert second.returncode == 1
    assert "TBL1 already has a visit in progress" in one_line_error(second)
    assert json.loads(embedded.run("status", "TBL1", "--json").stdout)["status"] == "in_progress"


def test_a_second_visit_that_slips_past_the_check_is_rejected_by_the_saga(embedded):
    assert embedded.run("serve", "TBL1", "--no-wait").returncode == 0
    second = embedded.start("serve", "TBL1", "--timeout", "60")  # no consumer yet: published too
    wait_until(lambda: "started" in second.stdout.readline(), what="the second visit to start")
    embedded.consume("process_manager")
    output, _ = second.communicate(timeout=90)
    assert second.returncode == 1
    assert "rejected" in output and "table TBL1 already has a visit in progress" in output


def test_an_unreachable_broker_is_named_in_one_line_with_its_password_hidden(embedded):
    embedded.env["PIZZERIA_BROKER_URL"] = "amqp://pizza:s3cret@127.0.0.1:1//"
    result = embedded.run("serve", "TBL1", timeout=60)
    assert result.returncode == 1
    line = one_line_error(result)
    assert line.startswith("error: cannot reach the broker at amqp://pizza:***@127.0.0.1:1//")
    assert "s3cret" not in result.stdout + result.stderr


def test_an_unreachable_database_is_named_in_one_line_with_its_password_hidden(embedded):
    embedded.env["PIZZERIA_DATABASE_URL"] = "postgresql+psycopg://pizza:s3cret@127.0.0.1:1/pizzeria"
    result = embedded.run("status", timeout=60)
    assert result.returncode == 1
    line = one_line_error(result)
    assert line.startswith("error: cannot use the database at postgresql+psycopg://pizza:***@127.0.0.1:1/pizzeria")
    assert "s3cret" not in result.stdout + result.stderr

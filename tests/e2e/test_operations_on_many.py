"""Operations on many, as a user runs them: the visits held up at one stage by a broken kitchen
are listed by `visit cancel --stage --dry-run`, untouched, then cancelled all at once, and the
failed messages they left are deleted as a group after a dry run."""

from __future__ import annotations

import json

from polling import wait_until

from pizzeria.modules import names

BROKEN_KITCHEN = {"PIZZERIA_FAULTS": "kitchen.DoPizza:1000", "PIZZERIA_RETRY_IMMEDIATE": "0",
                  "PIZZERIA_RETRY_DELAYED": "0", "PIZZERIA_PROCESS_MANAGER__STEP_DEADLINE_SECONDS": "600"}
GROUP = "pizzeria.kitchen/DoPizza/InjectedFault"
TABLES = ("TBL1", "TBL2")


def listed(pizzeria, *command: str) -> list[dict]:
    """What a command prints with --json, once it has run cleanly."""
    done = pizzeria.run(*command, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def visits(pizzeria) -> dict[str, dict]:
    return {report["table_id"]: report for report in listed(pizzeria, "status")}


def cancelled(pizzeria) -> dict[str, dict] | None:
    """The visits once every one is cancelled, else None."""
    found = visits(pizzeria)
    return found if all(visit["status"] == "cancelled" for visit in found.values()) else None


def failed_ids(pizzeria) -> list[int]:
    return [entry["id"] for entry in listed(pizzeria, "failed", "list")]


def test_the_visits_of_a_stage_are_cancelled_at_once_after_a_dry_run_and_their_failures_deleted(embedded):
    embedded.env.update(BROKEN_KITCHEN)
    for queue in names():
        embedded.consume(queue)
    for table in TABLES:
        assert embedded.run("serve", table, "--order", "margherita:1", "--no-wait").returncode == 0
    wait_until(lambda: len(failed_ids(embedded)) == 2, timeout=60, what="both pizzas to fail")
    held = visits(embedded)
    assert [(held[table]["status"], held[table]["stage"]) for table in TABLES] == [("failed", "baking")] * 2

    dry = embedded.run("visit", "cancel", "--stage", "baking", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[0] == (f"would cancel 2 visit(s): {held['TBL1']['visit_id']}, "
                                          f"{held['TBL2']['visit_id']}")
    assert embedded.run("visit", "cancel", "--stage", "awaiting_payment", "--dry-run").stdout.startswith(
        "would cancel 0 visit(s)")
    assert [visits(embedded)[table]["status"] for table in TABLES] == ["failed", "failed"]

    done = embedded.run("visit", "cancel", "--stage", "baking", "--reason", "the oven broke")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "cancel: 2 visit(s)"
    ended = wait_until(lambda: cancelled(embedded), timeout=60, what="both visits to be cancelled")
    assert [ended[table]["reason"] for table in TABLES] == ["the oven broke"] * 2

    entries = failed_ids(embedded)
    dry = embedded.run("failed", "delete", "--group", GROUP, "--dry-run")
    assert dry.stdout.splitlines()[0] == f"would delete 2 failed message(s): {entries[0]}, {entries[1]}"
    assert failed_ids(embedded) == entries
    deleted = embedded.run("failed", "delete", "--group", GROUP)
    assert (deleted.returncode, deleted.stdout.strip(), failed_ids(embedded)) == (0, "deleted 2 failed message(s)", [])
    assert embedded.stop_consumers() == [0] * len(names())

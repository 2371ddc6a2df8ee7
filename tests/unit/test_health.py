"""`pizzeria health`, run as a command on the embedded broker and a SQLite file that the in-process
bus fills: a healthy house exits 0; a failed message, a stuck visit, a queue with messages and no
consumer, a database and a broker out of reach each exit 1 with the line that says so; --json is
one JSON document. The thresholds: a queue too long, an outbox row due too long, processes gone."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fakes import chore
from polling import wait_until
from processes import Pizzeria, environment, free_port
from test_bus import bus_of

from pizzeria import bootstrap, health
from pizzeria.bootstrap import App
from pizzeria.config import Settings
from pizzeria.kitchen.messages import DoPizza
from pizzeria.messaging import Outgoing, send
from pizzeria.messaging.observe.chores import Heartbeat
from pizzeria.messaging.store import breakers
from pizzeria.messaging.testing import Bus
from pizzeria.process_manager.messages import StartTableService
from pizzeria.waiter.messages import OrderLine


@pytest.fixture
def app(tmp_path) -> Iterator[App]:
    """The house on an embedded broker (its queues declared, empty) and a SQLite file."""
    settings = Settings(f"sqlite:///{tmp_path}/broker.sqlite", f"sqlite:///{tmp_path}/db.sqlite", tmp_path,
                        modules={"kitchen": {"bake_seconds": 0}})
    app = bootstrap.bootstrap(settings)
    bootstrap.init(app)
    yield app
    app.engine.dispose()


@pytest.fixture
def pizzeria(app, tmp_path) -> Pizzeria:
    """The `pizzeria` command on the app's broker and database."""
    return Pizzeria(tmp_path, environment(tmp_path, PIZZERIA_BROKER_URL=app.settings.broker_url,
                                          PIZZERIA_DATABASE_URL=app.settings.database_url))


def beating(app: App, *endpoints: str) -> Bus:
    """A bus running these endpoints (all if none is named) on the app's database, its process's
    heartbeat written (closing it records the process stopped)."""
    bus = bus_of(app, *endpoints)
    chore(bus.worker, Heartbeat).beat()
    return bus


def problems(stdout: str) -> list[str]:
    return [line.removeprefix("PROBLEM").strip() for line in stdout.splitlines() if line.startswith("PROBLEM")]


def test_a_house_with_every_endpoint_consumed_and_nothing_wrong_is_healthy_and_exits_0(app, pizzeria):
    with beating(app) as bus:
        bus.send(StartTableService("T1", order=(OrderLine("margherita", 1),)), correlation_id="visit-1")
        bus.run()
        result = pizzeria.run("health")
    assert (result.returncode, problems(result.stdout), result.stderr) == (0, [], "")
    assert result.stdout.splitlines()[-1] == "healthy"
    assert "kitchen: 0 messages waiting in pizzeria.kitchen" in result.stdout


def test_health_json_is_one_document_saying_healthy_with_every_check(app, pizzeria):
    with beating(app):
        result = pizzeria.run("health", "--json")
    report = json.loads(result.stdout)
    assert (result.returncode, report["healthy"]) == (0, True)
    names = [check["name"] for check in report["checks"]]
    assert {"processes.kitchen", "queue.kitchen", "outbox", "visits", "failed"} <= set(names)
    assert all(check["ok"] and check["message"] for check in report["checks"])
    kitchen_queue = report["checks"][names.index("queue.kitchen")]["figures"]
    assert (kitchen_queue["messages"], kitchen_queue["consumers"]) == (0, None)  # the embedded broker counts no consumers


def test_a_message_in_the_failed_store_is_a_problem_and_exits_1(app, pizzeria):
    with beating(app) as bus:
        bus.publish(Outgoing("kitchen.command.DoPizza", b"not json", {}))
        bus.run()
        result, as_json = pizzeria.run("health"), pizzeria.run("health", "--json")
    assert result.returncode == 1
    (line,) = problems(result.stdout)
    assert line.startswith("failed: 1 message in the failed store: 1 unknown type in pizzeria.kitchen (")
    assert result.stdout.splitlines()[-1] == "degraded: 1 problem"
    report = json.loads(as_json.stdout)
    assert (as_json.returncode, report["healthy"]) == (1, False)
    assert [check["name"] for check in report["checks"] if not check["ok"]] == ["failed"]


def test_a_visit_stuck_longer_than_a_step_s_deadline_is_a_problem_and_exits_1(app, pizzeria):
    with beating(app) as bus:
        bus.send(StartTableService("T1", order=(OrderLine("margherita", 1),)), correlation_id="visit-1")
        bus.step()  # the visit opened: it waits for the menu, which no one gives it
        pizzeria.env["PIZZERIA_PROCESS_MANAGER__STEP_DEADLINE_SECONDS"] = "0.1"
        result = wait_until(lambda: (done := pizzeria.run("health")).returncode == 1 and done,
                            what="the visit to be stuck")
    (line,) = problems(result.stdout)
    assert line.startswith("visits: 1 stuck: T1 at awaiting_menu for ") and line.endswith("(pizzeria status --stuck)")


def test_a_queue_with_messages_and_no_consumer_is_a_problem_and_exits_1(app, pizzeria):
    publisher = app.publisher()
    try:
        send(publisher, DoPizza("visit-1-1", "margherita"), correlation_id="visit-1")
    finally:
        publisher.close()
    with beating(app, "process_manager", "menu", "waiter"):
        result = pizzeria.run("health")
    assert result.returncode == 1
    assert problems(result.stdout) == ["kitchen: no consumer process has ever run (pizzeria consume kitchen)",
                                       "kitchen: 1 message waiting in pizzeria.kitchen and no consumer"]


def test_a_database_and_a_broker_out_of_reach_are_each_a_problem_line_not_a_traceback(pizzeria, tmp_path):
    pizzeria.env.update(PIZZERIA_DATABASE_URL=f"sqlite:///{tmp_path}/nowhere/db.sqlite",
                        PIZZERIA_BROKER_URL=f"amqp://guest:s3cret@127.0.0.1:{free_port()}//")
    result = pizzeria.run("health")
    assert (result.returncode, result.stderr) == (1, "")
    database, broker = problems(result.stdout)
    assert database.startswith(f"database: cannot use sqlite:///{tmp_path}/nowhere/db.sqlite: ")
    assert broker.startswith("broker: cannot reach amqp://guest:***@127.0.0.1:") and "s3cret" not in result.stdout


def test_a_queue_longer_than_the_limit_is_a_problem_even_with_consumers():
    check = health.queue_depth("kitchen", "pizzeria.kitchen", {"messages": health.QUEUE_LIMIT + 1, "consumers": 2}, 2)
    assert (check.ok, check.message) == (False, "kitchen: 1001 messages waiting in pizzeria.kitchen, more than 1000")
    assert health.queue_depth("kitchen", "pizzeria.kitchen", {"messages": health.QUEUE_LIMIT, "consumers": 2}, 2).ok


def test_an_outbox_row_due_for_longer_than_the_lag_allowed_is_a_problem():
    late = health.outbox({"pending": 2, "oldest_seconds": health.OUTBOX_LAG_SECONDS + 1, "delayed": 0})
    assert (late.ok, late.message) == (False, "outbox: 2 messages due, the oldest for 31s, longer than 30s: "
                                              "is any consumer running to relay it?")
    assert health.outbox({"pending": 2, "oldest_seconds": 0.5, "delayed": 1}).ok


def test_an_endpoint_whose_processes_are_all_gone_or_stopped_says_so_and_when_the_last_was_seen():
    seen = [{"process": "h:1", "status": "gone", "seen_at": 80.0}, {"process": "h:2", "status": "stopped", "seen_at": 70.0}]
    check = health.live_processes("kitchen", seen, now=100.0)
    assert (check.ok, check.message) == (False, "kitchen: no live process (1 gone, 1 stopped; the last seen 20s ago)")
    assert check.figures == {"alive": [], "gone": 1, "stopped": 1}


def test_a_breaker_holding_a_queue_is_a_problem_naming_the_queue_the_process_and_the_error():
    states = [{"process": "h:1", "queue": "pizzeria.kitchen", "state": "open", "at": 88.0,
               "reason": "ConnectionError: the oven does not answer"},
              {"process": "h:2", "queue": "pizzeria.menu", "state": "closed", "at": 50.0, "reason": None}]
    check = health.breakers(states, now=100.0)
    assert (check.ok, check.message) == (False, "breakers: 1 queue held: pizzeria.kitchen by h:1 open for 12s: "
                                                "ConnectionError: the oven does not answer")
    assert health.breakers(states[1:], now=100.0).ok and health.breakers([], now=100.0).ok


def test_an_open_breaker_of_a_live_consumer_shows_in_pizzeria_health(app, pizzeria):
    bus = beating(app)
    breakers.record(app.engine, chore(bus.worker, Heartbeat).process, "pizzeria.kitchen", "open", 1.0, 10, 9,
                    "ConnectionError: the oven does not answer")
    result = pizzeria.run("health")
    assert result.returncode == 1
    [held] = [line for line in problems(result.stdout) if line.startswith("breakers:")]
    assert held.startswith("breakers: 1 queue held: pizzeria.kitchen by ")
    assert held.endswith(": ConnectionError: the oven does not answer")
    bus.close()

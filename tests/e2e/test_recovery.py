"""Recovering from failing handlers: retries, the failed store, replay, delete, and no password
ever shown on the way."""

from __future__ import annotations

import json
import signal
import uuid

import pytest
from polling import wait_until
from sqlalchemy import create_engine, func, select

from pizzeria.devtools.servers import free_ports
from pizzeria.kitchen.domain import bakes
from pizzeria.modules import names

QUEUES = names()

FAST_RETRIES = {"PIZZERIA_RETRY_DELAY_SECONDS": "0.1", "PIZZERIA_LOG_JSON": "1"}
# Each delivery tried 1 + 2 times, in 1 + 2 delayed rounds: 9 tries in all (the defaults).
TRIES = 9
STEPS = (
    [("received", "StartTableService"), ("sent", "GetMenu"), ("received", "MenuGot"),
     ("sent", "ShowMenu"), ("received", "MenuShown"), ("sent", "PlaceOrder"),
     ("received", "OrderPlaced"), ("sent", "DoPizza"), ("sent", "DoPizza"),
     ("received", "PizzaDone"), ("received", "PizzaDone"), ("sent", "ServePizzas"),
     ("received", "PizzasServed"), ("sent", "ShowBill"), ("received", "BillPaid"),
     ("sent", "ThankClient"), ("received", "ClientThanked")]
)


def status(pizzeria, table_id: str) -> dict:
    shown = pizzeria.run("status", table_id, "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def failed_list(pizzeria) -> list[dict]:
    listed = pizzeria.run("failed", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


def failed_show(pizzeria, entry_id: int) -> dict:
    shown = pizzeria.run("failed", "show", str(entry_id), "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def events(consumer) -> list[dict]:
    """What a consumer started with PIZZERIA_LOG_JSON=1 has logged, as dicts."""
    logged = []
    for line in consumer.log_path.read_text().splitlines():
        try:
            logged.append(json.loads(line))
        except ValueError:
            pass  # a line from the standard library's logging
    return logged


def logged(consumer, event: str, **fields) -> list[dict]:
    return [e for e in events(consumer) if e.get("event") == event
            and all(e.get(key) == value for key, value in fields.items())]


def database_url(pizzeria) -> str:
    return pizzeria.env.get("PIZZERIA_DATABASE_URL") or f"sqlite:///{pizzeria.cwd}/var/pizzeria.sqlite"


def count_bakes(pizzeria) -> int:
    engine = create_engine(database_url(pizzeria))
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(bakes)).scalar()
    engine.dispose()
    return total


def consume_with_a_faulty_waiter(pizzeria, faults: str) -> dict:
    """One process per queue; only the waiter gets PIZZERIA_FAULTS."""
    pizzeria.env.update(FAST_RETRIES)
    consumers = {queue: pizzeria.consume(queue) for queue in QUEUES if queue != "waiter"}
    consumers["waiter"] = consume_with(pizzeria, {"PIZZERIA_FAULTS": faults}, "waiter")
    return consumers


def consume_with(pizzeria, settings: dict, *queues: str):
    """Start a consumer with extra settings, leaving the others' environment as it was."""
    saved = dict(pizzeria.env)
    pizzeria.env.update(settings)
    try:
        return pizzeria.consume(*queues)
    finally:
        pizzeria.env.clear()
        pizzeria.env.update(saved)


def visits_with_a_failed_show_menu(pizzeria, tables: list[str]) -> list[dict]:
    """Serve `tables` with a waiter whose ShowMenu fails once and is never retried: each
    visit leaves one entry in the failed store. Return the entries, oldest first."""
    pizzeria.env.update(FAST_RETRIES, PIZZERIA_RETRY_IMMEDIATE="0", PIZZERIA_RETRY_DELAYED="0",
                        PIZZERIA_FAULTS="waiter.ShowMenu:1")
    pizzeria.consume(*QUEUES)
    for table in tables:
        assert pizzeria.run("serve", table, "--no-wait").returncode == 0
    return wait_until(lambda: (e := failed_list(pizzeria)) and len(e) == len(tables) and e,
                      timeout=60, what=f"{len(tables)} failed ShowMenu")


def test_a_handler_failing_fewer_times_than_it_is_tried_still_finishes_the_visit(pizzeria):
    consumers = consume_with_a_faulty_waiter(pizzeria, f"waiter.ShowBill:{TRIES - 1}")
    served = pizzeria.run("serve", "TBL1", "--order", "margherita:1,diavola:1", "--timeout", "60")
    assert served.returncode == 0, served.stdout + served.stderr
    report = status(pizzeria, "TBL1")
    assert (report["status"], report["reason"], report["bill"]) == ("finished", None, {"amount": "18.50", "paid": True})
    assert failed_list(pizzeria) == []
    assert pizzeria.run("failed", "list").stdout.strip() == "no failed messages"

    waiter = consumers["waiter"]
    failures = logged(waiter, "attempt failed", type="ShowBill")
    assert [e["attempt"] for e in failures] == list(range(1, TRIES))
    assert all("InjectedFault: ShowBill fails its first 8 attempts" in e["error"] for e in failures)
    assert [e["round"] for e in logged(waiter, "retry scheduled", type="ShowBill")] == [1, 2]
    assert [e["attempt"] for e in logged(waiter, "handled", type="ShowBill")] == [TRIES]
    assert logged(waiter, "message stored as failed") == []
    assert pizzeria.stop_consumers() == [0, 0, 0, 0]


def test_a_message_failing_every_try_is_stored_and_a_replay_finishes_the_visit_once(pizzeria):
    consumers = consume_with_a_faulty_waiter(pizzeria, f"waiter.ShowBill:{TRIES}")
    served = pizzeria.run("serve", "TBL1", "--order", "margherita:1,diavola:1", "--timeout", "60")
    assert served.returncode == 1, served.stdout + served.stderr
    assert "TBL1     failed" in served.stdout

    (entry,) = failed_list(pizzeria)
    failing = consumers["waiter"]
    assert [e["attempt"] for e in logged(failing, "attempt failed", type="ShowBill")] == list(range(1, TRIES + 1))
    assert [e["failed_id"] for e in logged(failing, "message stored as failed")] == [entry["id"]]
    report = status(pizzeria, "TBL1")
    assert (entry["status"], entry["queue"], entry["type"], entry["attempts"], entry["visit_id"]) == (
        "failed", "pizzeria.waiter", "ShowBill", TRIES, report["visit_id"])
    assert entry["error"].startswith(f"InjectedFault: ShowBill fails its first {TRIES} attempts")
    assert report["status"] == "failed"
    assert report["reason"] == (f"ShowBill failed in pizzeria.waiter after {TRIES} attempts: "
                                f"{entry['error']} (pizzeria failed show {entry['id']})")
    assert report["bill"] == {"amount": "18.50", "paid": False}
    again = pizzeria.run("serve", "TBL1", "--no-wait")
    assert (again.returncode, "TBL1 already has a visit in progress" in one_line_error(again)) == (1, True)

    failing.send_signal(signal.SIGTERM)
    assert failing.wait(timeout=30) == 0
    waiter = pizzeria.consume("waiter")  # without PIZZERIA_FAULTS
    replayed = pizzeria.run("failed", "replay", str(entry["id"]))
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.strip() == f"replayed {entry['id']} (ShowBill) to pizzeria.waiter"
    finished = wait_until(lambda: (r := status(pizzeria, "TBL1"))["status"] == "finished" and r,
                          timeout=60, what="the replay to finish the visit")
    assert (finished["reason"], finished["bill"]) == (None, {"amount": "18.50", "paid": True})
    assert [(e["direction"], e["type"]) for e in finished["history"]] == STEPS
    (entry_after,) = failed_list(pizzeria)
    assert (entry_after["status"], entry_after["attempts"]) == ("replayed", TRIES)
    assert entry_after["replayed_at"] is not None

    message_id = failed_show(pizzeria, entry["id"])["message_id"]
    assert pizzeria.run("failed", "replay", str(entry["id"])).returncode == 0
    wait_until(lambda: logged(waiter, "duplicate ignored", message_id=message_id), timeout=30,
               what="the waiter to drop the second replay")
    assert [e["attempt"] for e in logged(waiter, "handled", type="ShowBill")] == [1]
    assert status(pizzeria, "TBL1") == finished
    assert [e["status"] for e in failed_list(pizzeria)] == ["replayed"]
    assert count_bakes(pizzeria) == 2
    assert pizzeria.stop_consumers() == [0, 0, 0, 0]


def test_failed_messages_are_deleted_by_id_or_all_at_once(pizzeria):
    first, second, third = visits_with_a_failed_show_menu(pizzeria, ["TBL1", "TBL2", "TBL3"])
    assert [(e["type"], e["attempts"], e["status"]) for e in (first, second, third)] == [("ShowMenu", 1, "failed")] * 3

    deleted = pizzeria.run("failed", "delete", str(second["id"]))
    assert (deleted.returncode, deleted.stdout.strip()) == (0, "deleted 1 failed message(s)")
    assert [e["id"] for e in failed_list(pizzeria)] == [first["id"], third["id"]]

    deleted = pizzeria.run("failed", "delete", "--all")
    assert (deleted.returncode, deleted.stdout.strip()) == (0, "deleted 2 failed message(s)")
    assert failed_list(pizzeria) == []
    assert pizzeria.run("failed", "list").stdout.strip() == "no failed messages"
    assert pizzeria.stop_consumers() == [0]


def test_replay_all_sends_every_failed_message_back_once(pizzeria):
    entries = visits_with_a_failed_show_menu(pizzeria, ["TBL1", "TBL2"])
    assert [status(pizzeria, table)["status"] for table in ("TBL1", "TBL2")] == ["failed", "failed"]
    assert pizzeria.stop_consumers() == [0]
    pizzeria.env.pop("PIZZERIA_FAULTS")
    pizzeria.consume(*QUEUES)
    replayed = pizzeria.run("failed", "replay", "--all")
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.splitlines() == [f"replayed {e['id']} (ShowMenu) to pizzeria.waiter" for e in entries]
    for table in ("TBL1", "TBL2"):
        wait_until(lambda table=table: status(pizzeria, table)["status"] == "finished", timeout=60, what=f"{table} to finish")
    assert [e["status"] for e in failed_list(pizzeria)] == ["replayed", "replayed"]
    again = pizzeria.run("failed", "replay", "--all")
    assert (again.returncode, again.stdout) == (0, "")
    assert pizzeria.stop_consumers() == [0]


def test_a_known_id_beside_an_unknown_one_is_neither_deleted_nor_replayed(pizzeria):
    (entry,) = visits_with_a_failed_show_menu(pizzeria, ["TBL1"])
    for action in ("delete", "replay"):
        result = pizzeria.run("failed", action, str(entry["id"]), "999")
        assert (result.returncode, one_line_error(result)) == (1, "error: no failed message with id 999")
    assert failed_list(pizzeria) == [entry]
    assert pizzeria.stop_consumers() == [0]


def test_failed_show_prints_the_whole_message_with_its_error_and_traceback(pizzeria):
    (entry,) = visits_with_a_failed_show_menu(pizzeria, ["TBL1"])
    shown = failed_show(pizzeria, entry["id"])
    body = json.loads(shown["body"])
    visit_id = status(pizzeria, "TBL1")["visit_id"]
    assert (body["type"], body["correlation_id"], body["message_id"]) == ("ShowMenu", visit_id, shown["message_id"])
    assert [item["name"] for item in body["payload"]["items"]]
    assert {key: shown["headers"][key] for key in ("message_id", "type", "correlation_id")} == {
        "message_id": shown["message_id"], "type": "ShowMenu", "correlation_id": visit_id}
    assert (shown["content_type"], shown["queue"], shown["attempts"]) == ("application/json", "pizzeria.waiter", 1)
    assert shown["error"] == "InjectedFault: ShowMenu fails its first 1 attempts (PIZZERIA_FAULTS), this is attempt 1"
    assert shown["traceback"].startswith("Traceback (most recent call last):")
    assert shown["traceback"].rstrip().endswith(shown["error"].replace("InjectedFault", "pizzeria.faults.InjectedFault"))

    text = pizzeria.run("failed", "show", str(entry["id"])).stdout
    assert f"body:\n{shown['body']}\n" in text
    assert f"traceback:\n{shown['traceback']}" in text
    assert pizzeria.stop_consumers() == [0]


@pytest.mark.parametrize("args", [["show", "42"], ["show", "42", "--json"], ["replay", "42"], ["delete", "42"]])
def test_an_unknown_failed_message_id_exits_1_with_one_line(pizzeria, args):
    result = pizzeria.run("failed", *args)
    assert (result.returncode, one_line_error(result)) == (1, "error: no failed message with id 42")


@pytest.mark.parametrize("args", [["replay"], ["delete"], ["replay", "1", "--all"], ["delete", "1", "--all"]])
def test_replay_and_delete_want_ids_or_all_but_not_both(embedded, args):
    result = embedded.run("failed", *args)
    assert result.returncode == 2
    assert one_line_error(result).startswith("error: give the ids of failed messages or --all")


@pytest.mark.parametrize("setting, url", [
    ("PIZZERIA_DATABASE_URL", "postgresql+psycopg://pizza:{password}@127.0.0.1:{port}/pizzeria"),
    ("PIZZERIA_BROKER_URL", "amqp://pizza:{password}@127.0.0.1:{port}//"),
])
def test_a_consumer_waiting_for_a_server_it_cannot_reach_never_logs_the_password(embedded, setting, url):
    password = f"Sesame-{uuid.uuid4().hex[:12]}"
    (port,) = free_ports(1)
    embedded.env[setting] = url.format(password=password, port=port)
    consumer = embedded.consume("waiter")
    wait_until(lambda: "waiting for the database and the broker" in consumer.log_path.read_text(),
               timeout=30, what="the consumer to say it is waiting")
    assert embedded.stop_consumers() == [0]
    log = consumer.log_path.read_text()
    assert password not in log, log


def test_no_command_output_or_log_shows_the_broker_or_database_password(on_rabbitmq, rabbitmq, amqp_url,
                                                                          postgres_url):
    vhost = amqp_url.rsplit("/", 1)[1]
    user, broker_password = f"pizza-{uuid.uuid4().hex[:8]}", f"Broker-{uuid.uuid4().hex[:12]}"
    database_password = f"Database-{uuid.uuid4().hex[:12]}"  # the test server trusts any password
    rabbitmq.ctl("add_user", user, broker_password)
    try:
        rabbitmq.ctl("set_permissions", "--vhost", vhost, user, ".*", ".*", ".*")
        on_rabbitmq.env.update(
            PIZZERIA_BROKER_URL=f"amqp://{user}:{broker_password}@127.0.0.1:{rabbitmq.port}/{vhost}",
            PIZZERIA_DATABASE_URL=postgres_url.replace("://postgres@", f"://postgres:{database_password}@"))
        (entry,) = visits_with_a_failed_show_menu(on_rabbitmq, ["TBL1"])
        outputs = [on_rabbitmq.run(*args) for args in (
            ["init"], ["serve", "TBL2", "--timeout", "60"], ["status", "TBL1"], ["status", "--json"],
            ["failed", "list"], ["failed", "list", "--json"], ["failed", "show", str(entry["id"])],
            ["failed", "show", str(entry["id"]), "--json"])]
        assert on_rabbitmq.stop_consumers() == [0]
    finally:
        rabbitmq.ctl("delete_user", user)
    assert "database postgresql+psycopg://postgres:***@" in outputs[0].stdout
    assert f"broker amqp://{user}:***@127.0.0.1:{rabbitmq.port}/{vhost}" in outputs[0].stdout
    assert outputs[1].returncode == 1 and "TBL2     failed" in outputs[1].stdout
    shown = "".join(result.stdout + result.stderr for result in outputs)
    shown += "".join(path.read_text() for path in on_rabbitmq.cwd.glob("consume-*.log"))
    assert broker_password not in shown
    assert database_password not in shown


@pytest.mark.parametrize("url", [
    "amqp://pizza:{secret}@127.0.0.1:{port}//",
    "AMQP://pizza:{secret}@127.0.0.1:{port}//",  # a scheme is case-insensitive; kombu takes this
    "amqp://pizza:p@{secret}@127.0.0.1:{port}//",  # an '@' left unencoded; kombu takes it as the password's
])
def test_an_unreachable_broker_is_named_without_its_password_however_its_url_is_written(embedded, url):
    secret = f"Sesame-{uuid.uuid4().hex[:12]}"
    (port,) = free_ports(1)
    embedded.env["PIZZERIA_BROKER_URL"] = url.format(secret=secret, port=port)
    result = embedded.run("status", timeout=60)
    assert result.returncode == 1
    assert one_line_error(result).startswith("error: cannot reach the broker at ")
    assert secret not in result.stdout + result.stderr, result.stderr

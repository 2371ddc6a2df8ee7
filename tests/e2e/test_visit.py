"""Whole visits through the CLI, every consumer a separate process, on both transports."""

from __future__ import annotations

import json

from pizzeria.modules import names

QUEUES = names()


STEPS = (
    [("received", "StartTableService"), ("sent", "GetMenu"), ("received", "MenuGot"),
     ("sent", "ShowMenu"), ("received", "MenuShown"), ("sent", "PlaceOrder"),
     ("received", "OrderPlaced")]
    + [("sent", "DoPizza")] * 3 + [("received", "PizzaDone")] * 3
    + [("sent", "ServePizzas"), ("received", "PizzasServed"), ("sent", "ShowBill"),
       ("received", "BillPaid"), ("sent", "ThankClient"), ("received", "ClientThanked")]
)


def test_a_visit_served_by_four_consumer_processes_finishes_with_the_fifteen_steps_in_order(pizzeria):
    for queue in QUEUES:
        pizzeria.consume(queue)
    served = pizzeria.run("serve", "TBL1", "--order", "margherita:2,diavola:1", "--timeout", "60")
    assert served.returncode == 0, served.stderr
    assert "finished" in served.stdout
    report = json.loads(pizzeria.run("status", "TBL1", "--json").stdout)
    assert (report["table_id"], report["status"], report["reason"]) == ("TBL1", "finished", None)
    assert report["order"] == [{"pizza": "margherita", "quantity": 2}, {"pizza": "diavola", "quantity": 1}]
    assert sorted(p["pizza"] for p in report["pizzas"] if p["status"] == "done") == ["diavola", "margherita", "margherita"]
    assert report["bill"] == {"amount": "27.00", "paid": True}
    assert [(entry["direction"], entry["type"]) for entry in report["history"]] == STEPS
    assert len({entry["message_id"] for entry in report["history"]}) == len(STEPS)
    assert pizzeria.stop_consumers() == [0, 0, 0, 0]


def test_one_process_may_consume_every_queue(pizzeria):
    pizzeria.consume(*QUEUES)
    served = pizzeria.run("serve", "TBL2", "--timeout", "60")
    assert served.returncode == 0, served.stderr
    assert json.loads(pizzeria.run("status", "--json").stdout)[0]["status"] == "finished"
    assert pizzeria.stop_consumers() == [0]


def test_an_order_with_a_pizza_not_on_the_menu_ends_rejected_with_exit_1(embedded):
    embedded.consume(*QUEUES)
    served = embedded.run("serve", "TBL3", "--order", "margherita:1,hawaii:2", "--timeout", "60")
    assert served.returncode == 1
    assert "rejected" in served.stdout and "not on the menu: hawaii" in served.stdout
    status = json.loads(embedded.run("status", "TBL3", "--json").stdout)
    assert (status["status"], status["reason"]) == ("rejected", "not on the menu: hawaii")


def test_an_empty_order_ends_rejected_with_exit_1(embedded):
    embedded.consume(*QUEUES)
    served = embedded.run("serve", "TBL4", "--order", "", "--timeout", "60")
    assert (served.returncode, "the order is empty" in served.stdout) == (1, True)


def test_pizzeria_demo_on_a_fresh_directory_serves_a_table_and_stops_its_consumers(embedded):
    demo = embedded.run("demo", timeout=180)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "TBL1     finished" in demo.stdout
    assert demo.stdout.count(", exit 0") == 4
    assert (embedded.cwd / "var" / "pizzeria.sqlite").exists()


def test_pizzeria_demo_serves_several_tables_at_once(embedded):
    demo = embedded.run("demo", "--tables", "3", timeout=180)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert [f"TBL{n}     finished" in demo.stdout for n in (1, 2, 3)] == [True] * 3


def test_every_log_line_about_a_message_carries_its_visit_message_id_and_type_in_json(embedded):
    embedded.env["PIZZERIA_LOG_JSON"] = "1"
    for queue in QUEUES:
        embedded.consume(queue)
    assert embedded.run("serve", "TBL5", "--order", "diavola:1", "--timeout", "60").returncode == 0
    visit_id = json.loads(embedded.run("status", "TBL5", "--json").stdout)["visit_id"]
    assert embedded.stop_consumers() == [0, 0, 0, 0]
    lines = [json.loads(line) for log in embedded.cwd.glob("consume-*.log")
             for line in log.read_text().splitlines()]
    about_messages = [line for line in lines if line["event"] in ("handled", "baking")]
    assert len(about_messages) == 16  # 15 steps, and the kitchen's baking line
    assert all(line["correlation_id"] == visit_id and line["message_id"] and line["type"]
               for line in about_messages)

"""Single crashes, made on purpose: a kitchen killed mid-bake, PostgreSQL restarted mid-visit."""

from __future__ import annotations

import json
import signal

from polling import wait_until
from sqlalchemy import create_engine, func, select

from pizzeria.kitchen.domain import bakes
from pizzeria.messaging.store.failed import failed_messages
from pizzeria.modules import names

QUEUES = names()


def finished(pizzeria, table_id: str):
    report = json.loads(pizzeria.run("status", table_id, "--json").stdout)
    return report["status"] == "finished" and report


def count(database_url: str, table) -> int:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(table)).scalar()
    engine.dispose()
    return total


def test_a_kitchen_killed_mid_bake_leaves_the_pizza_to_the_other_kitchen_which_bakes_it_once(pizzeria):
    """On RabbitMQ the pizza goes at once; on the embedded broker once the dead kitchen's lease
    (10 s) runs out."""
    first_kitchen = pizzeria.baking(bake_seconds=1, pizza="diavola")
    second_kitchen = pizzeria.consume("kitchen")
    first_kitchen.send_signal(signal.SIGKILL)
    report = wait_until(lambda: finished(pizzeria, "TBL1"), timeout=60, what="the visit to finish")
    assert "handled" in second_kitchen.log_path.read_text()
    assert [pizza["status"] for pizza in report["pizzas"]] == ["done"]
    database_url = pizzeria.env.get("PIZZERIA_DATABASE_URL") or f"sqlite:///{pizzeria.cwd}/var/pizzeria.sqlite"
    assert count(database_url, bakes) == 1


def test_visits_go_on_through_a_postgresql_restart_and_no_message_fails(on_rabbitmq, postgres, postgres_url):
    on_rabbitmq.env["PIZZERIA_KITCHEN__BAKE_SECONDS"] = "0.3"
    for queue in QUEUES:
        on_rabbitmq.consume(queue)
    for n in range(1, 6):
        assert on_rabbitmq.run("serve", f"TBL{n}", "--order", "margherita:2", "--no-wait").returncode == 0
    wait_until(lambda: "baking" in on_rabbitmq.consumers[-1].log_path.read_text(), what="baking")
    postgres.stop()
    postgres.start()
    for n in range(1, 6):
        wait_until(lambda n=n: finished(on_rabbitmq, f"TBL{n}"), timeout=60, what=f"TBL{n} to finish")
    assert count(postgres_url, failed_messages) == 0
    assert count(postgres_url, bakes) == 10
    assert on_rabbitmq.stop_consumers() == [0, 0, 0, 0]

"""A kitchen with `concurrency` 3 on the embedded broker: one `pizzeria consume kitchen` process
runs three consumers of its queue, each with its own heartbeat, and between them they bake every
pizza once; its one metrics port counts for all three, and SIGTERM stops them all cleanly."""

from __future__ import annotations

import socket

import httpx
from polling import wait_until
from processes import free_port
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from pizzeria.messaging import admin, make_engine
from pizzeria.messaging.store.tables import inbox
from pizzeria.process_manager.repository import visits

VISITS = 6


def handled_total(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "pizzeria_messages_handled_total" and sample.labels["endpoint"] == "kitchen")


def test_a_kitchen_of_concurrency_three_bakes_with_three_consumers_in_one_process(embedded):
    embedded.env.update(PIZZERIA_KITCHEN__CONCURRENCY="3", PIZZERIA_KITCHEN__PREFETCH="1",
                        PIZZERIA_KITCHEN__BAKE_SECONDS="0.5")
    assert embedded.run("init").returncode == 0
    port = free_port()
    kitchen = embedded.consume("kitchen", "--metrics-port", str(port))
    for queue in ("process_manager", "menu", "waiter"):
        embedded.consume(queue)
    engine = make_engine(f"sqlite:///{embedded.cwd}/var/pizzeria.sqlite")
    name = f"{socket.gethostname()}:{kitchen.pid}"
    mine = lambda: sorted(p["process"] for p in admin.consumer_processes(engine, 0) if p["pid"] == kitchen.pid)  # noqa: E731
    assert wait_until(lambda: len(mine()) == 3 and mine(), what="three kitchen heartbeats") == [
        name, f"{name}+1", f"{name}+2"]
    for number in range(VISITS):
        assert embedded.run("serve", f"TBL{number}", "--order", "margherita:1", "--no-wait").returncode == 0
    finished = select(func.count()).where(visits.c.status == "finished")
    wait_until(lambda: _scalar(engine, finished) == VISITS, timeout=60, what="every visit finished")
    bakers = select(inbox.c.process, func.count()).where(inbox.c.consumer == "kitchen").group_by(inbox.c.process)
    with engine.connect() as conn:
        baked = dict(conn.execute(bakers).all())
    assert sum(baked.values()) == VISITS and len(baked) > 1 and set(baked) <= set(mine())
    assert wait_until(lambda: handled_total(port) == VISITS, what="the port counting for all three")
    assert embedded.stop_consumers() == [0] * 4
    assert {p["status"] for p in admin.consumer_processes(engine, 0) if p["pid"] == kitchen.pid} == {"stopped"}
    engine.dispose()


def _scalar(engine, query) -> int:
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()

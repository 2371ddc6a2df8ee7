"""Chaos: kill -9 consumers at random while visits run, on RabbitMQ (restarted once), on a
three-node RabbitMQ cluster (a node killed with -9 and started again later, PostgreSQL restarted)
and on the embedded broker; every effect once, nothing left behind, nothing failed.

`make chaos` runs the full size (1000 visits on the cluster, 200 on one node, 100 embedded); the
suite runs a smaller one. The randomness is seeded: PIZZERIA_CHAOS_VISITS,
PIZZERIA_CHAOS_CLUSTER_VISITS and PIZZERIA_CHAOS_SEED change it.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from kombu import Connection
from polling import wait_until
from processes import Pizzeria, environment
from sqlalchemy import func, select

from pizzeria import bootstrap
from pizzeria.config import Settings
from pizzeria.kitchen.domain import bakes_per_order
from pizzeria.menu.domain import MENU
from pizzeria.messaging.store import failed, inbox
from pizzeria.messaging.store.outbox import outbox
from pizzeria.process_manager import views
from pizzeria.process_manager.messages import OrderLine, StartTableService
from pizzeria.process_manager.service import start_visit

VISITS = int(os.environ.get("PIZZERIA_CHAOS_VISITS", "60"))
SEED = int(os.environ.get("PIZZERIA_CHAOS_SEED", "20261124"))
CONSUMERS = ["process_manager", "process_manager", "kitchen", "kitchen", "menu", "waiter"]
EMBEDDED_VISITS = int(os.environ.get("PIZZERIA_CHAOS_EMBEDDED_VISITS", str(VISITS // 2)))
CLUSTER_VISITS = int(os.environ.get("PIZZERIA_CHAOS_CLUSTER_VISITS", str(VISITS * 2)))


def random_order(rng: random.Random) -> tuple[OrderLine, ...]:
    """1 to 3 pizzas in all."""
    pizzas = Counter(rng.choice(MENU).name for _ in range(rng.randint(1, 3)))
    return tuple(OrderLine(name, quantity) for name, quantity in sorted(pizzas.items()))


class Chaos:
    """Kills a random consumer every 0.5 to 2 s and starts a new one in its place."""

    def __init__(self, pizzeria, rng: random.Random):
        self.pizzeria, self.rng = pizzeria, rng
        self.slots = [(queue, pizzeria.consume(queue)) for queue in CONSUMERS]
        self.kills = 0

    def kill_one(self) -> None:
        index = self.rng.randrange(len(self.slots))
        queue, process = self.slots[index]
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.slots[index] = (queue, self.pizzeria.consume(queue))
        self.kills += 1

    def died_on_their_own(self) -> list[str]:
        return [queue for queue, process in self.slots if process.poll() is not None]

    def pause(self) -> float:
        return self.rng.uniform(0.5, 2.0)


def queue_depths(app) -> dict[str, int]:
    with Connection(app.broker.url) as conn:
        channel = conn.default_channel
        return {name: queue(channel).queue_declare(passive=True).message_count
                for name, queue in app.broker.topology.queues.items()}


def messages_left(app) -> tuple[int, int]:
    """How many messages the stopped consumers left in the queues, and how many of them were
    never handled. A consumer stopped just after it started gives back what the broker had sent
    it but it had not taken in hand yet: a copy of a handled message (a redelivery) is harmless."""
    left, unhandled = 0, 0
    with Connection(app.broker.url) as conn:
        for name, queue in app.broker.topology.queues.items():
            while (message := queue(conn.default_channel).get(no_ack=True)) is not None:
                left += 1
                unhandled += not inbox.handled(app.engine, name, [message.headers["message_id"]])
    return left, unhandled


def unsent(app) -> int:
    with app.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(outbox)).scalar()


def test_every_visit_finishes_with_every_effect_once_despite_kill_9_and_a_broker_restart(
        on_rabbitmq, rabbitmq, amqp_url, postgres_url, tmp_path, capsys):
    app = bootstrap.bootstrap(Settings(amqp_url, postgres_url, tmp_path))
    restart = Fault("broker restart", lambda: (rabbitmq.stop(), rabbitmq.start()))
    counts = run_chaos(on_rabbitmq, app, VISITS, {3: restart}, capsys)
    assert counts["broker restart"] == 1


def test_on_a_cluster_every_visit_finishes_despite_kill_9_of_consumers_and_of_a_node_and_a_database_restart(
        rabbitmq_cluster, cluster_url, postgres, postgres_url, tmp_path, capsys):
    """Quorum queues on three nodes: one is killed with -9, the two left carry on; PostgreSQL
    restarts meanwhile; the node comes back later."""
    pizzeria = Pizzeria(tmp_path, environment(tmp_path, PIZZERIA_BROKER_URL=cluster_url,
                                              PIZZERIA_DATABASE_URL=postgres_url))
    app = bootstrap.bootstrap(Settings(cluster_url, postgres_url, tmp_path))
    node = rabbitmq_cluster.nodes[random.Random(SEED).randrange(len(rabbitmq_cluster.nodes))]
    restart = Fault("database restart", lambda: (postgres.stop(), postgres.start(), app.engine.dispose()))
    faults = {1: Fault("node killed", node.kill), 2: restart, 3: Fault("node back", node.start, outage=False)}
    try:
        counts = run_chaos(pizzeria, app, CLUSTER_VISITS, faults, capsys)
    finally:
        pizzeria.stop_consumers()
    assert (counts["node killed"], counts["database restart"], counts["node back"]) == (1, 1, 1)


def test_every_visit_finishes_with_every_effect_once_despite_kill_9_on_the_embedded_broker(
        embedded, tmp_path, capsys):
    """Everything in SQLite files; leases of 2 s, so that a killed consumer's messages go on soon."""
    broker_url = f"sqlite:///{tmp_path / 'broker.sqlite'}?lease_seconds=2"
    database_url = f"sqlite:///{tmp_path / 'pizzeria.sqlite'}"
    embedded.env.update(PIZZERIA_BROKER_URL=broker_url, PIZZERIA_DATABASE_URL=database_url)
    run_chaos(embedded, bootstrap.bootstrap(Settings(broker_url, database_url, tmp_path)), EMBEDDED_VISITS,
              {}, capsys)


@dataclass(frozen=True)
class Fault:
    """Something that happens to a server at a given kill of the chaos: an outage, whose
    recovery is timed, or a repair, whose own length is."""

    name: str
    strike: Callable[[], object]
    outage: bool = True


def run_chaos(pizzeria, app, visit_count: int, faults: dict[int, Fault], capsys) -> dict[str, int | str]:
    """Start the visits, kill consumers until they end, strike each fault at its kill, check
    every effect happened once; print the counts and how long each fault took (and for an
    outage, how long after it a message was handled again), and return them."""
    rng = random.Random(SEED)
    bootstrap.init(app)
    orders = {f"TBL{n}": random_order(rng) for n in range(1, visit_count + 1)}
    publisher = app.publisher()
    visits = {start_visit(app.engine, publisher, StartTableService(table, order)): order
              for table, order in orders.items()}
    publisher.close()
    chaos = Chaos(pizzeria, rng)
    deadline = time.monotonic() + 120 + visit_count * 1.5
    struck: dict[str, int] = Counter()
    recovery: dict[str, str] = {}
    while not all_ended(app, visits) and time.monotonic() < deadline:
        time.sleep(chaos.pause())
        chaos.kill_one()
        if (fault := faults.get(chaos.kills)) is not None and not struck[fault.name]:
            since = time.time()
            fault.strike()
            struck[fault.name] += 1
            done = time.time()
            recovery[fault.name] = (f"{done - since:.1f}s, handling again {recovered_after(app, done, visits):.1f}s after"
                                    if fault.outage else f"{done - since:.1f}s")
        assert chaos.died_on_their_own() == []
    wait_until(lambda: all_ended(app, visits), timeout=max(deadline - time.monotonic(), 1),
               what="every visit to end")
    wait_until(lambda: unsent(app) == 0 and not any(queue_depths(app).values()), timeout=60,
               what="the outbox and the queues to empty")
    wait_until(lambda: all("consuming" in p.log_path.read_text() for _, p in chaos.slots),
               what="the last replacements to be ready")
    assert pizzeria.stop_consumers() == [0] * len(CONSUMERS)
    counts: dict[str, int | str] = {**check_effects(app, visits), **struck}
    left, unhandled = messages_left(app)
    counts.update(kills=chaos.kills, unsent_outbox_rows=unsent(app), failed_messages=failed_count(app),
                  copies_of_handled_messages_left=left - unhandled, unhandled_messages_left=unhandled,
                  duplicates_ignored=duplicates_logged(pizzeria.cwd),
                  **{f"{name} took": took for name, took in recovery.items()})
    with capsys.disabled():
        print("\nchaos:", ", ".join(f"{key}={value}" for key, value in counts.items()))
    assert (counts["unsent_outbox_rows"], counts["unhandled_messages_left"], counts["failed_messages"]) == (0, 0, 0)
    return counts


def recovered_after(app, since: float, visits) -> float:
    """Seconds from `since` until a consumer handled a message after it (at once if every
    visit has ended)."""
    def handled_since() -> bool:
        with app.engine.connect() as conn:
            newer = conn.execute(select(func.count()).select_from(inbox.inbox)
                                 .where(inbox.inbox.c.handled_at > since)).scalar()
        return bool(newer)
    wait_until(lambda: handled_since() or all_ended(app, visits), timeout=120, interval=0.1,
               what="a message handled after the fault")
    return time.time() - since


def failed_count(app) -> int:
    with app.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(failed.failed_messages)).scalar()


def all_ended(app, visits) -> bool:
    return all((report := views.visit(app.engine, visit_id)) and report["status"] != "in_progress"
               for visit_id in visits)


def check_effects(app, visits) -> dict[str, int]:
    """Assert every effect happened once; return the counts."""
    bakes = bakes_per_order(app.engine)
    counts = Counter()
    for visit_id, order in visits.items():
        report = views.visit(app.engine, visit_id)
        assert report["status"] == "finished", report
        history = Counter((entry["direction"], entry["type"]) for entry in report["history"])
        assert history[("sent", "ServePizzas")] == history[("sent", "ShowBill")] == 1, report
        assert history[("received", "BillPaid")] == 1, report
        ordered = sum(line.quantity for line in order)
        assert [pizza["status"] for pizza in report["pizzas"]] == ["done"] * ordered
        assert [bakes.get(pizza["kitchen_order_id"]) for pizza in report["pizzas"]] == [1] * ordered
        counts.update(visits_finished=1, pizzas_done=ordered, serve_pizzas_sent=1, bills_shown=1,
                      bills_paid=1)
    counts["pizzas_baked"] = sum(bakes.values())
    assert counts["pizzas_baked"] == counts["pizzas_done"]
    return dict(counts)


def duplicates_logged(directory) -> int:
    return sum(path.read_text(errors="replace").count("duplicate ignored")
               for path in directory.glob("consume-*.log"))

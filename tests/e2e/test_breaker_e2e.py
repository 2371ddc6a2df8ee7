"""The circuit breaker end to end, on RabbitMQ and PostgreSQL with real consumer processes: the
kitchen's oven is down for 60 s with 50 visits in flight; its breaker holds the queue instead of
failing the pizzas, and every visit finishes once the oven is back."""

from __future__ import annotations

import time

from polling import wait_until
from sqlalchemy import func, select

from pizzeria import bootstrap
from pizzeria.config import Settings
from pizzeria.messaging.store import breakers
from pizzeria.messaging.store.tables import failed_messages
from pizzeria.process_manager import views
from pizzeria.process_manager.messages import OrderLine, StartTableService
from pizzeria.process_manager.service import start_visit

VISITS, DOWN_SECONDS = 50, 60


def test_an_oven_down_for_60_s_holds_the_kitchen_and_every_visit_finishes_after_it(on_rabbitmq, capsys):
    on_rabbitmq.env.update(PIZZERIA_FAULTS=f"kitchen.DoPizza:{DOWN_SECONDS}s", PIZZERIA_KITCHEN__BAKE_SECONDS="0.05")
    app = bootstrap.bootstrap(Settings.from_env(on_rabbitmq.env))
    bootstrap.init(app)
    for queue in ("process_manager", "menu", "waiter", "kitchen"):
        on_rabbitmq.consume(queue)
    publisher = app.publisher()
    started = time.monotonic()
    visits = [start_visit(app.engine, publisher, StartTableService(f"TBL{n}", (OrderLine("margherita", 1),)))
              for n in range(VISITS)]
    publisher.close()
    wait_until(lambda: all((report := views.visit(app.engine, visit)) and report["status"] != "in_progress"
                           for visit in visits), timeout=DOWN_SECONDS + 120, interval=1, what="every visit to end")
    took = time.monotonic() - started
    statuses = {views.visit(app.engine, visit)["status"] for visit in visits}
    changes = list(reversed(breakers.history(app.engine, limit=1000)))
    with app.engine.connect() as conn:
        failed = conn.execute(select(func.count()).select_from(failed_messages)).scalar()
    with capsys.disabled():
        print(f"\nbreaker: {VISITS} visits {statuses}, failed messages {failed}, took {took:.0f} s, changes "
              f"{[change['state'] for change in changes]}")
    assert (statuses, failed) == ({"finished"}, 0)
    assert took >= DOWN_SECONDS
    assert changes[0]["state"] == "open" and changes[0]["queue"] == "pizzeria.kitchen"
    assert [change["state"] for change in breakers.current(app.engine)] == ["closed"]
    assert on_rabbitmq.stop_consumers() == [0] * 4

"""Middleware: a concern added to the pipeline without touching it."""

from __future__ import annotations

from test_bus import app_in

from pizzeria.bootstrap import NAMES
from pizzeria.messaging import How, Middleware
from pizzeria.messaging.testing import Bus
from pizzeria.process_manager.messages import StartTableService


class Counter(Middleware):
    def __init__(self):
        self.handled = {}

    def after_settle(self, endpoint, settled):
        done = sum(1 for each in settled if each.how is How.HANDLED)
        self.handled[endpoint] = self.handled.get(endpoint, 0) + done


def test_a_middleware_counts_the_messages_each_endpoint_handled(tmp_path):
    app, counter = app_in(tmp_path), Counter()
    with Bus(list(app.endpoints.values()), app.engine, NAMES, middlewares=[counter]) as bus:
        bus.send(StartTableService("T1"), correlation_id="visit-1")
        bus.run()
    assert counter.handled == {"process_manager": 10, "menu": 1, "waiter": 5, "kitchen": 3}  # a visit of 3 pizzas

"""A message that kills its consumer each time it is handled: it is handled alone once it comes
back a second time, so that it takes no other message down with it, and it goes to the failed
store once delivered as often as the delivery limit allows; the others are handled once."""

from __future__ import annotations

import pytest
from fakes import FakeDelivery, pipeline
from sqlalchemy import select

from pizzeria.kitchen.messages import DoPizza
from pizzeria.messaging import Endpoint, Envelope, FailurePolicy
from pizzeria.messaging.contracts.errors import Unsettled
from pizzeria.messaging.store import failed, inbox


class Crash(BaseException):
    """The process dies: nothing after it runs, nothing is settled."""


def endpoint(handled: list[str]) -> Endpoint:
    def do_pizza(command: DoPizza, _context) -> None:
        if command.pizza == "poison":
            raise Crash
        handled.append(command.kitchen_order_id)
    return Endpoint("kitchen", {DoPizza: do_pizza})


def delivery(order: str, pizza: str, redelivered: bool) -> FakeDelivery:
    return FakeDelivery.of(Envelope.wrap(DoPizza(order, pizza), message_id=order, correlation_id="visit"),
                           redelivered=redelivered)


def deliver_until_settled(engine, orders: dict[str, str], limit: int) -> tuple[int, list[str]]:
    """Deliver the orders as one batch, again and again like a broker whose consumer dies,
    until every delivery of a batch is settled; return the deliveries it took and the handled."""
    handled: list[str] = []
    kitchen = endpoint(handled)
    for deliveries in range(1, 20):
        batch = [delivery(order, pizza, redelivered=deliveries > 1) for order, pizza in orders.items()]
        try:
            pipeline(engine, FailurePolicy(delivery_limit=limit)).handle(kitchen, batch)
        except Crash:
            continue
        assert all(d.settled == ["ack"] for d in batch)
        return deliveries, handled
    raise AssertionError("the batch was never settled")


@pytest.mark.parametrize("limit", [2, 5])
def test_a_message_that_kills_its_consumer_stops_at_the_delivery_limit(engine, limit):
    deliveries, handled = deliver_until_settled(engine, {"good-1": "margherita", "bad": "poison",
                                                         "good-2": "diavola"}, limit)
    assert deliveries == limit + 1
    assert set(handled) == {"good-1", "good-2"}  # and committed once each, by the inbox:
    with engine.connect() as conn:
        entries = conn.execute(select(failed.failed_messages)).all()
        done = set(conn.execute(select(inbox.inbox.c.message_id)).scalars())
    assert [(entry.queue, entry.error_type) for entry in entries] == [("pizzeria.kitchen", Unsettled.__name__)]
    assert f"delivered {limit + 1} times" in entries[0].error
    assert done == {"good-1", "good-2"}


def test_messages_that_come_back_but_never_crash_are_handled(engine):
    deliveries, handled = deliver_until_settled(engine, {"good-1": "margherita", "good-2": "diavola"}, 2)
    assert (deliveries, sorted(handled)) == (1, ["good-1", "good-2"])

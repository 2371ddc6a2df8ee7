"""A command that comes again gets the answer it got the first time, the same ids; a message
sent with a delay goes out once its time has come, kept in the outbox meanwhile."""

from __future__ import annotations

from fakes import FakeDelivery, FakePublisher

from pizzeria.bootstrap import NAMES
from pizzeria.kitchen.messages import DoPizza, PizzaDone
from pizzeria.messaging import Endpoint, Envelope, VirtualClock
from pizzeria.messaging.delivery.pipeline import Pipeline
from pizzeria.messaging.store.outbox import Relay


def kitchen_pipeline(engine, clock=None) -> tuple[Pipeline, FakePublisher]:
    publisher = FakePublisher()
    clock = clock or VirtualClock()
    return Pipeline(engine, Relay(engine, publisher.publish_many, clock=clock), NAMES, clock=clock), publisher


def sent_ids(publisher: FakePublisher) -> list[tuple[str, str]]:
    return [(message.headers["type"], message.headers["message_id"]) for message in publisher.published]


def bake(command: DoPizza, context) -> None:
    context.send(PizzaDone(command.kitchen_order_id))


KITCHEN = Endpoint("kitchen", {DoPizza: bake, PizzaDone: lambda _event, _context: None})


def test_a_command_that_comes_again_is_answered_again_with_the_same_ids(engine):
    consumer, publisher = kitchen_pipeline(engine)
    command = Envelope.wrap(DoPizza("p1", "margherita"), message_id="m1", correlation_id="visit-1")
    consumer.handle(KITCHEN, [FakeDelivery.of(command)])
    again = FakeDelivery.of(command)  # the saga re-sent it: not flagged redelivered
    consumer.handle(KITCHEN, [again])
    assert again.settled == ["ack"]
    (first, second) = sent_ids(publisher)
    assert first == second and first[0] == "PizzaDone"


def test_an_event_that_comes_again_is_only_dropped(engine):
    consumer, publisher = kitchen_pipeline(engine)
    event = Envelope.wrap(PizzaDone("p1"), message_id="e1", correlation_id="visit-1")
    consumer.handle(KITCHEN, [FakeDelivery.of(event)])
    consumer.handle(KITCHEN, [FakeDelivery.of(event, redelivered=True)])
    assert sent_ids(publisher) == []


def test_a_message_sent_with_a_delay_waits_in_the_outbox_until_its_time(engine):
    clock = VirtualClock()

    def remind_later(command: DoPizza, context) -> None:
        context.send(PizzaDone(command.kitchen_order_id), delay=30)

    consumer, publisher = kitchen_pipeline(engine, clock)
    command = Envelope.wrap(DoPizza("p1", "margherita"), message_id="m1", correlation_id="visit-1")
    consumer.handle(Endpoint("kitchen", {DoPizza: remind_later}), [FakeDelivery.of(command)])
    assert (publisher.published, consumer.relay.sweep()) == ([], 0)
    clock.advance(31)
    assert consumer.relay.sweep() == 1
    assert [message.headers["type"] for message in publisher.published] == ["PizzaDone"]

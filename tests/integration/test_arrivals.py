"""Arrivals, commands that start new work, wait in a queue of their own: a worker takes at most
`arrivals_prefetch` of them into a batch beside its own queue's deliveries, so that a burst
of them is served in order, the work already under way first. On RabbitMQ and on the embedded
broker, each with a real worker."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from fakes import running
from polling import wait_until

from pizzeria.messaging import (
    Broker,
    Command,
    Contract,
    Endpoint,
    Envelope,
    How,
    Middleware,
    Module,
    Names,
    Publisher,
    Settled,
    Topology,
    build_worker,
    send,
)

contract = Contract("shop")
TICKETS = 24
AT_ONCE = 3


@contract.arrival
@dataclass(frozen=True)
class Open(Command, unique_by=()):
    """A customer walks in."""

    ticket: int


@contract.command
@dataclass(frozen=True)
class Work(Command, unique_by=("round",)):
    """One round of work on an open ticket."""

    ticket: int
    round: int


class Batches(Middleware):
    """The types of the messages handled, a list per batch."""

    def __init__(self) -> None:
        self.batches: list[list[Envelope]] = []

    def after_settle(self, endpoint: str, settled: Sequence[Settled]) -> None:
        handled = [each.message.envelope for each in settled if each.how is How.HANDLED and each.message]
        if handled:
            self.batches.append(handled)

    @property
    def handled(self) -> list[Envelope]:
        return [envelope for batch in self.batches for envelope in batch]


def shop() -> Endpoint:
    """Each ticket opened takes three rounds of work, each round a message of its own."""
    def work(command: Work, context) -> None:
        if command.round < 3:
            context.send(Work(command.ticket, command.round + 1))
    return Endpoint("shop", {Open: lambda command, context: context.send(Work(command.ticket, 1)), Work: work},
                    prefetch=30, arrivals_prefetch=AT_ONCE)


@pytest.fixture(params=["rabbitmq", "embedded"])
def broker_url(request, tmp_path) -> str:
    if request.param == "embedded":
        return f"sqlite:///{tmp_path / 'broker.sqlite'}"
    return request.getfixturevalue("amqp_url")


def test_an_arrival_has_a_queue_of_its_own_and_the_module_a_setting_for_it():
    endpoint = shop()
    assert Open.route == "shop.arrival.Open"
    assert endpoint.queues == {"shop": ["shop.command.*"], "shop.arrivals": ["shop.arrival.*"]}
    assert [queue.name for queue in Topology.of(Names("app"), [endpoint]).queues.values()] == ["app.shop", "app.shop.arrivals"]
    assert "arrivals_prefetch" in [setting.name for setting in Module("shop", contract, lambda _v: {}).all_settings]
    assert "arrivals_prefetch" not in [setting.name for setting in Module("else", Contract("else"), lambda _v: {}).all_settings]
    assert Endpoint("else", {Work: lambda _c, _x: None}).queues == {"else": ["shop.command.*"]}


def test_a_burst_of_arrivals_is_served_in_order(broker_url, sqlite_engine):
    endpoint = shop()
    batches = Batches()
    broker = Broker(broker_url, Topology.of(Names(f"a{uuid.uuid4().hex[:8]}"), [endpoint]))
    broker.open().release()  # the queues declared
    publisher = Publisher(broker)
    for ticket in range(TICKETS):  # all at once, before a consumer runs
        send(publisher, Open(ticket), f"ticket-{ticket}")
    publisher.close()
    with running(build_worker(broker, sqlite_engine, [endpoint], middlewares=[batches])):
        wait_until(lambda: len(batches.handled) == 4 * TICKETS, timeout=60, what="every ticket's work")
    assert all(sum(envelope.type == "Open" for envelope in batch) <= AT_ONCE for batch in batches.batches)
    done = [envelope.correlation_id for envelope in batches.handled if envelope.payload.get("round") == 3]
    opened = [envelope.correlation_id for envelope in batches.handled if envelope.type == "Open"]
    assert done.index("ticket-0") < opened.index(f"ticket-{TICKETS - 1}")  # the first served before the last sat

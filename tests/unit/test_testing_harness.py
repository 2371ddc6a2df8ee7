"""The harness the core gives its users: `FakeContext` ends its transaction as the core would,
and `Bus.run` waits for delayed messages, gives up at its timeout, and relays what is left
when it closes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Column, Engine, MetaData, String, Table, func, insert, select

from pizzeria.messaging import (
    Command,
    Contract,
    Endpoint,
    Envelope,
    Event,
    FailurePolicy,
    Names,
    Outgoing,
)
from pizzeria.messaging.store import outbox
from pizzeria.messaging.store.engine import make_engine
from pizzeria.messaging.store.tables import metadata
from pizzeria.messaging.testing import Bus, FakeContext

contract = Contract("shop")


@contract.command
@dataclass(frozen=True)
class ShipOrder(Command, unique_by=("order_id",)):
    order_id: str


@contract.event
@dataclass(frozen=True)
class OrderShipped(Event):
    order_id: str


notes = Table("harness_notes", MetaData(), Column("text", String(32), primary_key=True))
NAMES = Names("harness")


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/db.sqlite")
    metadata.create_all(engine)
    notes.create(engine)
    yield engine
    engine.dispose()


def rows(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


# --- FakeContext --------------------------------------------------------------------------

def test_a_fake_context_without_an_engine_says_how_to_give_the_handler_a_database():
    context = FakeContext.of(ShipOrder("o1"))
    with pytest.raises(AssertionError, match="give FakeContext an engine"):
        context.db  # noqa: B018 (the property is what is tested)


def test_a_fake_context_left_without_commit_rolls_back_what_the_handler_wrote(engine):
    with FakeContext.of(ShipOrder("o1"), engine=engine) as context:
        context.db.execute(insert(notes).values(text="written"))
    assert rows(engine, notes) == 0


def test_a_fake_context_commits_what_the_handler_wrote_and_the_rows_it_left_for_the_commit(engine):
    with FakeContext.of(ShipOrder("o1"), engine=engine) as context:
        context.db.execute(insert(notes).values(text="written"))
        context.insert_later(notes, {"text": "later"})
        context.commit()
    assert rows(engine, notes) == 2


def test_a_fake_context_that_never_touched_the_database_commits_its_work_without_one():
    done = []
    with FakeContext.of(ShipOrder("o1")) as context:
        context.before_commit(lambda: done.append("work"))
        context.commit()
    assert done == ["work"]


# --- Bus --------------------------------------------------------------------------------

def bus_with(engine: Engine, handler, policy: FailurePolicy) -> Bus:
    return Bus([Endpoint("shop", {ShipOrder: handler})], engine, NAMES, policy)


def test_run_waits_for_a_retry_that_is_not_due_yet_and_handles_it_when_it_is(engine):
    attempts = []

    def fails_the_first_round(command, context):
        attempts.append(context.attempt)
        if context.attempt == 1:
            raise RuntimeError("not yet")
        context.send(OrderShipped(command.order_id))

    with bus_with(engine, fails_the_first_round, FailurePolicy(immediate=0, delayed=1, first_delay=0.3)) as bus:
        bus.send(ShipOrder("o1"), correlation_id="order-1")
        bus.run()
        assert bus.wait_for(OrderShipped, "order-1", timeout=0).payload == {"order_id": "o1"}
    assert attempts == [1, 2]
    assert rows(engine, outbox.outbox) == 0


def test_run_moves_its_clock_on_to_a_retry_an_hour_away_at_once(engine):
    attempts = []

    def fails_the_first_round(command, context):
        attempts.append((context.attempt, context.clock.time()))
        if context.attempt == 1:
            raise RuntimeError("not yet")

    with bus_with(engine, fails_the_first_round, FailurePolicy(immediate=0, delayed=1, first_delay=3600, max_delay=3600)) as bus:
        bus.send(ShipOrder("o1"), correlation_id="order-1")
        bus.run(timeout=5)
    (first, at), (second, later) = attempts
    assert (first, second) == (1, 2) and later - at >= 3600


def test_run_gives_up_at_its_timeout_while_messages_keep_coming(engine):
    def ships_again_and_again(command, context):
        context.send(ShipOrder(f"{command.order_id}+"))

    with bus_with(engine, ships_again_and_again, FailurePolicy()) as bus:
        bus.send(ShipOrder("o"), correlation_id="order-1")
        with pytest.raises(TimeoutError, match="still busy after 0.3s"):
            bus.run(timeout=0.3)


def test_a_bus_closing_relays_what_is_due_in_the_outbox_and_closes_its_connection(engine):
    shipped = []
    bus = bus_with(engine, lambda command, _context: shipped.append(command.order_id), FailurePolicy())
    with bus:
        envelope = Envelope.wrap(ShipOrder("o2"), message_id="m2", correlation_id="order-2")
        with engine.begin() as conn:
            outbox.add_raw(conn, Outgoing(ShipOrder.route, envelope.encode(), envelope.headers()), "m2", bus.clock.time())
    assert rows(engine, outbox.outbox) == 0
    assert not bus.connection.connected

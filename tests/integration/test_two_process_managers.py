"""Two process managers on one PostgreSQL, taking messages in batches as a consumer does, with
redeliveries, end where one consumer handling one message at a time would."""

from __future__ import annotations

import random
import threading

import pytest
from fakes import FakeDelivery, pipeline
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from pizzeria.bootstrap import create_tables
from pizzeria.kitchen.messages import PizzaDone
from pizzeria.menu.domain import MENU
from pizzeria.menu.messages import MenuGot
from pizzeria.messaging import (
    Endpoint,
    Envelope,
    FailurePolicy,
    make_engine,
    new_id,
)
from pizzeria.messaging.store.failed import failed_messages
from pizzeria.process_manager.handlers import handlers
from pizzeria.process_manager.messages import OrderLine, StartTableService
from pizzeria.process_manager.repository import VisitRepository, history
from pizzeria.waiter import messages as waiter

NAMES = [item.name for item in MENU]
PRICES = {item.name: item.price_cents for item in MENU}
orders = st.lists(st.tuples(st.sampled_from(NAMES), st.integers(1, 3)), min_size=1, max_size=3).map(
    lambda pairs: tuple(OrderLine(name, quantity) for name, quantity in pairs))


@pytest.fixture(scope="module")
def shared_engine(postgres):
    """One PostgreSQL database for every example (each example has its own visit)."""
    engine = make_engine(postgres.create_database(f"two_pms_{new_id()[:8]}"))
    create_tables(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def reference_engine(tmp_path_factory):
    """A SQLite store where one consumer handles every message once, in order."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('reference') / 'one.db'}")
    create_tables(engine)
    yield engine
    engine.dispose()


def phases_of(visit_id: str, lines: tuple[OrderLine, ...]) -> list[list[Envelope]]:
    """The messages of a whole visit, grouped so that each group may only follow the last."""
    pizzas = sum(line.quantity for line in lines)
    groups = [[StartTableService(f"T{visit_id[:8]}", lines)], [MenuGot(MENU)], [waiter.MenuShown()],
              [waiter.OrderPlaced(lines)], [PizzaDone(f"{visit_id}-{n}") for n in range(1, pizzas + 1)],
              [waiter.PizzasServed()], [waiter.BillPaid(sum(PRICES[line.pizza] * line.quantity for line in lines))],
              [waiter.ClientThanked()]]
    return [[Envelope.wrap(message, message_id=f"{visit_id}/{g}/{i}", correlation_id=visit_id)
             for i, message in enumerate(group)] for g, group in enumerate(groups)]


ENDPOINT = Endpoint("process_manager", handlers())


def deliver(engine, envelope: Envelope) -> None:
    pipeline(engine).handle(ENDPOINT, [FakeDelivery.of(envelope)])


def outcome(engine, visit_id: str):
    with engine.connect() as conn:
        visit = VisitRepository(conn).get(visit_id)[0]
        rows = conn.execute(select(history.c.direction, history.c.type, history.c.message_id)
                            .where(history.c.visit_id == visit_id)).all()
    return visit, sorted(map(tuple, rows))


def count_failed(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(failed_messages)).scalar()


def in_batches(envelopes: list[Envelope], rng: random.Random) -> list[list[FakeDelivery]]:
    """The envelopes cut into batches of random sizes, as a consumer takes deliveries."""
    batches = []
    while envelopes:
        size = rng.randint(1, 4)
        batches.append([FakeDelivery.of(envelope) for envelope in envelopes[:size]])
        envelopes = envelopes[size:]
    return batches


def in_two_threads(engine, first: list[list[FakeDelivery]], second: list[list[FakeDelivery]]) -> None:
    errors = []
    def consume(batches):
        consumer = pipeline(engine, FailurePolicy(immediate=0, delayed=0))
        try:
            for batch in batches:
                consumer.handle(ENDPOINT, batch)
        except Exception as error:  # reported in the main thread
            errors.append(error)

    threads = [threading.Thread(target=consume, args=(share,)) for share in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders, st.randoms(use_true_random=False))
def test_two_consumers_with_redeliveries_end_in_the_state_one_consumer_reaches(
        shared_engine, reference_engine, lines, rng: random.Random):
    visit_id = new_id()
    phases = phases_of(visit_id, lines)
    for envelope in (e for phase in phases for e in phase):
        deliver(reference_engine, envelope)
    delivered: list[Envelope] = []
    for phase in phases:
        redeliveries = rng.choices(delivered + phase, k=rng.randint(0, 3))
        deliveries = phase + redeliveries
        rng.shuffle(deliveries)
        cut = rng.randint(0, len(deliveries))
        in_two_threads(shared_engine, in_batches(deliveries[:cut], rng), in_batches(deliveries[cut:], rng))
        delivered += phase
    assert outcome(shared_engine, visit_id) == outcome(reference_engine, visit_id)
    assert outcome(shared_engine, visit_id)[0].status == "finished"
    assert count_failed(shared_engine) == 0

"""The dispatcher: garbage never escapes it, failures go through retries to the failed store."""

from __future__ import annotations

import json
import time

import pytest
import structlog
from fakes import FakeDelivery
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from pizzeria import bootstrap
from pizzeria.config import Settings
from pizzeria.kitchen.domain import bakes_per_order
from pizzeria.kitchen.messages import DoPizza
from pizzeria.messaging import failed, outbox
from pizzeria.messaging.dispatch import Dispatcher
from pizzeria.messaging.envelope import Envelope
from pizzeria.messaging.retry import ATTEMPTS_HEADER, ROUND_HEADER, RetryPolicy
from pizzeria.waiter.messages import ShowBill


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    directory = tmp_path_factory.mktemp("dispatch")
    settings = Settings(f"sqla+sqlite:///{directory}/broker.db", f"sqlite:///{directory}/db.sqlite",
                        directory, faults={"waiter.ShowBill": 1000})
    app = bootstrap.bootstrap(settings)
    bootstrap.create_tables(app.engine)
    yield app
    app.engine.dispose()


@pytest.fixture(scope="module")
def endpoints(app):
    return {name: bootstrap.endpoint(app, name) for name in bootstrap.QUEUES}


def count(app, table) -> int:
    with app.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def clear(app) -> None:
    with app.engine.begin() as conn:
        conn.execute(delete(failed.failed_messages))
        conn.execute(delete(outbox.outbox))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=15)
envelopes = st.fixed_dictionaries(
    {"message_id": st.text(max_size=70), "type": st.sampled_from(["GetMenu", "DoPizza", "ShowBill", "MenuGot", "Nope"]),
     "correlation_id": st.text(min_size=1, max_size=10), "causation_id": st.none() | st.text(max_size=5),
     "occurred_at": st.text(max_size=5), "payload": st.dictionaries(st.sampled_from(
         ["items", "pizza", "kitchen_order_id", "amount_cents", "wish"]), json_values, max_size=3)})
bodies = (st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode())
          | envelopes.map(lambda e: json.dumps(e).encode()))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, queue=st.sampled_from(bootstrap.QUEUES),
       content_type=st.sampled_from(["application/json", "application/x-python-serialize", "text/plain"]))
def test_any_bytes_or_json_is_handled_or_lands_in_the_failed_store_and_never_raises(
        app, endpoints, body, queue, content_type):
    clear(app)
    Dispatcher(app.engine, RetryPolicy(immediate=0, delayed=0)).dispatch(
        endpoints[queue], FakeDelivery(body, content_type))
    stored, sent = count(app, failed.failed_messages), count(app, outbox.outbox)
    assert (stored, sent) in {(1, 0), (0, 0), (0, 1)}
    if content_type != "application/json":
        assert stored == 1


def show_bill(message_id="bill-1") -> FakeDelivery:
    envelope = Envelope.wrap(ShowBill(900), message_id=message_id, correlation_id="visit-1")
    return FakeDelivery.of(envelope)


def test_a_failing_handler_is_tried_1_plus_immediate_times_then_comes_back_later_through_the_outbox(
        app, endpoints):
    clear(app)
    Dispatcher(app.engine, RetryPolicy(immediate=2, delayed=1, first_delay=30)).dispatch(
        endpoints["waiter"], show_bill())
    with app.engine.connect() as conn:
        (row,) = conn.execute(select(outbox.outbox)).all()
    headers = json.loads(row.headers)
    assert (row.exchange, row.routing_key) == ("", "pizzeria.waiter")
    assert (headers[ATTEMPTS_HEADER], headers[ROUND_HEADER]) == (3, 1)
    assert row.not_before > time.time() + 20 and count(app, failed.failed_messages) == 0


def test_after_the_last_round_the_message_is_stored_whole_with_every_attempt_counted(app, endpoints):
    clear(app)
    delivery = show_bill()
    delivery.headers.update({ATTEMPTS_HEADER: 3, ROUND_HEADER: 1, "x-pizzeria-first-failed-at": 1000.0})
    Dispatcher(app.engine, RetryPolicy(immediate=2, delayed=1)).dispatch(endpoints["waiter"], delivery)
    (entry,) = failed.entries(app.engine)
    assert (entry.attempts, entry.first_failed_at, entry.body) == (6, 1000.0, delivery.body)
    assert (entry.type, entry.correlation_id, entry.error_type) == ("ShowBill", "visit-1", "InjectedFault")
    assert "InjectedFault" in entry.traceback and count(app, outbox.outbox) == 0


def test_a_bad_message_skips_the_retries(app, endpoints):
    clear(app)
    Dispatcher(app.engine, RetryPolicy(immediate=5, delayed=5)).dispatch(endpoints["menu"], FakeDelivery(b"{"))
    (entry,) = failed.entries(app.engine)
    assert (entry.attempts, entry.queue, entry.traceback) == (1, "pizzeria.menu", None)
    assert count(app, outbox.outbox) == 0


def test_the_failed_store_hides_passwords_in_errors_and_tracebacks(app):
    clear(app)
    error = RuntimeError("no route to postgresql://pizza:s3cret@db:5432/pizzeria")
    failed.store(app.engine, queue="q", body=b"{}", headers={}, content_type="application/json",
                 error=error, traceback="... amqp://u:s3cret@rabbit// ...", attempts=1)
    (entry,) = failed.entries(app.engine)
    assert "s3cret" not in entry.error + entry.traceback
    assert "postgresql://pizza:***@db:5432/pizzeria" in entry.error


def test_delays_grow_by_the_factor_up_to_the_maximum():
    policy = RetryPolicy(first_delay=1, factor=3, max_delay=20)
    assert [policy.delay(n) for n in range(4)] == [1, 3, 9, 20]


def test_the_pizzas_of_one_batch_share_one_bake_and_are_each_recorded_once(app, endpoints):
    deliveries = [FakeDelivery.of(Envelope.wrap(DoPizza(f"oven-{n}", "margherita"), message_id=f"oven-{n}",
                                                correlation_id="visit-oven")) for n in range(4)]
    with structlog.testing.capture_logs() as logs:
        Dispatcher(app.engine, RetryPolicy()).dispatch_many(endpoints["kitchen"], deliveries)
    assert [entry["pizzas"] for entry in logs if entry["event"] == "oven fired"] == [4]
    baked = bakes_per_order(app.engine)
    assert [baked.get(f"oven-{n}") for n in range(4)] == [1] * 4

"""The pipeline: garbage never escapes it, failures go through retries to the failed store,
a batch is one unit of work whose failed tries are counted, and only an outage requeues."""

from __future__ import annotations

import json
import time
from datetime import datetime
from decimal import Decimal
from functools import partial

import pytest
from fakes import FakeDelivery, pipeline
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select
from strategies import amqp_headers

from pizzeria import bootstrap
from pizzeria.config import Settings
from pizzeria.kitchen.domain import bakes, bakes_per_order
from pizzeria.kitchen.handlers import do_pizza
from pizzeria.kitchen.messages import DoPizza, PizzaDone
from pizzeria.messaging import (
    Endpoint,
    Envelope,
    FailurePolicy,
    Middleware,
    make_engine,
)
from pizzeria.messaging.store import failed, outbox
from pizzeria.messaging.transport.headers import from_json_safe
from pizzeria.waiter.messages import ShowBill

ATTEMPTS, ROUND = "x-pizzeria-attempts", "x-pizzeria-retry-round"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pipeline")
    settings = Settings("memory://", f"sqlite:///{directory}/db.sqlite", directory, modules={"kitchen": {"bake_seconds": 0}},
                        faults={"waiter.ShowBill": 1000})
    app = bootstrap.bootstrap(settings)
    bootstrap.create_tables(app.engine)
    yield app
    app.engine.dispose()


def count(app, table) -> int:
    with app.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def clear(app) -> None:
    with app.engine.begin() as conn:
        conn.execute(delete(failed.failed_messages))
        conn.execute(delete(outbox.outbox))


def outbox_rows(app) -> list:
    with app.engine.connect() as conn:
        return conn.execute(select(outbox.outbox)).all()


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
@given(body=bodies, queue=st.sampled_from(bootstrap.modules.names()),
       content_type=st.sampled_from(["application/json", "application/x-python-serialize", "text/plain"]))
def test_any_bytes_or_json_is_handled_or_lands_in_the_failed_store_and_is_acked(app, body, queue, content_type):
    clear(app)
    delivery = FakeDelivery(body, content_type)
    pipeline(app.engine, FailurePolicy(immediate=0, delayed=0)).handle(app.endpoints[queue], [delivery])
    stored, sent = count(app, failed.failed_messages), count(app, outbox.outbox)
    assert (stored, sent) in {(1, 0), (0, 0), (0, 1)}
    assert delivery.settled == ["ack"]
    if content_type != "application/json":
        assert stored == 1


def show_bill(message_id="bill-1", **headers) -> FakeDelivery:
    envelope = Envelope.wrap(ShowBill(900), message_id=message_id, correlation_id="visit-1")
    delivery = FakeDelivery.of(envelope)
    delivery.headers.update(headers)
    return delivery


def test_a_failing_handler_is_tried_1_plus_immediate_times_then_comes_back_later_through_the_outbox(app):
    clear(app)
    pipeline(app.engine, FailurePolicy(immediate=2, delayed=1, first_delay=30)).handle(
        app.endpoints["waiter"], [show_bill()])
    (row,) = outbox_rows(app)
    headers = json.loads(row.headers)
    assert (row.exchange, row.routing_key) == ("", "pizzeria.waiter")
    assert (headers[ATTEMPTS], headers[ROUND]) == (3, 1)
    assert row.not_before > time.time() + 20 and count(app, failed.failed_messages) == 0


def test_after_the_last_round_the_message_is_stored_whole_with_every_attempt_counted(app):
    clear(app)
    delivery = show_bill(**{ATTEMPTS: 3, ROUND: 1, "x-pizzeria-first-failed-at": 1000.0})
    pipeline(app.engine, FailurePolicy(immediate=2, delayed=1)).handle(app.endpoints["waiter"], [delivery])
    (entry,) = failed.entries(app.engine)
    assert (entry.attempts, entry.first_failed_at, entry.body) == (6, 1000.0, delivery.body)
    assert (entry.type, entry.correlation_id, entry.error_type) == ("ShowBill", "visit-1", "InjectedFault")
    assert "InjectedFault" in entry.traceback and count(app, outbox.outbox) == 0


def test_a_bad_message_skips_the_retries(app):
    clear(app)
    pipeline(app.engine, FailurePolicy(immediate=5, delayed=5)).handle(app.endpoints["menu"], [FakeDelivery(b"{")])
    (entry,) = failed.entries(app.engine)
    assert (entry.attempts, entry.queue, entry.traceback) == (1, "pizzeria.menu", None)
    assert count(app, outbox.outbox) == 0


AMQP_TYPES = {"at": datetime(2026, 1, 2, 3, 4, 5), "price": Decimal("12.50"), "raw": b"\x00\xff",
              "table": {"nested": [1, "two", None, {"deep": True}]}, "nothing": None, "list": [1.5, b"x"]}


def test_headers_of_every_amqp_type_survive_the_retry_round_and_the_failed_store(app):
    clear(app)
    consumer = pipeline(app.engine, FailurePolicy(immediate=0, delayed=1, first_delay=0))
    consumer.handle(app.endpoints["waiter"], [show_bill(**AMQP_TYPES)])
    (row,) = outbox_rows(app)
    retried = from_json_safe(json.loads(row.headers))
    assert {key: retried[key] for key in AMQP_TYPES} == AMQP_TYPES
    consumer.handle(app.endpoints["waiter"], [show_bill(**retried)])
    (entry,) = failed.entries(app.engine)
    assert {key: failed.headers_of(entry)[key] for key in AMQP_TYPES} == AMQP_TYPES
    assert entry.attempts == 2


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(headers=amqp_headers(), delayed=st.integers(0, 1))
def test_whatever_the_headers_a_failing_message_is_acked_and_kept_never_requeued(app, headers, delayed):
    clear(app)
    delivery = show_bill(**headers)
    pipeline(app.engine, FailurePolicy(immediate=0, delayed=delayed)).handle(app.endpoints["waiter"], [delivery])
    assert delivery.settled == ["ack"]
    assert count(app, failed.failed_messages) + count(app, outbox.outbox) == 1


def test_the_failed_store_hides_passwords_in_errors_and_tracebacks(app):
    clear(app)
    error = RuntimeError("no route to postgresql://pizza:s3cret@db:5432/pizzeria")
    entry = failed.Entry("q", b"{}", {}, "application/json", error, "... amqp://u:s3cret@rabbit// ...", 1)
    failed.store(app.engine, entry, bootstrap.NAMES, time.time())
    (stored,) = failed.entries(app.engine)
    assert "s3cret" not in stored.error + stored.traceback
    assert "postgresql://pizza:***@db:5432/pizzeria" in stored.error


def test_delays_grow_by_the_factor_up_to_the_maximum():
    policy = FailurePolicy(first_delay=1, factor=3, max_delay=20)
    assert [policy.delay(n) for n in range(4)] == [1, 3, 9, 20]


def pizzas(*ids: str, **kwargs) -> list[FakeDelivery]:
    return [FakeDelivery.of(Envelope.wrap(DoPizza(kid, "margherita"), message_id=f"m-{kid}",
                                          correlation_id="visit-oven"), **kwargs) for kid in ids]


def test_the_pizzas_of_one_batch_share_one_bake_and_are_each_recorded_once(app):
    ovens = []
    kitchen = Endpoint("kitchen", {DoPizza: partial(do_pizza, oven=lambda context: ovens.append(len(context.batch)), stock={})})
    deliveries = pizzas(*(f"oven-{n}" for n in range(4)))
    pipeline(app.engine).handle(kitchen, deliveries)
    baked = bakes_per_order(app.engine)
    assert ovens == [4] and [baked.get(f"oven-{n}") for n in range(4)] == [1] * 4
    assert [delivery.settled for delivery in deliveries] == [["ack"]] * 4


def test_a_failing_batch_bakes_each_pizza_once_per_attempt_it_counts(app):
    bakes: dict[str, int] = {}
    attempts: dict[str, int] = {}

    def oven(context):
        for envelope in context.batch:
            bakes[envelope.message_id] = bakes.get(envelope.message_id, 0) + 1

    def burnt_twice(command, context):
        attempts[context.envelope.message_id] = context.attempt
        if command.kitchen_order_id == "burnt" and context.attempt <= 2:
            context.once(oven)
            raise RuntimeError("the oven burnt it")
        do_pizza(command, context, oven=oven, stock={})

    kitchen = Endpoint("kitchen", {DoPizza: burnt_twice})
    deliveries = pizzas("fine-1", "burnt", "fine-2")
    pipeline(app.engine, FailurePolicy(immediate=2, delayed=0)).handle(kitchen, deliveries)
    assert bakes == attempts
    assert attempts == {"m-fine-1": 2, "m-burnt": 3, "m-fine-2": 2}
    assert [delivery.settled for delivery in deliveries] == [["ack"]] * 3
    assert bakes_per_order(app.engine).get("burnt") == 1


def test_a_copy_in_the_same_batch_or_after_the_commit_has_no_effect(app):
    first = pizzas("twin")
    pipeline(app.engine).handle(app.endpoints["kitchen"], first + pizzas("twin"))
    pipeline(app.engine).handle(app.endpoints["kitchen"], pizzas("twin") + pizzas("twin", redelivered=True))
    assert bakes_per_order(app.engine)["twin"] == 1


def test_a_handler_that_commits_the_transaction_it_was_lent_fails_and_is_stored(app):
    clear(app)

    def commits(_command, context):
        context.db.commit()

    endpoint = Endpoint("kitchen", {DoPizza: commits})
    pipeline(app.engine, FailurePolicy(immediate=0, delayed=0)).handle(endpoint, pizzas("rogue"))
    (entry,) = failed.entries(app.engine)
    assert entry.error_type == "HandlerMisused"


def test_only_a_database_out_of_reach_requeues(tmp_path, app):
    unreachable = make_engine(f"sqlite:///{tmp_path}/missing/dir/db.sqlite")
    deliveries = [show_bill(), FakeDelivery(b"not json")]
    assert pipeline(unreachable).handle(app.endpoints["waiter"], deliveries) is False
    assert [delivery.settled for delivery in deliveries] == [["requeue"], ["requeue"]]


def test_a_message_whose_handler_never_ran_in_a_failed_try_is_not_charged_an_attempt(app):
    seen: dict[str, list[int]] = {}

    def first_fails_once(command, context):
        seen.setdefault(command.kitchen_order_id, []).append(context.attempt)
        if command.kitchen_order_id == "first" and context.attempt == 1:
            raise RuntimeError("not yet")

    endpoint = Endpoint("kitchen", {DoPizza: first_fails_once})
    pipeline(app.engine, FailurePolicy(immediate=1, delayed=0)).handle(endpoint, pizzas("first", "second", "third"))
    assert seen == {"first": [1, 2], "second": [1], "third": [1]}


def test_a_handler_that_sends_one_message_twice_fails_instead_of_losing_the_second(app):
    clear(app)

    def twice(command, context):
        context.send(PizzaDone(command.kitchen_order_id))
        context.send(PizzaDone(command.kitchen_order_id))

    pipeline(app.engine, FailurePolicy(immediate=0, delayed=0)).handle(Endpoint("kitchen", {DoPizza: twice}),
                                                                     pizzas("double"))
    (entry,) = failed.entries(app.engine)
    assert (entry.error_type, count(app, outbox.outbox)) == ("HandlerMisused", 0)


def test_a_header_name_that_is_not_utf8_is_kept_and_never_stops_the_pipeline(app):
    clear(app)
    delivery = show_bill()
    delivery.headers[b"\xffname"] = "value"
    pipeline(app.engine, FailurePolicy(immediate=0, delayed=0)).handle(app.endpoints["waiter"], [delivery])
    (entry,) = failed.entries(app.engine)
    assert delivery.settled == ["ack"] and failed.headers_of(entry)[b"\xffname"] == "value"


def test_after_a_failed_try_every_group_that_commits_is_published_at_once_and_told_to_the_middleware(app):
    published, told = [], []

    def second_fails_once(command, context):
        if command.kitchen_order_id == "group-2" and context.attempt == 1:
            raise RuntimeError("not yet")
        context.send(PizzaDone(command.kitchen_order_id))

    class Told(Middleware):
        def after_settle(self, endpoint, settled):
            told.extend((endpoint, each.message.envelope.type, len(each.sent)) for each in settled)

    consumer = pipeline(app.engine, FailurePolicy(immediate=1, delayed=0), middleware=Told())
    consumer.relay.publish_many = published.extend
    consumer.handle(Endpoint("kitchen", {DoPizza: second_fails_once}), pizzas("group-1", "group-2", "group-3"))
    assert sorted(json.loads(message.body)["payload"]["kitchen_order_id"] for message in published) == [
        "group-1", "group-2", "group-3"]
    assert told == [("kitchen", "DoPizza", 1)] * 3


def test_a_message_alone_whose_commit_fails_is_tried_to_its_limit_and_stored(app):
    clear(app)
    attempts = []

    def records_a_bake_twice(command, context):
        attempts.append(context.attempt)
        row = {"id": 1, "kitchen_order_id": command.kitchen_order_id, "pizza": "x", "baked_at": 0.0}
        context.insert_later(bakes, row)
        context.insert_later(bakes, row)  # the same primary key twice: the commit fails

    consumer = pipeline(app.engine, FailurePolicy(immediate=2, delayed=0))
    consumer.handle(Endpoint("kitchen", {DoPizza: records_a_bake_twice}), pizzas("doubled"))
    (entry,) = failed.entries(app.engine)
    assert (attempts, entry.attempts, entry.error_type) == ([1, 2, 3], 3, "IntegrityError")

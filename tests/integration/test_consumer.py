"""The consumer and the publisher on a real RabbitMQ: handling, answers, duplicates, garbage."""

from __future__ import annotations

import pytest
from fakes import running
from kombu import Connection, Producer
from polling import wait_until
from sqlalchemy import select

from pizzeria import bootstrap
from pizzeria.config import Settings
from pizzeria.messaging import Envelope, Outgoing
from pizzeria.messaging.store.failed import failed_messages
from pizzeria.process_manager import views
from pizzeria.process_manager.messages import OrderLine, StartTableService


@pytest.fixture
def app(amqp_url, sqlite_url, tmp_path):
    app = bootstrap.bootstrap(Settings(amqp_url, sqlite_url, tmp_path, modules={"kitchen": {"bake_seconds": 0}}))
    bootstrap.init(app)
    yield app
    app.engine.dispose()


def consuming(app, *queues):
    return running(bootstrap.worker(app, list(queues)))


def start(app, table_id="T1", order=None, visit_id="visit-1") -> Envelope:
    envelope = Envelope.wrap(StartTableService(table_id, order), message_id=f"start-{visit_id}",
                             correlation_id=visit_id)
    publisher = app.publisher()
    publisher.publish(Outgoing(StartTableService.route, envelope.encode(), envelope.headers()))
    publisher.close()
    return envelope


def take_one(app, queue_name):
    with Connection(app.broker.url) as conn:
        queue = app.broker.topology.queues[queue_name](conn.default_channel)
        message = wait_until(lambda: queue.get(no_ack=True), what=f"a message in {queue_name}")
        return message, queue.get(no_ack=True)


def test_a_command_is_handled_and_its_answer_is_published_persistent_with_ids_in_headers(app):
    start(app)
    with consuming(app, "process_manager"):
        wait_until(lambda: views.visit(app.engine, "visit-1"), what="the visit")
        message, nothing_more = take_one(app, "menu")
    envelope = Envelope.decode(message.body)
    assert (envelope.type, envelope.correlation_id, envelope.causation_id) == ("GetMenu", "visit-1", "start-visit-1")
    assert {**message.headers, "x-delivery-count": 0} == {**envelope.headers(), "x-delivery-count": 0}  # a quorum
    # queue counts the deliveries of what is taken by basic.get
    assert message.properties["delivery_mode"] == 2
    assert (message.content_type, message.properties["message_id"]) == ("application/json", envelope.message_id)
    assert nothing_more is None


def test_a_message_delivered_twice_has_its_effect_once(app):
    start(app)
    start(app)
    with consuming(app, "process_manager"):
        message, maybe_more = take_one(app, "menu")
    report = views.visit(app.engine, "visit-1")
    assert [entry["type"] for entry in report["history"]] == ["StartTableService", "GetMenu"]
    # A copy handled in another batch than the first is answered again, with the same GetMenu.
    assert maybe_more is None or maybe_more.headers["message_id"] == message.headers["message_id"]


def test_a_whole_visit_runs_through_one_worker_consuming_every_queue(app):
    start(app, order=(OrderLine("margherita", 2), OrderLine("diavola", 1)))
    with consuming(app, *bootstrap.modules.names()):
        report = wait_until(lambda: (r := views.visit(app.engine, "visit-1")) and r["status"] != "in_progress" and r,
                            what="the visit to end")
    assert report["status"] == "finished"
    assert report["bill"] == {"amount": "27.00", "paid": True}
    assert [pizza["status"] for pizza in report["pizzas"]] == ["done"] * 3


@pytest.mark.parametrize("body, content_type, error", [
    (b"not json", "application/json", "not JSON"),
    (b'{"message_id": "x"}', "application/json", "missing field"),
    (b"\x80\x04K\x01.", "application/x-python-serialize", "content type"),
])
def test_a_bad_message_goes_to_the_failed_store_and_the_consumer_goes_on(app, body, content_type, error):
    with Connection(app.broker.url) as conn:
        Producer(conn).publish(body, exchange="pizzeria", routing_key="process_manager.command.X",
                               content_type=content_type, content_encoding="binary")
    start(app)
    with consuming(app, "process_manager"):
        wait_until(lambda: views.visit(app.engine, "visit-1"), what="the good visit")
        with app.engine.connect() as conn:
            rows = conn.execute(select(failed_messages)).all()
    assert [(row.queue, row.body) for row in rows] == [("pizzeria.process_manager", body)]
    assert error in rows[0].error

"""Alerts on the embedded broker and a SQLite file: a burst of failures of one group is one alert
with its count, raised once however many processes look; each goes on the bus as an event and to
a webhook (a real HTTP server here) with retries and a rate limit; a queue that keeps growing and
a consumer gone are alerts too; `pizzeria alerts` lists them."""

from __future__ import annotations

import json
import time

import pytest
import structlog
from fakes import chore
from kombu import Connection, Queue
from processes import Pizzeria, environment
from sqlalchemy import func, select
from webhook import Receiver

from pizzeria import bootstrap
from pizzeria.config import Settings
from pizzeria.messaging import (
    Alerting,
    VirtualClock,
    Webhook,
    admin,
    failed_messages_source,
    gone_consumers_source,
    growing_queues_source,
)
from pizzeria.messaging.observe.chores import OutboxSweep
from pizzeria.messaging.store import failed, heartbeats
from pizzeria.messaging.store.tables import outbox

LOG = structlog.get_logger("test")
NOW = 1_800_000_000.0  # at the start of a window of 300 s


@pytest.fixture
def app(tmp_path):
    settings = Settings(f"sqlite:///{tmp_path}/broker.sqlite", f"sqlite:///{tmp_path}/db.sqlite", tmp_path)
    app = bootstrap.bootstrap(settings)
    bootstrap.init(app)
    yield app
    app.engine.dispose()


def fail(app, count: int, at: float, kind: str = "DoPizza") -> None:
    for n in range(count):
        entry = failed.Entry("pizzeria.kitchen", b"{}", {"message_id": f"{kind}-{at}-{n}", "type": kind}, None,
                             RuntimeError("oven broke"), None, 1)
        failed.store(app.engine, entry, app.broker.topology.names, at)


def alerting(app, clock, webhook=None, sources=None) -> Alerting:
    return Alerting(app.engine, sources or [failed_messages_source(app.engine)], LOG, clock, webhook)


def outbox_alerts(app) -> int:
    with app.engine.connect() as conn:
        return conn.execute(select(func.count()).where(outbox.c.routing_key.like("alert.%"))).scalar_one()


def test_a_burst_of_failures_is_one_alert_with_its_count_raised_once_by_two_processes(app):
    clock = VirtualClock(NOW)
    one, other = alerting(app, clock), alerting(app, clock)
    fail(app, 5, NOW + 1)
    clock.advance(2)
    assert [alert.count for alert in one.check()] == [5]
    assert other.check() == []
    fail(app, 2, NOW + 3)
    clock.advance(2)
    assert one.check() == other.check() == []
    [alert] = admin.recent_alerts(app.engine)
    assert (alert["kind"], alert["count"], alert["subject"]) == ("message_failed", 7, "pizzeria.kitchen")
    assert outbox_alerts(app) == 1
    fail(app, 1, NOW + 301)  # the next window: a new alert
    clock.advance(300)
    assert [alert.count for alert in other.check()] == [1]
    assert outbox_alerts(app) == 2


@pytest.mark.rabbitmq
def test_an_alert_goes_on_the_bus_as_an_event_under_alert_kind(amqp_url, tmp_path):
    app = bootstrap.bootstrap(Settings(amqp_url, f"sqlite:///{tmp_path}/db.sqlite", tmp_path))
    bootstrap.init(app)
    subscriber = Queue("alert-subscriber", exchange=app.broker.topology.exchange, routing_key="alert.#")
    with Connection(app.broker.url) as conn:
        subscriber(conn.default_channel).declare()
        now = time.time()  # the relay's clock is the system's
        fail(app, 1, now)
        alerting(app, VirtualClock(now)).check()
        worker = bootstrap.worker(app, ["menu"])
        chore(worker, OutboxSweep).sweep()
        worker.close()
        message = conn.SimpleQueue(subscriber).get(timeout=5)
        body = json.loads(message.body)
        message.ack()
    app.engine.dispose()
    assert message.delivery_info["routing_key"] == "alert.message_failed"
    assert body["type"] == "AlertRaised" and body["payload"]["count"] == 1


def test_the_webhook_is_retried_until_it_answers_and_posts_each_alert_once(app):
    receiver = Receiver(statuses=(500, 200))
    clock = VirtualClock(NOW)
    one = alerting(app, clock, Webhook(receiver.url))
    fail(app, 3, NOW + 1)
    clock.advance(2)
    one.check()
    [alert] = admin.recent_alerts(app.engine)
    assert alert["posted_at"] is None and "500" in alert["post_error"]
    one.check()  # not yet: it waits before trying again
    assert len(receiver.bodies) == 1
    clock.advance(5)
    one.check()
    alerting(app, clock, Webhook(receiver.url)).check()  # another process: nothing left to post
    receiver.close()
    assert [body["count"] for body in receiver.bodies] == [3, 3]
    assert admin.recent_alerts(app.engine)[0]["posted_at"] == NOW + 7


def test_the_webhook_posts_no_more_than_its_rate_and_the_rest_later(app):
    receiver = Receiver()
    clock = VirtualClock(NOW)
    for number in range(3):  # three consumers that stopped beating
        heartbeats.beat(app.engine, f"host:{number}", ["pizzeria.menu"], NOW - 100, 0, NOW - 100)
    gone = alerting(app, clock, Webhook(receiver.url, per_minute=2), [gone_consumers_source(app.engine)])
    assert len(gone.check()) == 3
    assert len(receiver.bodies) == 2
    clock.advance(61)
    gone.check()
    receiver.close()
    assert sorted(body["subject"] for body in receiver.bodies) == ["host:0", "host:1", "host:2"]
    assert {body["kind"] for body in receiver.bodies} == {"consumer_gone"}


def test_a_source_that_fails_leaves_the_others_and_the_webhook_to_go_on(app):
    receiver = Receiver()
    clock = VirtualClock(NOW)

    def unreachable(_now):
        raise ConnectionRefusedError("the broker is out of reach")

    fail(app, 1, NOW + 1)
    clock.advance(2)
    both = alerting(app, clock, Webhook(receiver.url), [unreachable, failed_messages_source(app.engine)])
    assert [alert.kind for alert in both.check()] == ["message_failed"]
    receiver.close()
    assert [body["kind"] for body in receiver.bodies] == ["message_failed"]


def test_a_queue_that_keeps_growing_past_the_setting_is_an_alert_and_one_that_drains_is_not():
    depths = iter([{"kitchen": 10, "menu": 5}, {"kitchen": 20, "menu": 2}, {"kitchen": 30, "menu": 8},
                   {"kitchen": 40, "menu": 1}])
    find = growing_queues_source(lambda: next(depths), grow_seconds=100)
    found = [list(find(NOW + 60 * step)) for step in range(4)]
    assert [alert.subject for alerts in found for alert in alerts] == ["kitchen", "kitchen"]
    assert found[2][0].key == found[3][0].key  # the same growth: one alert
    assert found[3][0].count == 40


def test_pizzeria_alerts_lists_them_latest_first(app, tmp_path):
    fail(app, 2, NOW + 1)
    alerting(app, VirtualClock(NOW + 2)).check()
    pizzeria = Pizzeria(tmp_path, environment(tmp_path, PIZZERIA_BROKER_URL=app.settings.broker_url,
                                              PIZZERIA_DATABASE_URL=app.settings.database_url))
    listed = pizzeria.run("alerts")
    assert listed.returncode == 0, listed.stderr
    assert "message_failed  2 DoPizza messages in pizzeria.kitchen stored as failed (RuntimeError) (x2)" in listed.stdout
    as_json = json.loads(pizzeria.run("alerts", "--json").stdout)
    assert [(alert["kind"], alert["count"]) for alert in as_json] == [("message_failed", 2)]
    assert pizzeria.run("alerts", "--kind", "nonsense").returncode == 2

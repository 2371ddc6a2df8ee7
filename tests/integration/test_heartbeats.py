"""A worker's heartbeat: written as it goes (its queues, since when, how many messages it
handled), shown as gone once it stops beating, and as stopped once it closes cleanly."""

from __future__ import annotations

from fakes import FakeDelivery

from pizzeria.kitchen.messages import DoPizza
from pizzeria.messaging import (
    Broker,
    Endpoint,
    Envelope,
    Names,
    Topology,
    VirtualClock,
    build_worker,
)
from pizzeria.messaging.store import heartbeats
from pizzeria.messaging.store.inbox import this_process

KITCHEN = Endpoint("kitchen", {DoPizza: lambda _command, _context: None})


def kitchen_worker(engine, clock):
    broker = Broker("memory://", Topology(Names("shop"), {"kitchen": ["kitchen.command.*"]}), clock)
    return build_worker(broker, engine, [KITCHEN], clock=clock)


def test_a_worker_beats_as_it_goes_is_gone_when_it_stops_beating_and_stopped_when_it_closes(engine):
    clock = VirtualClock(start=1_000.0)
    worker = kitchen_worker(engine, clock)
    worker.on_iteration()
    (alive,) = heartbeats.processes(engine, clock.time())
    assert (alive["process"], alive["queues"], alive["status"], alive["handled"]) == (
        this_process(), ["shop.kitchen"], "alive", 0)
    worker.batch = [(KITCHEN, FakeDelivery.of(Envelope.wrap(DoPizza("p1", "margherita"), message_id="m1", correlation_id="v1")))]
    worker.handle_batch()
    clock.advance(heartbeats.INTERVAL_SECONDS)
    worker.on_iteration()
    assert [(p["handled"], p["seen_at"]) for p in heartbeats.processes(engine, clock.time())] == [(1, 1_005.0)]
    later = clock.time() + heartbeats.GONE_AFTER_SECONDS + 1
    assert [p["status"] for p in heartbeats.processes(engine, later)] == ["gone"]
    worker.close()
    assert [p["status"] for p in heartbeats.processes(engine, later)] == ["stopped"]


def test_the_processes_not_seen_for_the_inbox_retention_are_forgotten(engine):
    heartbeats.beat(engine, "old:1", ["shop.kitchen"], 0.0, 0, now=10.0)
    heartbeats.beat(engine, "new:2", ["shop.kitchen"], 0.0, 0, now=100.0)
    assert heartbeats.prune(engine, before=50.0) == 1
    assert [p["process"] for p in heartbeats.processes(engine, 100.0)] == ["new:2"]

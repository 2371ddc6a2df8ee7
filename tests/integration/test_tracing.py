"""Traces, with the OpenTelemetry SDK's in-memory exporter: a handler's `process` span, the
`create` span of what it sends, and the relay's `send` span, all in its visit's one trace; a
row relayed later by another relay still continues the trace of the handler that wrote it."""

from __future__ import annotations

import pytest
from fakes import FakeDelivery, FakePublisher
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from pizzeria.bootstrap import NAMES
from pizzeria.kitchen.messages import DoPizza, PizzaDone
from pizzeria.messaging import Endpoint, Envelope, VirtualClock
from pizzeria.messaging.delivery.pipeline import Pipeline
from pizzeria.messaging.observe import tracing
from pizzeria.messaging.store.outbox import Relay


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    yield exporter
    tracing.use(None)


def kitchen(engine, handler, clock=None) -> tuple[Pipeline, FakePublisher]:
    publisher, clock = FakePublisher(), clock or VirtualClock()
    relay = Relay(engine, publisher.publish_many, clock=clock, exchange="pizzeria")
    return Pipeline(engine, relay, NAMES, clock=clock), publisher


def bake(command: DoPizza, context) -> None:
    context.send(PizzaDone(command.kitchen_order_id))


def by_name(spans) -> dict:
    return {span.name: span for span in spans.get_finished_spans()}


def pizza(correlation_id: str = "visit-1") -> FakeDelivery:
    return FakeDelivery.of(Envelope.wrap(DoPizza("p1", "margherita"), message_id="m1", correlation_id=correlation_id))


def test_a_handled_message_its_answer_and_the_answers_publish_make_one_trace_of_the_visit(engine, spans):
    consumer, publisher = kitchen(engine, bake)
    consumer.handle(Endpoint("kitchen", {DoPizza: bake}), [pizza()])
    found = by_name(spans)
    process, create, send = found["process pizzeria.kitchen"], found["create pizzeria"], found["send pizzeria"]
    assert {span.context.trace_id for span in found.values()} == {int(tracing.conversation_trace_id("visit-1"), 16)}
    assert (process.kind, create.kind, send.kind) == (SpanKind.CONSUMER, SpanKind.PRODUCER, SpanKind.PRODUCER)
    assert create.parent.span_id == process.context.span_id
    assert send.parent.span_id == create.context.span_id
    assert [link.context.span_id for link in send.links] == [create.context.span_id]
    assert dict(process.attributes) == {
        "messaging.system": "rabbitmq", "messaging.operation.type": "process",
        "messaging.destination.name": "pizzeria:kitchen.command.DoPizza:pizzeria.kitchen",
        "messaging.rabbitmq.destination.routing_key": "kitchen.command.DoPizza",
        "messaging.message.id": "m1", "messaging.message.conversation_id": "visit-1"}
    (published,) = publisher.published
    assert f"{create.context.span_id:016x}" in published.headers["traceparent"]


def test_the_handler_of_a_message_continues_the_trace_of_the_span_that_created_it(engine, spans):
    consumer, publisher = kitchen(engine, bake)
    consumer.handle(Endpoint("kitchen", {DoPizza: bake}), [pizza()])
    (answer,) = publisher.published
    spans.clear()
    consumer.handle(Endpoint("kitchen", {PizzaDone: lambda _event, _context: None}),
                    [FakeDelivery(answer.body, headers=answer.headers)])
    (process,) = spans.get_finished_spans()
    assert f"{process.parent.span_id:016x}" in answer.headers["traceparent"]


def test_a_row_relayed_later_by_another_relay_continues_the_trace_of_the_handler_that_wrote_it(engine, spans):
    clock = VirtualClock()

    def remind_later(command: DoPizza, context) -> None:
        context.send(PizzaDone(command.kitchen_order_id), delay=30)

    consumer, _ = kitchen(engine, remind_later, clock)
    consumer.handle(Endpoint("kitchen", {DoPizza: remind_later}), [pizza()])
    process = by_name(spans)["process pizzeria.kitchen"]
    assert "create pizzeria" not in by_name(spans)  # not before it goes: it may be taken back
    clock.advance(31)
    publisher = FakePublisher()
    other = Relay(engine, publisher.publish_many, clock=clock, exchange="pizzeria")  # another process
    assert other.sweep() == 1
    create, send = by_name(spans)["create pizzeria"], by_name(spans)["send pizzeria"]
    assert create.parent.span_id == process.context.span_id
    assert (send.context.trace_id, send.parent.span_id) == (create.context.trace_id, create.context.span_id)
    (message,) = publisher.published
    assert f"{create.context.span_id:016x}" in message.headers["traceparent"]
    assert tracing.SCHEDULED_BY not in message.headers


def test_a_delayed_message_taken_back_before_it_goes_leaves_no_span(engine, spans):
    clock = VirtualClock()
    reminder = DoPizza("p9", "margherita")  # a command: its id is the same whoever sends it in the visit

    def remind_later(_command: DoPizza, context) -> None:
        context.send(reminder, delay=30)

    def forget(_event: PizzaDone, context) -> None:
        context.withdraw(reminder)

    consumer, _ = kitchen(engine, remind_later, clock)
    consumer.handle(Endpoint("kitchen", {DoPizza: remind_later}), [pizza()])
    consumer.handle(Endpoint("kitchen", {PizzaDone: forget}), [
        FakeDelivery.of(Envelope.wrap(PizzaDone("p1"), message_id="m2", correlation_id="visit-1"))])
    clock.advance(31)
    assert consumer.relay.sweep() == 0
    assert [span.name for span in spans.get_finished_spans()] == ["process pizzeria.kitchen"] * 2


def test_a_handler_that_raises_leaves_the_exception_on_its_span(engine, spans):
    def burns(_command, _context) -> None:
        raise RuntimeError("the oven is on fire")

    consumer, _ = kitchen(engine, burns)
    consumer.handle(Endpoint("kitchen", {DoPizza: burns}), [pizza()])
    failed = [span for span in spans.get_finished_spans() if span.status.status_code == StatusCode.ERROR]
    assert len(failed) == 3  # three tries
    assert all("the oven is on fire" in span.events[0].attributes["exception.message"] for span in failed)


def test_a_log_line_in_a_span_carries_its_ids(engine, spans):
    lines = []

    def logs(_command, _context) -> None:
        lines.append(tracing.add_trace_ids(None, "info", {"event": "baking"}))

    consumer, _ = kitchen(engine, logs)
    consumer.handle(Endpoint("kitchen", {DoPizza: logs}), [pizza()])
    (process,) = [span for span in spans.get_finished_spans() if span.name.startswith("process")]
    assert lines == [{"event": "baking", "trace_id": tracing.conversation_trace_id("visit-1"),
                      "span_id": f"{process.context.span_id:016x}"}]


def test_without_a_provider_nothing_is_traced_and_no_header_is_added(engine):
    consumer, publisher = kitchen(engine, bake)
    consumer.handle(Endpoint("kitchen", {DoPizza: bake}), [pizza()])
    (published,) = publisher.published
    assert "traceparent" not in published.headers


def test_a_visits_report_names_its_trace(engine):
    from pizzeria.process_manager import views
    from pizzeria.process_manager.messages import StartTableService
    from pizzeria.process_manager.repository import VisitRepository
    from pizzeria.process_manager.saga import start
    with engine.begin() as conn:
        repository = VisitRepository(conn)
        repository.add(start("visit-1", StartTableService("T1"))[0])
        repository.flush()
    report = views.visit(engine, "visit-1")
    assert report["trace_id"] == tracing.conversation_trace_id("visit-1")
    assert f"trace {report['trace_id']}" in views.visit_details(report)


def test_a_duplicate_dropped_and_a_message_out_of_tries_are_in_the_trace(engine, spans):
    from pizzeria.messaging import FailurePolicy

    def burns(_command, _context) -> None:
        raise RuntimeError("the oven is on fire")

    consumer, _ = kitchen(engine, bake)
    consumer.handle(Endpoint("kitchen", {DoPizza: bake}), [pizza()])
    consumer.handle(Endpoint("kitchen", {DoPizza: bake}), [pizza()])  # the same message again
    failing = Pipeline(engine, Relay(engine, FakePublisher().publish_many), NAMES, FailurePolicy(immediate=0, delayed=0))
    failing.handle(Endpoint("kitchen", {DoPizza: burns}), [pizza("visit-2")])
    events = {(event.name, span.context.trace_id) for span in spans.get_finished_spans() for event in span.events}
    assert ("duplicate ignored", int(tracing.conversation_trace_id("visit-1"), 16)) in events
    assert ("out of tries here", int(tracing.conversation_trace_id("visit-2"), 16)) in events


def test_the_process_managers_span_has_the_stage_before_and_after(engine, spans):
    from pizzeria.menu.domain import MENU
    from pizzeria.menu.messages import MenuGot
    from pizzeria.process_manager.handlers import handlers
    from pizzeria.process_manager.messages import StartTableService
    consumer, _ = kitchen(engine, bake)
    manager = Endpoint("process_manager", handlers())
    for message_id, message in (("s1", StartTableService("T1")), ("e1", MenuGot(MENU))):
        consumer.handle(manager, [FakeDelivery.of(Envelope.wrap(message, message_id=message_id, correlation_id="visit-1"))])
    (menu_got,) = [span for span in spans.get_finished_spans() if span.attributes.get("messaging.message.id") == "e1"]
    assert (menu_got.attributes["pizzeria.stage.before"], menu_got.attributes["pizzeria.stage.after"]) == (
        "awaiting_menu", "awaiting_menu_shown")


def test_a_replay_is_a_send_span_in_the_visits_trace_linked_to_the_first_and_its_handling_continues_it(
        engine, spans):
    from pizzeria.messaging import FailurePolicy
    from pizzeria.messaging.store import failed

    def burns(_command, _context) -> None:
        raise RuntimeError("the oven is on fire")

    first = pizza()  # as a relay of ours sends it: with the traceparent of its `create` span
    first.headers |= tracing.created(Envelope.decode(first.body), "pizzeria", DoPizza.route)
    (created,) = spans.get_finished_spans()
    failing = Pipeline(engine, Relay(engine, FakePublisher().publish_many), NAMES, FailurePolicy(immediate=0, delayed=0))
    failing.handle(Endpoint("kitchen", {DoPizza: burns}), [first])
    (entry,) = failed.entries(engine)
    replays = FakePublisher()
    failed.replay(engine, lambda message: replays.publish_many([message]), entry, NAMES, 1.0)
    (copy,) = replays.published
    consumer, _ = kitchen(engine, bake)
    consumer.handle(Endpoint("kitchen", {DoPizza: bake}), [FakeDelivery(copy.body, headers=copy.headers)])
    (replay,) = [span for span in spans.get_finished_spans() if span.name == "send pizzeria.kitchen"]
    handled = [span for span in spans.get_finished_spans() if span.name == "process pizzeria.kitchen"][-1]
    assert replay.context.trace_id == int(tracing.conversation_trace_id("visit-1"), 16) == handled.context.trace_id
    assert [link.context.span_id for link in replay.links] == [created.context.span_id]
    assert [event.name for event in replay.events] == ["replayed from the failed store"]
    assert replay.attributes["pizzeria.failed.id"] == entry.id
    assert handled.parent.span_id == replay.context.span_id


def test_a_deadline_passing_and_a_compensation_beginning_are_events_of_the_process_managers_span(engine, spans):
    from pizzeria.process_manager.handlers import handlers
    from pizzeria.process_manager.messages import CancelVisit, Deadline, StartTableService
    consumer, _ = kitchen(engine, bake)
    manager = Endpoint("process_manager", handlers())
    for message_id, message in (("s1", StartTableService("T1")), ("d1", Deadline("awaiting_menu", 0)),
                                ("c1", CancelVisit("closing time"))):
        consumer.handle(manager, [FakeDelivery.of(Envelope.wrap(message, message_id=message_id, correlation_id="visit-1"))])
    events = {span.attributes["messaging.message.id"]: [(event.name, dict(event.attributes)) for event in span.events]
              for span in spans.get_finished_spans() if span.name == "process pizzeria.process_manager"}
    assert events["d1"] == [("deadline passed", {"stage": "awaiting_menu", "resends": "0", "then": "sent again"})]
    assert events["c1"] == [("compensation began", {"reason": "closing time"})]


def test_a_sampler_by_trace_id_ratio_keeps_or_drops_whole_visits_at_about_its_ratio(engine, monkeypatch):
    from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=TraceIdRatioBased(0.25))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    try:
        consumer, _ = kitchen(engine, bake)
        for visit in range(200):
            consumer.handle(Endpoint("kitchen", {DoPizza: bake}), [FakeDelivery.of(Envelope.wrap(
                DoPizza("p1", "margherita"), message_id=f"m-{visit}", correlation_id=f"visit-{visit}"))])
    finally:
        tracing.use(None)
    kept = {}
    for span in exporter.get_finished_spans():
        kept.setdefault(span.attributes["messaging.message.conversation_id"], []).append(span.name)
    assert all(sorted(names) == ["create pizzeria", "process pizzeria.kitchen", "send pizzeria"]
               for names in kept.values()), kept
    assert 30 <= len(kept) <= 70  # 200 visits at 0.25: 50, give or take

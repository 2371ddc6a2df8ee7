"""Traces of every message's way, on the OpenTelemetry API when it is installed
(`pizzeria[tracing]`); without it, or without an SDK set up, nothing is traced and nothing
slows down.

One trace per conversation: a span of a visit has a trace id derived from the visit's
correlation id, so anyone can compute it. A handler's `process` span is the child of the
`create` span of the message it handles; a message's `create` span is written into its outbox
row (`traceparent`) when the row is, so that whichever process relays it later, after a crash
or a delay, its `send` span and the `process` span of whoever handles it continue that trace.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

try:
    from opentelemetry import trace
    from opentelemetry.trace import Link, NonRecordingSpan, ProxyTracerProvider, SpanContext, SpanKind, TraceFlags
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
except ImportError:  # pragma: no cover (the tracing extra is not installed)
    trace = None  # type: ignore[assignment]

TRACEPARENT = "traceparent"
SYSTEM = "rabbitmq"
NAMESPACE = uuid.UUID("0b5c5f0e-7f0a-4b57-9d8e-2f6a1a7f3c11")
_PROPAGATOR = TraceContextTextMapPropagator() if trace is not None else None
_provider: Any = None  # a provider of its own (a test's), else the global one


def use(provider: Any) -> None:
    """Trace with `provider` (an SDK's TracerProvider) rather than the global one; None: the global."""
    global _provider
    _provider = provider


def active() -> bool:
    """True if spans go anywhere: an SDK provider is set up, globally or by `use`."""
    return trace is not None and (_provider is not None or not isinstance(trace.get_tracer_provider(), ProxyTracerProvider))


def conversation_trace_id(correlation_id: str) -> str:
    """The trace id (32 hex digits) of every span of one conversation (a visit)."""
    return uuid.uuid5(NAMESPACE, correlation_id).hex


@contextmanager
def processing(exchange: str, routing_key: str, queue: str, envelope: Any,
               headers: Mapping[str, Any]) -> Iterator[None]:
    """A `process` span around a handler: the child of its message's `create` span, else the
    start of its conversation's trace. An exception out of the handler is recorded on it."""
    if not active():
        yield
        return
    attributes = _attributes(envelope.message_id, envelope.correlation_id, exchange, routing_key, queue) | {
        "messaging.operation.type": "process"}
    with _tracer().start_as_current_span(f"process {queue}", context=_parent(headers, envelope.correlation_id),
                                         kind=SpanKind.CONSUMER, attributes=attributes):
        yield


def noted(what: str, exchange: str, routing_key: str, queue: str, envelope: Any, headers: Mapping[str, Any],
          **attributes: Any) -> None:
    """What became of a message outside its handler (a duplicate dropped, a retry scheduled,
    a failure stored): a `process` span of its own, in its trace, with `what` as its event."""
    if not active():
        return
    with processing(exchange, routing_key, queue, envelope, headers):
        trace.get_current_span().add_event(what, {key: str(value) for key, value in attributes.items()})


def annotate(**attributes: Any) -> None:
    """Put `attributes` on the span in hand (say, a saga's stage before and after a message)."""
    if active():
        trace.get_current_span().set_attributes({key: str(value) for key, value in attributes.items()})


def created(envelope: Any, exchange: str, routing_key: str) -> dict[str, str]:
    """The `create` span of a message a handler sends, ended at once; return the headers that
    carry its context, for the message's outbox row."""
    if not active():
        return {}
    span = _tracer().start_span(f"create {exchange}", kind=SpanKind.PRODUCER,
                                attributes=_attributes(envelope.message_id, envelope.correlation_id, exchange,
                                                       routing_key) | {"messaging.operation.type": "create"})
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    span.end()
    return carrier


def replayed(queue: str, headers: Mapping[str, Any], failed_id: int) -> dict[str, str]:
    """The `send` span of a message replayed from the failed store, ended at once: in its
    conversation's trace, linked to the span that sent it first; return the headers that carry
    its context, for the copy replayed, whose `process` span then continues it."""
    if not active():
        return {}
    message_id, correlation_id = str(headers.get("message_id", "")), str(headers.get("correlation_id", ""))
    first = [Link(_span_context(headers))] if TRACEPARENT in headers else []
    attributes = _attributes(message_id, correlation_id, "", queue) | {
        "messaging.operation.type": "send", "pizzeria.failed.id": failed_id}
    span = _tracer().start_span(f"send {queue}", context=_parent({}, correlation_id), kind=SpanKind.PRODUCER,
                                links=first, attributes=attributes)
    span.add_event("replayed from the failed store", {"failed_id": failed_id})
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    span.end()
    return carrier


@contextmanager
def sending(messages: list[tuple[str, str, Mapping[str, Any]]]) -> Iterator[None]:
    """A relay's `send` span for each `(exchange, routing_key, headers)` it publishes at once,
    continuing (and linked to) the message's `create` span."""
    spans = [_send_span(*message) for message in messages if TRACEPARENT in message[2]] if active() else []
    try:
        yield
    finally:
        for span in spans:
            span.end()


def _carried(headers: Mapping[str, Any]) -> Any:
    """The context whose traceparent the headers carry."""
    return _PROPAGATOR.extract({TRACEPARENT: str(headers[TRACEPARENT])})


def _span_context(headers: Mapping[str, Any]) -> Any:
    """The span context whose traceparent the headers carry."""
    return trace.get_current_span(_carried(headers)).get_span_context()


def _send_span(exchange: str, routing_key: str, headers: Mapping[str, Any]) -> Any:
    parent = _carried(headers)
    created_span = trace.get_current_span(parent).get_span_context()
    attributes = _attributes(str(headers.get("message_id", "")), str(headers.get("correlation_id", "")),
                             exchange, routing_key) | {"messaging.operation.type": "send"}
    return _tracer().start_span(f"send {exchange}", context=parent, kind=SpanKind.PRODUCER,
                                links=[Link(created_span)], attributes=attributes)


def add_trace_ids(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: the ids of the span a line is logged in."""
    if trace is not None:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            event.setdefault("trace_id", f"{context.trace_id:032x}")
            event.setdefault("span_id", f"{context.span_id:016x}")
    return event


def _tracer() -> Any:
    return (_provider or trace.get_tracer_provider()).get_tracer("pizzeria.messaging")


def _parent(headers: Mapping[str, Any], correlation_id: str) -> Any:
    """The context a message's processing continues: its traceparent, else its conversation's root."""
    if TRACEPARENT in headers:
        return _carried(headers)
    trace_id = int(conversation_trace_id(correlation_id), 16)
    root = SpanContext(trace_id=trace_id, span_id=trace_id & 0xFFFFFFFFFFFFFFFF or 1, is_remote=True,
                       trace_flags=TraceFlags(TraceFlags.SAMPLED))
    return trace.set_span_in_context(NonRecordingSpan(root))


def _attributes(message_id: str, conversation_id: str, exchange: str, routing_key: str,
                queue: str | None = None) -> dict[str, Any]:
    destination = f"{exchange}:{routing_key}" + (f":{queue}" if queue else "")
    return {"messaging.system": SYSTEM, "messaging.destination.name": destination,
            "messaging.rabbitmq.destination.routing_key": routing_key,
            "messaging.message.id": message_id, "messaging.message.conversation_id": conversation_id}

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

import hashlib
import re
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

try:
    from opentelemetry import context, trace
    from opentelemetry.trace import (
        Link,
        NonRecordingSpan,
        ProxyTracerProvider,
        SpanContext,
        SpanKind,
        Status,
        StatusCode,
        TraceFlags,
    )
except ImportError:  # pragma: no cover (the tracing extra is not installed)
    trace = None  # type: ignore[assignment]

TRACEPARENT = "traceparent"
SCHEDULED_BY = "traceparent-scheduled-by"  # of a delayed message's outbox row, never on the wire
SYSTEM = "rabbitmq"
TRACE_SALT = "pizzeria trace of "
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_provider: Any = None  # a provider of its own (a test's), else the global one
_cached: tuple[Any, Any] = (None, None)  # a provider and its tracer
_UNTRACED = nullcontext()


def use(provider: Any) -> None:
    """Trace with `provider` (an SDK's TracerProvider) rather than the global one; None: the global."""
    global _provider
    _provider = provider


def active() -> bool:
    """True if spans go anywhere: an SDK provider is set up, globally or by `use`."""
    return trace is not None and (_provider is not None or not isinstance(trace.get_tracer_provider(), ProxyTracerProvider))


def conversation_trace_id(correlation_id: str) -> str:
    """The trace id (32 hex digits) of every span of one conversation (a visit): a hash of it,
    every bit as random as a hash's, so that a sampler by trace id ratio (which reads the low
    64 bits, where a UUID keeps its fixed variant bits) keeps or drops whole conversations."""
    return hashlib.sha256(f"{TRACE_SALT}{correlation_id}".encode()).hexdigest()[:32]


def processing(exchange: str, routing_key: str, queue: str, envelope: Any,
               headers: Mapping[str, Any]) -> AbstractContextManager[None]:
    """A `process` span around a handler: the child of its message's `create` span, else the
    start of its conversation's trace. An exception out of the handler is recorded on it."""
    return _processing(exchange, routing_key, queue, envelope, headers) if active() else _UNTRACED


@contextmanager
def _processing(exchange: str, routing_key: str, queue: str, envelope: Any,
                headers: Mapping[str, Any]) -> Iterator[None]:
    attributes = _attributes("process", envelope.message_id, envelope.correlation_id, exchange, routing_key, queue)
    span = _tracer().start_span(f"process {queue}", context=_parent(headers, envelope.correlation_id),
                                kind=SpanKind.CONSUMER, attributes=attributes)
    token = context.attach(trace.set_span_in_context(span))
    try:
        yield
    except BaseException as error:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        raise
    finally:
        context.detach(token)
        span.end()


def noted(what: str, exchange: str, routing_key: str, queue: str, envelope: Any, headers: Mapping[str, Any],
          **attributes: Any) -> None:
    """What became of a message outside its handler (a duplicate dropped, a retry scheduled,
    a failure stored): a `process` span of its own, in its trace, with `what` as its event."""
    if not active():
        return
    with processing(exchange, routing_key, queue, envelope, headers):
        event(what, **attributes)


def event(what: str, **attributes: Any) -> None:
    """Put an event on the span in hand (say, a saga's timeout passing, its compensation beginning)."""
    if active():
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
    return _create_span(exchange, routing_key, envelope.message_id, envelope.correlation_id)


def scheduled() -> dict[str, str]:
    """The headers of a message a handler sends with a delay: the context of the handler's span.
    Its `create` span is made only when it goes (`sending`), the child of that span: a message
    taken back before (a timeout whose step was answered) leaves no span at all."""
    if not active():
        return {}
    span_context = trace.get_current_span().get_span_context()
    return {SCHEDULED_BY: _traceparent(span_context)} if span_context.is_valid else {}


def replayed(queue: str, headers: Mapping[str, Any], failed_id: int) -> dict[str, str]:
    """The `send` span of a message replayed from the failed store, ended at once: in its
    conversation's trace, linked to the span that sent it first; return the headers that carry
    its context, for the copy replayed, whose `process` span then continues it."""
    if not active():
        return {}
    message_id, correlation_id = str(headers.get("message_id", "")), str(headers.get("correlation_id", ""))
    first = _carried(headers)
    attributes = _attributes("send", message_id, correlation_id, "", queue) | {"pizzeria.failed.id": failed_id}
    span = _tracer().start_span(f"send {queue}", context=_parent({}, correlation_id), kind=SpanKind.PRODUCER,
                                links=[Link(first)] if first else [], attributes=attributes)
    span.add_event("replayed from the failed store", {"failed_id": failed_id})
    span.end()
    return _carrier(span)


def sends(messages: Sequence[tuple[str, str, MutableMapping[str, Any]]]) -> list[Any]:
    """Begin a relay's `send` span for each `(exchange, routing_key, headers)` it publishes at
    once, continuing (and linked to) the message's `create` span; a message sent with a delay
    gets its `create` span now, its context in place of the one it was `scheduled` from, in
    `headers`. Return the spans, to `end` once the messages are published."""
    for exchange, routing_key, headers in messages:
        if SCHEDULED_BY in headers:
            headers.update(_created_now(exchange, routing_key, headers))
    if not active():
        return []
    return [span for message in messages if TRACEPARENT in message[2] and (span := _send_span(*message)) is not None]


def end(spans: list[Any]) -> None:
    """End the spans `sends` began."""
    for span in spans:
        span.end()


def _created_now(exchange: str, routing_key: str, headers: MutableMapping[str, Any]) -> dict[str, str]:
    """The `create` span of a delayed message as it goes, the child of the span that sent it."""
    scheduler = _carried({TRACEPARENT: headers.pop(SCHEDULED_BY)})
    if scheduler is None or not active():
        return {}
    return _create_span(exchange, routing_key, str(headers.get("message_id", "")),
                        str(headers.get("correlation_id", "")), _under(scheduler))


def _create_span(exchange: str, routing_key: str, message_id: str, correlation_id: str,
                 parent: Any = None) -> dict[str, str]:
    """A message's `create` span, ended at once, the child of `parent` (None: the span in hand);
    return the headers that carry its context."""
    span = _tracer().start_span(f"create {exchange}", context=parent, kind=SpanKind.PRODUCER,
                                attributes=_attributes("create", message_id, correlation_id, exchange, routing_key))
    span.end()
    return _carrier(span)


def _send_span(exchange: str, routing_key: str, headers: Mapping[str, Any]) -> Any:
    created_span = _carried(headers)
    if created_span is None:
        return None
    attributes = _attributes("send", str(headers.get("message_id", "")), str(headers.get("correlation_id", "")),
                             exchange, routing_key)
    return _tracer().start_span(f"send {exchange}", context=_under(created_span), kind=SpanKind.PRODUCER,
                                links=[Link(created_span)], attributes=attributes)


def _carried(headers: Mapping[str, Any]) -> Any:
    """The span context of a W3C `traceparent` in the headers, or None if there is none valid."""
    found = _TRACEPARENT.fullmatch(str(headers.get(TRACEPARENT, "")))
    if found is None:
        return None
    trace_id, span_id = int(found[1], 16), int(found[2], 16)
    if not trace_id or not span_id:
        return None
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(int(found[3], 16)))


def _carrier(span: Any) -> dict[str, str]:
    """The headers that carry `span`'s context: its W3C `traceparent`."""
    return {TRACEPARENT: _traceparent(span.get_span_context())}


def _traceparent(span_context: Any) -> str:
    return f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-{span_context.trace_flags:02x}"


def add_trace_ids(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: the ids of the span a line is logged in."""
    if trace is not None:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            event.setdefault("trace_id", f"{context.trace_id:032x}")
            event.setdefault("span_id", f"{context.span_id:016x}")
    return event


def _tracer() -> Any:
    """The tracer of the provider in use, made once per provider (making one costs as much as a span)."""
    global _cached
    provider = _provider or trace.get_tracer_provider()
    if _cached[0] is not provider:
        _cached = (provider, provider.get_tracer("pizzeria.messaging"))
    return _cached[1]


def _parent(headers: Mapping[str, Any], correlation_id: str) -> Any:
    """The context a message's processing continues: its traceparent, else its conversation's root."""
    carried = _carried(headers)
    if carried is None:
        trace_id = int(conversation_trace_id(correlation_id), 16)
        carried = SpanContext(trace_id=trace_id, span_id=trace_id & 0xFFFFFFFFFFFFFFFF or 1, is_remote=True,
                              trace_flags=TraceFlags(TraceFlags.SAMPLED))
    return _under(carried)


def _under(span_context: Any) -> Any:
    """A context whose current span is the (remote) span of `span_context`, to start a child of it."""
    return trace.set_span_in_context(NonRecordingSpan(span_context))


def _attributes(operation: str, message_id: str, conversation_id: str, exchange: str, routing_key: str,
                queue: str | None = None) -> dict[str, Any]:
    destination = f"{exchange}:{routing_key}:{queue}" if queue else f"{exchange}:{routing_key}"
    return {"messaging.system": SYSTEM, "messaging.operation.type": operation,
            "messaging.destination.name": destination, "messaging.rabbitmq.destination.routing_key": routing_key,
            "messaging.message.id": message_id, "messaging.message.conversation_id": conversation_id}

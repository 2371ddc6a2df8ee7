"""The consumer: takes deliveries from queues, handles each exactly once, acks after commit."""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from functools import partial
from typing import Any, Mapping

import structlog
from kombu import Queue
from kombu.mixins import ConsumerMixin
from sqlalchemy import Engine

from . import failed, inbox
from .broker import Broker, Publisher
from .codec import BadMessage
from .envelope import Envelope
from .handling import Handler, handle, is_outage
from .outbox import Relay

log = structlog.get_logger("pizzeria.consumer")

OUTAGE_BACKOFF_SECONDS = 1.0
SWEEP_SECONDS = 1.0
MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Endpoint:
    """A queue, the consumer name its inbox rows carry, and a handler for each message type."""

    name: str
    queue: Queue
    handlers: Mapping[type, Handler]
    prefetch: int = 10

    @property
    def types(self) -> dict[str, type]:
        """The message types this endpoint accepts, by their wire name."""
        return {cls.__name__: cls for cls in self.handlers}


class Worker(ConsumerMixin):
    """Consumes the endpoints' queues until `should_stop`; relays the outbox between messages."""

    def __init__(self, broker: Broker, engine: Engine, endpoints: list[Endpoint]):
        self.broker = broker
        self.connection = broker.connection()
        self.engine = engine
        self.endpoints = endpoints
        self.publisher = Publisher(broker)
        self.relay = Relay(engine, self.publisher.publish)
        self._relay_due = 0.0

    def create_connection(self):
        return self.broker.connection()

    def get_consumers(self, Consumer, channel):
        self.broker.topology.declare(channel)
        return [Consumer(queues=[endpoint.queue], on_message=partial(self.on_delivery, endpoint),
                         accept=["application/json"], prefetch_count=endpoint.prefetch)
                for endpoint in self.endpoints]

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        log.info("consuming", queues=[endpoint.queue.name for endpoint in self.endpoints])

    def on_decode_error(self, message, exc):
        queue = message.delivery_info.get("routing_key", "?")
        self._store_failed(queue, message, exc, attempts=1)
        message.ack()

    def on_iteration(self):
        if time.monotonic() >= self._relay_due:
            self.flush_outbox()

    def flush_outbox(self) -> None:
        """Publish what is due in the outbox; a broker hiccup is logged and tried again later."""
        self._relay_due = time.monotonic() + SWEEP_SECONDS
        try:
            self.relay.flush()
        except Exception as error:  # the rows stay in the outbox for the next sweep
            log.warning("outbox relay failed, will retry", error=str(error))
            self.publisher.close()

    def close(self) -> None:
        """Publish what is left in the outbox and close the publisher."""
        self.flush_outbox()
        self.publisher.close()

    def on_delivery(self, endpoint: Endpoint, message) -> None:
        """Handle one delivery, then ack it; while the database is out of reach, requeue it."""
        try:
            self._process(endpoint, message)
        except Exception as error:
            log.warning("database unavailable, message requeued", queue=endpoint.queue.name,
                        error=str(error).splitlines()[0])
            time.sleep(OUTAGE_BACKOFF_SECONDS)
            message.requeue()
            return
        message.ack()
        self._relay_due = 0.0

    def _process(self, endpoint: Endpoint, message) -> None:
        try:
            envelope = _envelope_of(message)
            payload = envelope.open(endpoint.types)
        except BadMessage as error:
            self._store_failed(endpoint.queue.name, message, error, attempts=1)
            return
        bound = log.bind(correlation_id=envelope.correlation_id,
                         message_id=envelope.message_id, type=envelope.type)
        if inbox.has_handled(self.engine, endpoint.name, envelope.message_id):
            bound.info("duplicate ignored")
            return
        try:
            sent = handle(endpoint.handlers[type(payload)], payload, envelope, endpoint.name, self.engine)
        except Exception as error:
            if is_outage(error):
                raise
            bound.exception("handler failed")
            self._store_failed(endpoint.queue.name, message, error, attempts=1,
                               trace="".join(traceback.format_exception(error)))
            return
        bound.info("duplicate ignored" if sent is None else "handled",
                   sent=[envelope.type for envelope in sent or ()])

    def _store_failed(self, queue: str, message, error: BaseException, attempts: int,
                      trace: str | None = None) -> None:
        log.error("message stored as failed", queue=queue, error=str(error),
                  error_type=type(error).__name__, attempts=attempts)
        failed.store(self.engine, queue=queue, body=_raw_body(message),
                     headers=dict(message.headers or {}), error=error, traceback=trace, attempts=attempts)


def _envelope_of(message) -> Envelope:
    if message.content_type != "application/json":
        raise BadMessage(f"content type {message.content_type!r} is not application/json")
    body = _raw_body(message)
    if len(body) > MAX_BODY_BYTES:
        raise BadMessage(f"body of {len(body)} bytes is over the limit of {MAX_BODY_BYTES}")
    return Envelope.decode(body)


def _raw_body(message: Any) -> bytes:
    body = message.body
    return body if isinstance(body, bytes) else str(body).encode()

"""The consumer: takes deliveries from queues, has each dispatched, acks after the commit, and
relays the outbox between deliveries."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from functools import partial
from typing import Mapping

import structlog
from kombu import Queue
from kombu.mixins import ConsumerMixin
from sqlalchemy import Engine

from .broker import Broker, Publisher
from .dispatch import MAX_BODY_BYTES, Dispatcher
from .handling import Handler
from .outbox import Relay
from .retry import RetryPolicy

log = structlog.get_logger("pizzeria.consumer")

OUTAGE_BACKOFF_SECONDS = 1.0
SWEEP_SECONDS = 1.0
MAX_BATCH = 50  # deliveries handled together at most; prefetch bounds it too
LINGER_SECONDS = 0.005  # how long a busy consumer waits for more deliveries to join a batch
SWEEP_AFTER_ROWS = 200  # published rows to delete in one go, at the latest


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

    def __init__(self, broker: Broker, engine: Engine, endpoints: list[Endpoint],
                 policy: RetryPolicy = RetryPolicy(), max_body_bytes: int = MAX_BODY_BYTES):
        self.broker = broker
        self.connection = broker.connection()
        self.endpoints = endpoints
        self.dispatcher = Dispatcher(engine, policy, max_body_bytes)
        self.publisher = Publisher(broker)
        self.relay = Relay(engine, self.publisher.publish_many)
        self.batch: list = []
        self.batch_limit = min(MAX_BATCH, sum(endpoint.prefetch for endpoint in endpoints))
        self._sweep_due = 0.0

    def create_connection(self):
        return self.broker.connection()

    def get_consumers(self, Consumer, channel):
        self.broker.topology.declare(channel)
        return [Consumer(queues=[endpoint.queue], on_message=partial(self.on_delivery, endpoint),
                         on_decode_error=partial(self.on_undecodable, endpoint),
                         accept=["application/json"], prefetch_count=endpoint.prefetch)
                for endpoint in self.endpoints]

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        log.info("consuming", queues=[endpoint.queue.name for endpoint in self.endpoints])

    def on_undecodable(self, endpoint: Endpoint, message, error: BaseException) -> None:
        """A delivery the transport itself could not decode (say, a false compression header)."""
        self.dispatcher.store_undecodable(endpoint, message, error)
        message.ack()

    def on_iteration(self):
        if time.monotonic() >= self._sweep_due or len(self.relay.published) >= SWEEP_AFTER_ROWS:
            self.sweep_outbox()

    def sweep_outbox(self) -> None:
        """Delete what was published, publish what is due; a broker hiccup is logged and the
        rows wait in the outbox for the next sweep."""
        self._sweep_due = time.monotonic() + SWEEP_SECONDS
        try:
            self.relay.sweep()
        except Exception as error:
            log.warning("outbox relay failed, will retry", error=str(error))
            self.publisher.close()

    def close(self) -> None:
        """Publish what is left in the outbox and close the publisher."""
        self.sweep_outbox()
        self.publisher.close()

    def on_delivery(self, endpoint: Endpoint, message) -> None:
        """Take a delivery into the batch that `consume` handles once the socket is drained."""
        self.batch.append((endpoint, message))

    def consume(self, limit=None, timeout=None, safety_interval=1, **kwargs):
        """ConsumerMixin's loop, but every delivery already at hand is taken before handling
        them, so that several can share one transaction."""
        self.batch = []  # what a lost connection left here, the broker delivers again
        with self.consumer_context(**kwargs) as (conn, _channel, _consumers):
            while not self.should_stop:
                self.on_iteration()
                try:
                    self._take_batch(conn, safety_interval)
                except socket.timeout:
                    conn.heartbeat_check()
                self.handle_batch()
                yield

    def _take_batch(self, conn, wait: float) -> None:
        """Wait up to `wait` for a delivery, then take every one at hand. When one was waiting
        already, the consumer is busy: it lingers a moment for more, so that a busy consumer
        takes fewer, bigger batches, and an idle one loses no time."""
        busy = _drained(conn, 0)
        if not busy:
            conn.drain_events(timeout=wait)
        deadline = time.monotonic() + (LINGER_SECONDS if busy else 0.0)
        while len(self.batch) < self.batch_limit and _drained(conn, max(0.0, deadline - time.monotonic())):
            pass

    def handle_batch(self) -> None:
        """Dispatch the batch, publish what its handlers sent, then ack it; while the database
        is out of reach, requeue it."""
        batch, self.batch = self.batch, []
        for endpoint in self.endpoints:
            messages = [message for where, message in batch if where is endpoint]
            if messages:
                self._handle(endpoint, messages)

    def _handle(self, endpoint: Endpoint, messages: list) -> None:
        try:
            rows = self.dispatcher.dispatch_many(endpoint, messages)
        except Exception as error:
            log.warning("database unavailable, messages requeued", queue=endpoint.queue.name,
                        error=str(error).splitlines()[0])
            time.sleep(OUTAGE_BACKOFF_SECONDS)
            for message in messages:
                message.requeue()
            return
        try:
            self.relay.send(rows)
        except Exception as error:  # claimed rows go to the next relay when their lease ends
            log.warning("publishing failed, the outbox keeps the messages", error=str(error))
            self.publisher.close()
        for message in messages:
            message.ack()


def _drained(conn, timeout: float) -> bool:
    """Handle what the broker sends within `timeout`; False if it sent nothing."""
    try:
        conn.drain_events(timeout=timeout)
    except socket.timeout:
        return False
    return True

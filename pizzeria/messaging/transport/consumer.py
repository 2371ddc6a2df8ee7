"""The worker: kombu's consumer loop feeding the pipeline batches of deliveries, its connection
kept alive, and the middlewares' chores between batches."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import partial
from typing import Any

from kombu import Connection
from kombu.message import Message as KombuMessage
from kombu.mixins import ConsumerMixin

from ..contracts.endpoint import Endpoint
from ..delivery.pipeline import Pipeline
from .broker import Broker, Publisher
from .delivery import JSON, HeldAcks, KombuDelivery, corked
from .pacemaker import Pacemaker

MAX_BATCH = 50  # deliveries handled together at most; prefetch bounds it too
LINGER_SECONDS = 0.005  # how long a busy consumer waits for more deliveries to join a batch
HEARTBEAT_RATE = 4  # heartbeat checks per heartbeat interval


class Worker(ConsumerMixin):
    """Consumes the endpoints' queues until `should_stop`, handing every batch of deliveries at
    hand to the pipeline, and giving the middlewares a turn between batches."""

    def __init__(self, broker: Broker, endpoints: list[Endpoint], pipeline: Pipeline, publisher: Publisher):
        self.broker = broker
        self.connection = broker.connection()
        self.endpoints = endpoints
        self.pipeline = pipeline
        self.publisher = publisher
        self.middleware = pipeline.middleware
        self.clock = pipeline.clock
        self.log = pipeline.names.logger("consumer")
        self.batch: list[tuple[Endpoint, KombuDelivery]] = []
        self.acks = HeldAcks(publisher.lock)
        self.batch_limit = min(MAX_BATCH, sum(endpoint.prefetch_of(name) for endpoint in endpoints
                                              for name in endpoint.queues))
        self._keep_alive_due = 0.0
        self.outages = 0  # batches in a row requeued for an outage
        self.consuming: Connection | None = None
        self.consumers: dict[str, list[Any]] = {}  # by endpoint, the kombu consumers of its queues
        self.held: set[str] = set()  # the endpoints whose consumer is cancelled, consumption held
        self.pacemaker = Pacemaker(broker.heartbeat if broker.is_amqp else 0.0, self._open_connections,
                                   self.clock, publisher.lock)

    @property
    def connected(self) -> bool:
        """Whether the consume loop holds a live connection to the broker."""
        return self.consuming is not None and bool(self.consuming.connected)

    def create_connection(self) -> Connection:
        return self.broker.connection()

    def get_consumers(self, Consumer: Any, channel: Any) -> list[Any]:
        """A consumer per queue of each endpoint (its own, and its arrivals' at their smaller
        prefetch, both feeding its batches), and one of the dead letters if the topology has
        them. Each starts consuming as soon as it is made: a prefetch count applies to the
        consumers a channel starts after it is set, so made first and started together, all of
        them would take the last one's."""
        topology = self.broker.topology
        topology.declare(channel)
        self.consumers = {endpoint.name: [_started(Consumer(queues=[topology.queues[name]],
                                                            on_message=partial(self.on_delivery, endpoint),
                                                            on_decode_error=partial(self.on_undecodable, endpoint),
                                                            accept=[JSON], prefetch_count=endpoint.prefetch_of(name)))
                                          for name in endpoint.queues]
                          for endpoint in self.endpoints}
        self.held = set()
        consumers = [consumer for each in self.consumers.values() for consumer in each]
        if topology.dead_letters is not None:
            consumers.append(_started(Consumer(queues=[topology.dead_letters], on_message=self.on_dead_letter,
                                               on_decode_error=self.on_dead_letter_undecodable, accept=[JSON],
                                               prefetch_count=1)))
        return consumers

    def on_consume_ready(self, connection: Any, channel: Any, consumers: Any, **kwargs: Any) -> None:
        self.log.info("consuming", queues=[self.broker.topology.queues[name].name for endpoint in self.endpoints
                                           for name in endpoint.queues])

    def on_undecodable(self, endpoint: Endpoint, message: KombuMessage, error: BaseException) -> None:
        """A delivery the transport itself could not decode (say, a false compression header)."""
        self.pipeline.store_undecodable(endpoint, KombuDelivery(message, self.publisher.lock), error)

    def on_dead_letter(self, message: KombuMessage) -> None:
        """A message the broker gave up delivering: to the failed store."""
        self.pipeline.store_dead_letter(KombuDelivery(message, self.publisher.lock))

    def on_dead_letter_undecodable(self, message: KombuMessage, _error: BaseException) -> None:
        """A dead letter in a form kombu does not accept: to the failed store all the same."""
        self.pipeline.store_dead_letter(KombuDelivery(message, self.publisher.lock))

    def on_delivery(self, endpoint: Endpoint, message: KombuMessage) -> None:
        """Take a delivery into the batch that `consume` hands over once the socket is drained."""
        acks = self.acks if self.broker.is_amqp else None  # other transports ack one at a time
        self.batch.append((endpoint, KombuDelivery(message, self.publisher.lock, acks)))

    def on_iteration(self) -> None:
        """A turn of the loop: the middlewares' chores, then each queue consumed or held, as they admit."""
        self.middleware.on_idle(self.clock.monotonic())
        for endpoint in self.endpoints:
            self._consume_or_hold(endpoint)

    def _consume_or_hold(self, endpoint: Endpoint) -> None:
        """Cancel the consumers of an endpoint the middlewares no longer admit; start them again once they do."""
        consumers = self.consumers.get(endpoint.name)
        admitted = self.middleware.admits(endpoint.name)
        if consumers is None or admitted != (endpoint.name in self.held):
            return
        for name, consumer in zip(endpoint.queues, consumers, strict=True):
            if admitted:  # the channel's prefetch is the one set last: set this queue's again
                consumer.qos(prefetch_count=endpoint.prefetch_of(name))
                consumer.consume()
            else:
                consumer.cancel()
            self.log.info("consuming" if admitted else "consumption held", queue=consumer.queues[0].name)
        if admitted:
            self.held.discard(endpoint.name)
        else:
            self.held.add(endpoint.name)

    def close(self) -> None:
        """Let the middlewares finish (the outbox published, the stop recorded), then close the publisher."""
        self.pacemaker.stop()
        self.middleware.on_close()
        self.publisher.close()

    def consume(self, limit: Any = None, timeout: Any = None, safety_interval: float = 1,
                **kwargs: Any) -> Iterator[None]:
        """ConsumerMixin's loop, but every delivery already at hand is taken before handling
        them, so that several can share one transaction. A wait for deliveries is shorter than
        the broker's heartbeats come: each one starts py-amqp's wait again, which would then
        never end."""
        self.batch = []  # what a lost connection left here, the broker delivers again
        wait = min(safety_interval, self.pacemaker.heartbeat / HEARTBEAT_RATE or safety_interval)
        with self.consumer_context(**kwargs) as (conn, _channel, _consumers):
            self.consuming = conn
            while not self.should_stop:
                self.on_iteration()
                with contextlib.suppress(TimeoutError):
                    self._take_batch(conn, wait)
                self.keep_alive(conn)
                self.handle_batch()
                yield

    def keep_alive(self, conn: Connection) -> None:
        """Send the heartbeats due on both connections, and find out if the broker went silent."""
        if self.pacemaker.heartbeat and self.clock.monotonic() >= self._keep_alive_due:
            self._keep_alive_due = self.clock.monotonic() + self.pacemaker.heartbeat / HEARTBEAT_RATE
            self.publisher.read_pending()
            self.pacemaker.beat()
            conn.heartbeat_check(rate=HEARTBEAT_RATE)

    def _take_batch(self, conn: Connection, wait: float) -> None:
        """Wait up to `wait` for a delivery, then take every one at hand. When one was waiting
        already, the consumer is busy: it lingers a moment for more, so that a busy consumer
        takes fewer, bigger batches, and an idle one loses no time."""
        busy = _drained(conn, 0)
        if not busy:
            conn.drain_events(timeout=wait)
        deadline = self.clock.monotonic() + (LINGER_SECONDS if busy else 0.0)
        while len(self.batch) < self.batch_limit and _drained(conn, max(0.0, deadline - self.clock.monotonic())):
            pass

    def handle_batch(self) -> None:
        """Hand each endpoint's deliveries to the pipeline; back off while the database is out,
        as long as the failure policy says."""
        batch, self.batch = self.batch, []
        with self.pacemaker.busy(), corked(self.consuming), self.acks.settling():
            for endpoint in self.endpoints:
                deliveries = [delivery for where, delivery in batch if where is endpoint]
                if not deliveries:
                    continue
                if not self.middleware.admits(endpoint.name):  # taken before its consumer was cancelled
                    self.pipeline.release(endpoint, deliveries)
                elif self.pipeline.handle(endpoint, deliveries):
                    self.outages = 0
                else:
                    self.outages += 1
                    self.clock.sleep(self.pipeline.policy.backoff(self.outages))

    def _open_connections(self) -> list[Connection]:
        """The connections the pacemaker keeps alive: the consumer's and the publisher's."""
        return [connection for connection in (self.consuming, self.publisher.connection) if connection is not None]


def _started(consumer: Any) -> Any:
    """The kombu consumer, consuming (ConsumerMixin starts it again: a no-op)."""
    consumer.consume()
    return consumer


def _drained(conn: Connection, timeout: float) -> bool:
    """Handle what the broker sends within `timeout`; False if it sent nothing."""
    try:
        conn.drain_events(timeout=timeout)
    except TimeoutError:
        return False
    return True

"""Connections to the broker and a publisher that waits for the broker's confirm."""

from __future__ import annotations

import functools
import threading
from typing import cast

from amqp.channel import Channel as AmqpChannel
from amqp.exceptions import MessageNacked, PreconditionFailed
from kombu import Connection, Producer
from kombu.exceptions import OperationalError as BrokerUnreachable
from kombu.transport import TRANSPORT_ALIASES
from sqlalchemy.exc import DBAPIError

from ..contracts.clock import SYSTEM, Clock
from ..contracts.errors import TopologyMismatch
from ..delivery.middleware import Middleware, Step
from .delivery import Outgoing, corked
from .topology import Topology

# Publishing gives up after a few seconds of a broker that is down (waits of 0.2, 0.4, ... s,
# 6 tries), so a caller never hangs for ever and the outbox keeps what was not sent.
PUBLISH_ATTEMPTS = 6
PUBLISH_WAIT_SECONDS = 0.2
CONFIRM_SECONDS = 30.0
# kombu's other virtual transports (sqla+sqlite://, say) poll; their default of 1 s would slow every hop.
POLLING_INTERVAL = 0.02
DECLARE_ATTEMPTS = 5


HEARTBEAT_SECONDS = 60.0  # RabbitMQ's default
# The embedded broker, sqlite://, by the path kombu imports it from when a URL names it.
TRANSPORT_ALIASES["sqlite"] = "pizzeria.messaging.transport.embedded.transport:Transport"


def is_amqp(url: str) -> bool:
    """True for a RabbitMQ URL (amqp://), or a list of them, one per node, split by `;`."""
    return url.lower().startswith(("amqp://", "amqps://", "pyamqp://"))


class Broker:
    """Makes connections to one broker URL (on RabbitMQ, a list of nodes to fail over between);
    each declares the whole topology when it opens."""

    def __init__(self, url: str, topology: Topology, clock: Clock = SYSTEM,
                 heartbeat: float = HEARTBEAT_SECONDS):
        self.url = url
        self.topology = topology
        self.clock = clock
        self.heartbeat = heartbeat

    @functools.cached_property
    def is_amqp(self) -> bool:
        """True for RabbitMQ (amqp://), which confirms publishes and redelivers unacked messages."""
        return is_amqp(self.url)

    @functools.cached_property
    def is_embedded(self) -> bool:
        """True for the embedded broker (sqlite://), a file every process opens."""
        return self.url.lower().startswith("sqlite://")

    @functools.cached_property
    def connection_errors(self) -> tuple[type[BaseException], ...]:
        """What the transport raises when the broker is out of reach (kombu's OperationalError
        too: what a connection attempt to a broker that is down raises)."""
        errors: tuple[type[BaseException], ...] = self.connection().connection_errors
        return (*errors, BrokerUnreachable)

    @functools.cached_property
    def nodes(self) -> int:
        """How many nodes the URL lists."""
        return len([url for url in self.url.split(";") if url.strip()])

    def connection(self) -> Connection:
        """A new, not yet opened connection."""
        if self.is_amqp:  # each process tries the nodes in an order of its own: spread, and
            # no node first for everyone while it is down
            return Connection(self.url, heartbeat=self.heartbeat, failover_strategy="shuffle")
        if self.is_embedded:
            return Connection(self.url, transport_options={"clock": self.clock})
        connection = Connection(self.url)
        connection.transport.polling_interval = POLLING_INTERVAL
        return connection

    def open(self) -> Connection:
        """A connected connection with the topology declared on it. Processes starting at once
        on a fresh embedded broker race to create its tables: the loser tries again."""
        if self.is_amqp:
            return self._open()
        for attempt in range(1, DECLARE_ATTEMPTS):
            try:
                return self._open()
            except self.connection_errors + (DBAPIError,):
                self.clock.sleep(0.1 * attempt)
        return self._open()

    def _open(self) -> Connection:
        connection = self.connection()
        try:
            connection.ensure_connection(max_retries=2 * self.nodes, interval_start=0.2, interval_step=0.5)
            self.topology.declare(connection.default_channel)
        except PreconditionFailed as error:
            connection.release()
            raise TopologyMismatch(str(error)) from None
        except BaseException:
            connection.release()
            raise
        return connection


class Publisher:
    """Publishes encoded messages on a connection of its own, persistent; on AMQP it waits once
    per batch for the broker to confirm every message of it, and tries a batch again on a new
    connection if the connection is lost (a message may then go twice: the inbox drops it)."""

    def __init__(self, broker: Broker, middleware: Middleware | None = None):
        self.broker = broker
        self.middleware = middleware or Middleware()
        self.lock = threading.Lock()  # held while it writes: a pacemaker may beat on its connection
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        self._published = 0
        self._unconfirmed: set[int] = set()
        self._nacked: set[int] = set()

    @property
    def connection(self) -> Connection | None:
        """The connection it publishes on, if one is open."""
        return self._connection

    def publish(self, message: Outgoing) -> None:
        """Send one message; return once the broker has confirmed it."""
        self.publish_many([message])

    def publish_many(self, messages: list[Outgoing]) -> None:
        """Send the messages; return once the broker has confirmed them all."""
        for attempt in range(1, PUBLISH_ATTEMPTS + 1):
            try:
                with self.lock:
                    return self._send(messages)
            except self.broker.connection_errors:
                self.drop()
                if attempt == PUBLISH_ATTEMPTS:
                    raise
                self.broker.clock.sleep(PUBLISH_WAIT_SECONDS * attempt)
            except BaseException:  # a channel error, a nack: the next publish starts afresh
                self.drop()
                raise
        raise AssertionError("unreachable")

    def _send(self, messages: list[Outgoing]) -> None:
        producer = self._open()
        with corked(self._connection):
            for message in messages:
                headers = message.headers
                producer.publish(
                    message.body, routing_key=message.routing_key, delivery_mode=2, headers=headers,
                    exchange=self.broker.topology.exchange.name if message.exchange is None else message.exchange,
                    content_type=message.content_type, content_encoding="utf-8",
                    message_id=headers.get("message_id"), correlation_id=headers.get("correlation_id"),
                    type=headers.get("type"))
                if self.broker.is_amqp:
                    self._published += 1
                    self._unconfirmed.add(self._published)
        self.middleware.reached(Step.AFTER_PUBLISH)
        # Confirms come in as the connection is read, by this loop or by py-amqp itself before
        # each publish: the listeners set up in _open count them wherever they are read.
        while self._unconfirmed:  # all of them, so that no late nack falls on the next batch
            assert self._connection is not None
            self._connection.drain_events(timeout=CONFIRM_SECONDS)
        if self._nacked:
            self._nacked.clear()
            raise MessageNacked("the broker refused to take a message")

    def _open(self) -> Producer:
        if self._producer is None:
            self._connection = self.broker.open()
            # No default exchange: kombu would take "" (straight to a queue) for "use the default".
            self._producer = Producer(self._connection, auto_declare=False)
            if self.broker.is_amqp:
                # py-amqp's channel: kombu's annotation names its virtual transports' channel
                channel = cast(AmqpChannel, self._connection.default_channel)
                channel.events["basic_ack"].add(self._on_ack)
                channel.events["basic_nack"].add(self._on_nack)
                channel.confirm_select()
        return self._producer

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._unconfirmed -= ({tag for tag in self._unconfirmed if tag <= delivery_tag}
                              if multiple else {delivery_tag})

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked.add(delivery_tag)
        self._on_ack(delivery_tag, multiple)

    def read_pending(self) -> None:
        """Between publishes: read what the broker sent meanwhile (heartbeats, so that its
        socket does not fill up); a connection lost meanwhile is dropped, the next publish
        opens another."""
        if self._connection is None or not self.broker.is_amqp:
            return
        try:
            with self.lock:
                _drain_pending(self._connection)
        except self.broker.connection_errors:
            self.drop()

    def close(self) -> None:
        """Close the publisher's connection, if it opened one."""
        if self._connection is not None:
            self._connection.release()
        self._forget()

    def drop(self) -> None:
        """Let go of the connection without a word to the broker, which may be down, or
        blocking publishers (a memory alarm) and so never answer a close."""
        if self._connection is not None:
            self._connection.collect()
        self._forget()

    def _forget(self) -> None:
        self._connection = self._producer = None
        self._published = 0
        self._unconfirmed, self._nacked = set(), set()


def _drain_pending(connection: Connection) -> None:
    """Handle every frame the broker has sent already, without waiting for more."""
    try:
        while True:
            connection.drain_events(timeout=0)
    except TimeoutError:
        pass

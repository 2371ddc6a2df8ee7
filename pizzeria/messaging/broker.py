"""Connections to the broker and a publisher that waits for the broker's confirm."""

from __future__ import annotations

import time

from kombu import Connection, Producer
from sqlalchemy.exc import DBAPIError

from .topology import Topology

# Publishing gives up after about 10 s of a broker that is down (0.2 + 0.7 + ... capped at 2 s
# a wait, 7 tries), so a caller never hangs for ever and the outbox keeps what was not sent.
RETRY_POLICY = {"max_retries": 6, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2.0}
# Virtual transports (the embedded SQLite broker) poll; their default of 1 s would slow every hop.
POLLING_INTERVAL = 0.02
DECLARE_ATTEMPTS = 5


class Broker:
    """Makes connections to one broker URL; each declares the whole topology when it opens."""

    def __init__(self, url: str, topology: Topology):
        self.url = url
        self.topology = topology

    @property
    def is_amqp(self) -> bool:
        """True for RabbitMQ (amqp://), which confirms publishes and redelivers unacked messages."""
        return self.url.lower().startswith(("amqp://", "amqps://", "pyamqp://"))

    def connection(self) -> Connection:
        """A new, not yet opened connection (publisher confirms on for AMQP)."""
        if self.is_amqp:
            return Connection(self.url, heartbeat=0, transport_options={"confirm_publish": True})
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
            except (*self.connection().connection_errors, DBAPIError):
                time.sleep(0.1 * attempt)
        return self._open()

    def _open(self) -> Connection:
        connection = self.connection()
        try:
            connection.ensure_connection(max_retries=2, interval_start=0.2, interval_step=0.5)
            self.topology.declare(connection.default_channel)
        except BaseException:
            connection.release()
            raise
        return connection


class Publisher:
    """Publishes encoded envelopes on a connection of its own: persistent, confirmed, retried."""

    def __init__(self, broker: Broker):
        self.broker = broker
        self._connection: Connection | None = None
        self._producer: Producer | None = None

    def publish(self, routing_key: str, body: bytes, headers: dict, exchange: str | None = None,
                content_type: str = "application/json") -> None:
        """Send one message to the topology's exchange (or `exchange`; "" is straight to the
        queue named `routing_key`); returns once the broker has confirmed it (on AMQP)."""
        if self._producer is None:
            self._connection = self.broker.open()
            # No default exchange: kombu would take "" (straight to a queue) for "use the default".
            self._producer = Producer(self._connection, auto_declare=False)
        self._producer.publish(
            body, routing_key=routing_key, delivery_mode=2, headers=headers,
            exchange=self.broker.topology.exchange.name if exchange is None else exchange,
            content_type=content_type, content_encoding="utf-8",
            message_id=headers.get("message_id"), correlation_id=headers.get("correlation_id"),
            type=headers.get("type"), retry=True, retry_policy=RETRY_POLICY)

    def close(self) -> None:
        """Close the publisher's connection, if it opened one."""
        if self._connection is not None:
            self._connection.release()
        self._connection = self._producer = None

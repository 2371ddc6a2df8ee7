"""Heartbeats for a worker's broker connections while its thread is busy handling a batch.

RabbitMQ closes a connection it has heard nothing on for two heartbeat intervals. Between
batches the consumer loop sends them itself; a batch can take longer than that (a long bake),
so a thread sends them meanwhile. (py-amqp's own heartbeat_tick counts a heartbeat it sent as
traffic, and so sends one every other time it is due.) py-amqp connections are not
thread-safe: whatever writes on them while a batch is handled (an ack, a publish) holds
`lock`, and the thread writes only while `busy` says a batch is in hand."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..contracts.clock import Clock

Connections = Callable[[], list[Any]]  # the kombu connections open right now


class Pacemaker:
    """Sends a heartbeat on each connection silent for half its heartbeat interval, while a
    batch is in hand."""

    def __init__(self, heartbeat: float, connections: Connections, clock: Clock, lock: threading.Lock):
        self.heartbeat = heartbeat
        self.connections = connections
        self.clock = clock
        self.lock = lock
        self._busy = False
        self._stopped = threading.Event()
        self._last: dict[int, tuple[int, float]] = {}  # id of a py-amqp connection: bytes sent, when
        self._thread: threading.Thread | None = None

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Beat for the connections while the block runs."""
        if self.heartbeat and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pacemaker", daemon=True)
            self._thread.start()
        with self.lock:
            self._busy = True
        try:
            yield
        finally:
            with self.lock:
                self._busy = False

    def stop(self) -> None:
        """Stop the thread, if it started."""
        self._stopped.set()

    def beat(self) -> None:
        """Send a heartbeat on each connection silent for half its interval, now."""
        with self.lock:
            self._beat_silent()

    def _run(self) -> None:
        while not self._stopped.wait(min(self.heartbeat / 4, 1.0)):
            with self.lock:
                if self._busy:
                    self._beat_silent()

    def _beat_silent(self) -> None:
        now = self.clock.monotonic()
        for connection in self.connections():
            amqp = getattr(connection, "_connection", None)  # None until connected, and once closed
            if amqp is None or not getattr(amqp, "connected", False):
                continue
            sent, since = self._last.get(id(amqp), (-1, now))
            if amqp.bytes_sent != sent:
                self._last[id(amqp)] = (amqp.bytes_sent, now)
            elif now - since >= (amqp.heartbeat or self.heartbeat) / 2:  # as negotiated with the broker
                try:
                    amqp.send_heartbeat()
                except OSError:  # the connection is lost: its owner finds out on its next use
                    continue
                self._last[id(amqp)] = (amqp.bytes_sent, now)

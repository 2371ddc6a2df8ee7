"""A kombu transport on the embedded broker (`store`): `sqlite:///path/to/broker.sqlite`.

Modelled on kombu's pgmq transport. A fetch leases up to the prefetch at once (each queue's
own, as RabbitMQ keeps a prefetch per consumer); an ack deletes
the row if the lease is still the consumer's; a reject or requeue, and a graceful close,
release the lease on the same row. Leases of messages a consumer holds are renewed while it
lives; a consumer killed with -9 loses nothing: its leases run out and the messages go to the
next consumer, flagged redelivered. An idle consumer waits for the file to change (`watch`).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from queue import Empty
from typing import Any
from urllib.parse import parse_qsl

from kombu.transport import virtual
from kombu.utils.json import dumps, loads
from kombu.utils.scheduling import FairCycle
from kombu.utils.uuid import uuid

from ...contracts.clock import SYSTEM, Clock
from .renew import Renewer
from .store import Lease, Store
from .watch import Watcher

LEASE_SECONDS = 10.0  # how long a killed consumer's messages wait before going to the next one
MAX_FETCH = 50  # messages leased at once when the prefetch is unlimited
RETRY_SECONDS = 0.5  # an idle consumer looks for leases that ran out this often


class Channel(virtual.Channel):
    """A channel with a connection of its own to the file, and the leases it holds."""

    supports_fanout = False

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        options = self.connection.options
        self.clock: Clock = options["clock"]
        self.lease_seconds: float = options["lease_seconds"]
        self.store = Store(options["path"])
        self.no_ack: set[str] = set()
        self.renewer = Renewer(options["path"], self.lease_seconds, self.clock)
        self.next_prefetch = 0  # the prefetch of the consumer started next (0: unlimited)
        self.prefetch: dict[str, int] = {}  # by queue consumed, its consumer's
        self.held: Counter[str] = Counter()  # by queue, the deliveries leased and not let go

    def basic_qos(self, prefetch_size: int = 0, prefetch_count: int = 0, apply_global: bool = False) -> None:
        """Set the prefetch of the consumers started after (the channel's own is unlimited)."""
        self.next_prefetch = prefetch_count

    def basic_consume(self, queue: str, no_ack: bool, *args: Any, **kwargs: Any) -> Any:
        """Consume `queue` at the prefetch set last; with `no_ack`, a message is deleted as it is fetched."""
        if no_ack:
            self.no_ack.add(queue)
        self.prefetch[queue] = self.next_prefetch
        return super().basic_consume(queue, no_ack, *args, **kwargs)

    def basic_get(self, queue: str, no_ack: bool = False, **kwargs: Any) -> Any:
        """One message of `queue`, or None; with `no_ack`, deleted as it is fetched."""
        message = super().basic_get(queue, no_ack=no_ack, **kwargs)
        if message is not None and no_ack:
            self.store.ack(self._let_go(message))
        return message

    def basic_ack(self, delivery_tag: Any, multiple: bool = False) -> None:
        """Delete the message, if its lease is still this channel's."""
        lease = self._lease(delivery_tag)
        if lease is not None:
            self.store.ack(lease)
        super().basic_ack(delivery_tag, multiple)

    def basic_reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        """Release the message (requeue) or delete it."""
        lease = self._lease(delivery_tag)
        if lease is not None:
            self.store.release(lease) if requeue else self.store.ack(lease)
        self.qos.reject(delivery_tag, requeue=False)

    def _restore(self, message: Any) -> None:
        """Give back a message held at close: release its lease, the same row."""
        self.store.release(self._let_go(message))

    def _restore_at_beginning(self, message: Any) -> None:
        self._restore(message)

    def _reset_cycle(self) -> None:
        self._cycle = FairCycle(self._fetch, self._active_queues, Empty)

    def _fetch(self, queue: str, callback: Any, timeout: float | None = None) -> None:
        """Lease what the prefetch of `queue` allows and deliver it; Empty if nothing is ready or allowed."""
        prefetch = self.prefetch.get(queue, 0)
        room = min(prefetch, MAX_FETCH) - self.held[queue] if prefetch else MAX_FETCH
        if room <= 0:
            raise Empty()
        for payload in self._claim(queue, room):
            self.connection._deliver(payload, queue)

    def _get(self, queue: str, timeout: float | None = None) -> dict[str, Any]:
        return self._claim(queue, 1)[0]

    def _claim(self, queue: str, count: int) -> list[dict[str, Any]]:
        now = self.clock.time()
        leased = self.store.claim(queue, count, now, now + self.lease_seconds)
        if not leased:
            raise Empty()
        payloads = []
        for lease, payload, deliveries in leased:
            message = loads(payload)
            properties = message["properties"]
            properties["delivery_tag"] = uuid()  # a tag of this delivery, not of the message
            properties["delivery_info"].update(redelivered=deliveries > 1, lease=list(lease), queue=queue)
            payloads.append(message)
            if queue in self.no_ack:
                self.store.ack(lease)
            else:
                self.renewer.hold(lease)
                self.held[queue] += 1
        return payloads

    def _lease(self, delivery_tag: Any) -> Lease | None:
        """The lease of a delivery this channel holds, which it lets go of."""
        try:
            message = self.qos.get(delivery_tag)
        except KeyError:
            return None
        return self._let_go(message)

    def _let_go(self, message: Any) -> Lease:
        """The lease a message was delivered under, no longer renewed."""
        lease = Lease(*message.delivery_info["lease"])
        self.renewer.let_go(lease)
        self.held[message.delivery_info["queue"]] -= 1
        return lease

    def _put(self, queue: str, message: dict[str, Any], **kwargs: Any) -> None:
        self.store.put(queue, dumps(message))

    def _new_queue(self, queue: str, **kwargs: Any) -> None:
        self.store.declare(queue)

    def _has_queue(self, queue: str, **kwargs: Any) -> bool:
        return self.store.exists(queue)

    def _size(self, queue: str) -> int:
        return self.store.size(queue, self.clock.time())

    def _purge(self, queue: str) -> int:
        return self.store.purge(queue, self.clock.time())

    def _delete(self, queue: str, *args: Any, **kwargs: Any) -> None:
        self.store.delete(queue)

    def close(self) -> None:
        """Release what is held, stop renewing, and close the file."""
        if not self.closed:
            super().close()
            self.renewer.stop()
            self.store.close()


class Transport(virtual.Transport):
    """The embedded broker's transport: `sqlite:///relative/path` or `sqlite:////absolute/path`,
    options in the query (`?lease_seconds=10`) or the connection's transport options."""

    Channel = Channel
    connection_errors = (*virtual.Transport.connection_errors, sqlite3.OperationalError)  # type: ignore[assignment]
    can_parse_url = True
    driver_type = driver_name = "sqlite"
    implements = virtual.Transport.implements.extend(exchange_type=frozenset(["direct", "topic"]))

    def __init__(self, client: Any, **kwargs: Any):
        super().__init__(client, **kwargs)
        self.options = options(client.hostname, client.transport_options)
        self.watcher: Watcher | None = None

    def drain_events(self, connection: Any, timeout: float | None = None) -> None:  # type: ignore[override]
        """Deliver what is ready; if nothing is, wait for the file to change, or a lease to end."""
        clock: Clock = self.options["clock"]
        if self.watcher is None:
            self.watcher = Watcher(self.options["path"], clock)
        deadline = None if timeout is None else clock.monotonic() + timeout
        while True:
            self.watcher.forget()
            try:
                return self.cycle.get(self._deliver, timeout=timeout)  # type: ignore[attr-defined, no-any-return]
            except Empty:
                pass
            left = RETRY_SECONDS if deadline is None else min(RETRY_SECONDS, deadline - clock.monotonic())
            if left <= 0:
                raise TimeoutError()
            self.watcher.wait(left)

    def close_connection(self, connection: Any) -> None:
        """Close the channels, then the watcher's connection."""
        super().close_connection(connection)
        if self.watcher is not None:
            self.watcher.close()
            self.watcher = None


def options(url: str, given: dict[str, Any]) -> dict[str, Any]:
    """The file, lease and clock of a transport, from its URL and transport options."""
    rest = url.split("://", 1)[-1]
    location, _, query = rest.partition("?")
    from_query = dict(parse_qsl(query))
    path = location[1:] if location.startswith("/") else location
    if not path:
        raise ValueError(f"no file in the embedded broker's URL {url!r}: sqlite:///path/to/broker.sqlite")
    if not Path(path).absolute().parent.is_dir():
        raise ValueError(f"the embedded broker's file {path} cannot be made: its directory does not exist")
    lease = float(given.get("lease_seconds") or from_query.get("lease_seconds") or LEASE_SECONDS)
    return {"path": Path(path), "lease_seconds": lease, "clock": given.get("clock", SYSTEM)}

"""Leases kept alive: a consumer that holds a message longer than its lease (a long handler)
keeps it, renewed from a thread of its own; a consumer that dies stops renewing, and its leases
run out."""

from __future__ import annotations

import threading
from pathlib import Path

from ...contracts.clock import Clock
from .store import Lease, Store


class Renewer:
    """Renews the leases a channel holds, from a thread of its own, while the process lives."""

    def __init__(self, path: Path, seconds: float, clock: Clock):
        self.path, self.seconds, self.clock = path, seconds, clock
        self.leases: dict[int, str] = {}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def hold(self, lease: Lease) -> None:
        """Renew `lease` from now on."""
        with self.lock:
            self.leases[lease.id] = lease.token
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="lease-renewer", daemon=True)
            self.thread.start()

    def let_go(self, lease: Lease) -> None:
        """Stop renewing `lease`."""
        with self.lock:
            self.leases.pop(lease.id, None)

    def stop(self) -> None:
        """Stop renewing anything."""
        self.stopped.set()
        if self.thread is not None:
            self.thread.join()

    def _run(self) -> None:
        store = Store(self.path)
        try:
            while not self.stopped.wait(self.seconds / 4):
                with self.lock:
                    leases = [Lease(*item) for item in self.leases.items()]
                store.renew(leases, self.clock.time() + self.seconds)
        finally:
            store.close()

"""Scraping consumers' /metrics while a bench runs, as Prometheus would: how long each answer
took, and what the last scrape of each counted."""

from __future__ import annotations

import socket
import statistics
import threading
import time
import urllib.request
from collections.abc import Sequence

from prometheus_client.parser import text_string_to_metric_families

EVERY_SECONDS = 2.0  # more often than Prometheus's usual 15 s (5 s in docker-compose): answers to time under load


def free_ports(count: int) -> list[int]:
    """`count` ports nobody listens on now."""
    sockets = [socket.socket() for _ in range(count)]
    for each in sockets:
        each.bind(("127.0.0.1", 0))
    ports = [each.getsockname()[1] for each in sockets]
    for each in sockets:
        each.close()
    return ports


class Scraper:
    """Scrapes every port's /metrics each `every` seconds in a thread, for the block."""

    def __init__(self, ports: Sequence[int], every: float = EVERY_SECONDS):
        self.ports, self.every = list(ports), every
        self.seconds: list[float] = []
        self.last: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scraper", daemon=True)

    def __enter__(self) -> Scraper:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.scrape()  # what each counted at the end

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.scrape()

    def scrape(self) -> None:
        """Scrape each port once, timing it."""
        for port in self.ports:
            started = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
                self.last[port] = answer.read().decode()
            self.seconds.append(time.perf_counter() - started)

    def total(self, name: str) -> float:
        """The sum over every consumer, at its last scrape, of every sample named `name`."""
        return sum(sample.value for text in self.last.values() for family in text_string_to_metric_families(text)
                   for sample in family.samples if sample.name == name)

    def figures(self) -> dict[str, float]:
        """How long the scrapes took (p50 and the longest, in ms) and how many there were."""
        ms = sorted(1000 * seconds for seconds in self.seconds)
        return {"scrapes": len(ms), "p50_ms": round(statistics.median(ms), 2), "max_ms": round(ms[-1], 2),
                "handled": self.total("pizzeria_messages_handled_total")}

"""What a consumer process serves on its metrics port, from a thread of its own: `/metrics` (the
Prometheus text format), `/livez` (the consume loop is turning) and `/readyz` (connected to the
broker and the database, and not backing off an outage)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, PlatformCollector, ProcessCollector, generate_latest
from sqlalchemy import text

from ..delivery.middleware import Middleware
from .breaker import BreakerCollector, CircuitBreaker
from .metrics import Metrics, MetricsCollector

if TYPE_CHECKING:
    from ..transport.consumer import Worker
    from ..transport.crew import Crew

STALLED_SECONDS = 60.0  # a loop connected to its broker that has not turned for this long is stuck


class Probes(Middleware):
    """Answers the probes of one worker: it notes each turn of the consume loop."""

    def __init__(self, worker: Worker, stalled_after: float = STALLED_SECONDS):
        self.worker, self.stalled_after = worker, stalled_after
        self.turned = worker.clock.monotonic()

    def on_idle(self, now: float) -> None:
        self.turned = now

    def live(self) -> list[str]:
        """Why the process is not live: its loop stalled while connected; none if it is."""
        stalled = self.worker.clock.monotonic() - self.turned
        if self.worker.connected and stalled > self.stalled_after:
            return [f"the consume loop has not turned for {stalled:.0f} s"]
        return []

    def ready(self) -> list[str]:
        """Why the process should not be given work: none if it is ready."""
        problems = [] if self.worker.connected else ["not connected to the broker"]
        if self.worker.outages:
            problems.append(f"backing off an outage of the database ({self.worker.outages} batches requeued)")
        try:
            with self.worker.pipeline.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as error:
            problems.append(f"the database does not answer: {str(error).splitlines()[0]}")
        return problems


class ProbeServer:
    """Serves the metrics and probes of a worker, or of a crew's workers, on `host`:`port` (port
    0: any free one, see `port`)."""

    def __init__(self, worker: Worker | Crew, port: int, host: str = "0.0.0.0"):
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        workers: list[Worker] = getattr(worker, "workers", [worker])
        self.probes = [Probes(each) for each in workers]
        metrics = [Metrics(None, each.pipeline.names.app, each.clock) for each in workers]
        for each, *middlewares in zip(workers, metrics, self.probes):
            for middleware in middlewares:
                each.middleware.add(middleware)
        self.registry.register(MetricsCollector(metrics))
        breakers = [each for one in workers for each in one.middleware.chain if isinstance(each, CircuitBreaker)]
        if breakers:
            self.registry.register(BreakerCollector(breakers))
        self.server = ThreadingHTTPServer((host, port), _handler(self._answer))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="probes", daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.server.server_address[1])

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, path: str) -> tuple[int, str, bytes]:
        """The status, content type and body for a GET of `path`."""
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self.registry)
        checks: dict[str, Callable[[Probes], list[str]]] = {"/livez": Probes.live, "/readyz": Probes.ready}
        if path not in checks:
            return 404, "text/plain; charset=utf-8", b"not found: /metrics, /livez or /readyz\n"
        problems = [problem for probes in self.probes for problem in checks[path](probes)]
        body = "".join(f"{problem}\n" for problem in problems) or "ok\n"
        return (503 if problems else 200), "text/plain; charset=utf-8", body.encode()


def _handler(answer: Callable[[str], tuple[int, str, bytes]]) -> type[BaseHTTPRequestHandler]:
    """A request handler class that answers GETs with `answer` and logs nothing."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            status, content_type, body = answer(self.path.split("?", 1)[0])
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
            """Requests are not logged: a scrape every few seconds would drown the log."""

    return Handler

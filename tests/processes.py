"""The real `pizzeria` command, run as separate OS processes in one directory, as a user
would: for the end-to-end and browser tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from polling import wait_until

from pizzeria.bootstrap import bootstrap
from pizzeria.config import Settings
from pizzeria.devtools.scraping import free_ports
from pizzeria.messaging import Envelope, Outgoing


@dataclass
class Pizzeria:
    """Runs `pizzeria` commands in one directory with one environment, as a user would."""

    cwd: Path
    env: dict[str, str]
    consumers: list[subprocess.Popen] = field(default_factory=list)

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run a command to its end; its output is captured as text."""
        return subprocess.run([sys.executable, "-m", "pizzeria", *args], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def start(self, *args: str) -> subprocess.Popen:
        """Start a command in the background; read its stdout as text lines."""
        return subprocess.Popen([sys.executable, "-m", "pizzeria", *args], cwd=self.cwd, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)

    def consume(self, *queues: str, env: dict[str, str] | None = None, program: str = "pizzeria") -> subprocess.Popen:
        """Start `pizzeria consume QUEUES` in the background (with `env` instead of the usual
        environment, if given; `python -m program` instead of pizzeria, if given), logging to a
        file in cwd."""
        log_path = self.cwd / f"consume-{'-'.join(queues)}-{len(self.consumers)}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen([sys.executable, "-m", program, "consume", *queues],
                                       cwd=self.cwd, env=env or self.env, stdout=log, stderr=log,
                                       stdin=subprocess.DEVNULL)
        process.log_path = log_path
        self.consumers.append(process)
        return process

    def baking(self, bake_seconds: float, pizza: str = "margherita") -> subprocess.Popen:
        """Start every consumer, serve TBL1 one pizza, and return the kitchen once it bakes it."""
        self.env["PIZZERIA_KITCHEN__BAKE_SECONDS"] = str(bake_seconds)
        kitchen = self.consume("kitchen")
        for queue in ("process_manager", "menu", "waiter"):
            self.consume(queue)
        assert self.run("serve", "TBL1", "--order", f"{pizza}:1", "--no-wait").returncode == 0
        wait_until(lambda: "baking" in kitchen.log_path.read_text(), what="the kitchen to bake")
        return kitchen

    def web(self) -> tuple[subprocess.Popen, str]:
        """Start `pizzeria web` on a free port; return it and its base URL once it answers."""
        port = free_port()
        process = self.start("web", "--port", str(port))
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: answering(f"{base}/api/visits") or process.poll() is not None, what="the web process")
        assert process.poll() is None, process.stderr.read() if process.stderr else "the web process ended"
        return process, base

    def publish(self, envelope: Envelope, route: str) -> None:
        """Publish `envelope` as it is, unchecked by its contract (as a client with a bug
        would), on the broker this environment names from this directory."""
        app = bootstrap(Settings.from_env({"PIZZERIA_VAR_DIR": str(self.cwd / "var"), **self.env}))
        publisher = app.publisher()
        try:
            publisher.publish(Outgoing(route, envelope.encode(), envelope.headers()))
        finally:
            publisher.close()
            app.engine.dispose()

    def stop_consumers(self) -> list[int]:
        """SIGTERM every consumer still running and return their exit codes."""
        running = [process for process in self.consumers if process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        self.consumers.clear()
        return [process.wait(timeout=30) for process in running]


def environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    """This process's environment without PIZZERIA_ settings, quick bakes, and `settings`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIZZERIA_")}
    env.update({"PIZZERIA_KITCHEN__BAKE_SECONDS": "0.05", **settings})
    return env


def free_port() -> int:
    """A TCP port free on loopback now."""
    return free_ports(1)[0]


def answering(url: str) -> bool:
    """True once `url` answers 200."""
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False

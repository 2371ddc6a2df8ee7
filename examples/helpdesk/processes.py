"""The helpdesk's consumers as separate processes, `python -m examples.helpdesk consume NAME`
each, logging to a file of their own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the directory that holds `examples`
STOP_SECONDS = 20.0


class Consumers:
    """Consumer processes on one broker and one database, logging to `log_dir/NAME.log`; all
    stopped with SIGTERM (killed if one will not stop) when the block ends."""

    def __init__(self, broker_url: str, database_url: str, log_dir: Path):
        self.urls = ["--broker", broker_url, "--db", database_url]
        self.log_dir = log_dir
        path = os.environ.get("PYTHONPATH")
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *([path] if path else [])])}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, *names: str) -> None:
        """Start a consumer of each module named, in place of any that ran under its name before."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            with open(self.log_dir / f"{name}.log", "ab") as log:
                self.processes[name] = subprocess.Popen(
                    [sys.executable, "-m", "examples.helpdesk", "consume", name, *self.urls],
                    cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def kill(self, name: str) -> None:
        """kill -9 the consumer of `name`, and wait for it to be gone."""
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait()

    def dead(self) -> list[str]:
        """Each consumer that exited, with how, where its log is."""
        return [f"{name} exited with {process.returncode} (see {self.log_dir / name}.log)"
                for name, process in self.processes.items() if process.poll() is not None]

    def stop(self) -> list[int]:
        """SIGTERM every consumer, wait for each (kill one that will not stop); their exit codes."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = []
        for process in self.processes.values():
            try:
                codes.append(process.wait(STOP_SECONDS))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(process.wait())
        return codes

    def __enter__(self) -> Consumers:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

"""The demo's moving parts: consumers as separate processes, and visits at several tables."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Sequence

STOP_SECONDS = 20.0


class Consumers:
    """One `pizzeria consume QUEUE` process per queue, logging to `log_dir/QUEUE.log`;
    stopped with SIGTERM (and killed only if one will not stop) when the block ends."""

    def __init__(self, queues: Sequence[str], log_dir: Path):
        self.queues = queues
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen] = {}

    def __enter__(self) -> Consumers:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for queue in self.queues:
            with open(self.log_dir / f"{queue}.log", "ab") as log:
                self.processes[queue] = subprocess.Popen(
                    [sys.executable, "-m", "pizzeria", "consume", queue],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=os.environ.copy())
        return self

    def __exit__(self, *_exc) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def alive(self) -> bool:
        """True while every consumer process runs."""
        return all(process.poll() is None for process in self.processes.values())

    def describe(self) -> str:
        """Each queue's process id, or how it exited, and where its log is."""
        states = [f"{queue} (pid {p.pid}{'' if p.poll() is None else f', exit {p.returncode}'})"
                  for queue, p in self.processes.items()]
        return f"{', '.join(states)}; logs in {self.log_dir}"


def start_tables(app, table_ids: Sequence[str]) -> list[str]:
    """Start a visit at each table (the waiter chooses the order); return the visit ids."""
    from pizzeria.process_manager.messages import StartTableService
    from pizzeria.process_manager.service import start_visit
    publisher = app.publisher()
    try:
        return [start_visit(app.engine, publisher, StartTableService(table_id)) for table_id in table_ids]
    finally:
        publisher.close()

"""The demo's moving parts: consumers as separate processes, and visits at several tables."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

STOP_SECONDS = 20.0
# What a consumer logs when a message fails: worth showing beside the visit's progress.
TROUBLE = ("attempt failed", "retry scheduled", "message stored as failed")


class Consumers:
    """One `pizzeria consume QUEUE` process per entry of `queues` (a queue may come twice),
    each logging JSON lines to `log_dir/NAME.log` (and serving its metrics on the port of
    `metrics_ports` in the same place, if there is one); stopped with SIGTERM (killed only if one
    will not stop) when the block ends."""

    def __init__(self, queues: Sequence[str], log_dir: Path, env: Mapping[str, str] = {},
                 metrics_ports: Sequence[int] = ()):
        self.names = {_name(queues, i): queue for i, queue in enumerate(queues)}
        self.ports = dict(zip(self.names, metrics_ports))  # where each serves its metrics, if anywhere
        self.log_dir = log_dir
        self.env = {**os.environ, **env, "PIZZERIA_LOG_JSON": "1"}
        self.processes: dict[str, subprocess.Popen] = {}
        self.read_up_to = dict.fromkeys(self.names, 0)

    def __enter__(self) -> Consumers:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name, queue in self.names.items():
            with open(self.log_dir / f"{name}.log", "ab") as log:
                self.read_up_to[name] = log.tell()
                self.processes[name] = subprocess.Popen(
                    [sys.executable, "-m", "pizzeria", "consume", queue,
                     *(["--metrics-port", str(self.ports[name])] if name in self.ports else [])],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.env)
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

    def ready(self) -> bool:
        """True once every consumer has logged that it is consuming."""
        return all(b'"consuming"' in (self.log_dir / f"{name}.log").read_bytes()[self.read_up_to[name]:]
                   for name in self.names)

    def peak_rss_mib(self) -> dict[str, float]:
        """The peak resident memory of each running consumer so far, in MiB (Linux only)."""
        return {name: _peak_rss_kib(process.pid) / 1024 for name, process in self.processes.items()
                if process.poll() is None}

    def cpu_seconds(self) -> dict[str, float]:
        """The CPU time (user and system) each running consumer has used so far (Linux only)."""
        return {name: cpu_seconds(process.pid) for name, process in self.processes.items() if process.poll() is None}

    def trouble(self) -> list[str]:
        """What the consumers logged about failing messages since the last call, a line each."""
        lines = []
        for name, queue in self.names.items():
            with open(self.log_dir / f"{name}.log", "rb") as log:
                log.seek(self.read_up_to[name])
                new = log.read()
            complete = new[:new.rfind(b"\n") + 1]
            self.read_up_to[name] += len(complete)
            lines += [_trouble_line(queue, line) for line in complete.splitlines()]
        return [line for line in lines if line]

    def describe(self) -> str:
        """Each consumer's process id, or how it exited, and where its log is."""
        states = [f"{name} (pid {p.pid}{'' if p.poll() is None else f', exit {p.returncode}'})"
                  for name, p in self.processes.items()]
        return f"{', '.join(states)}; logs in {self.log_dir}"


def _name(queues: Sequence[str], index: int) -> str:
    queue = queues[index]
    return queue if queues.count(queue) == 1 else f"{queue}-{queues[:index + 1].count(queue)}"


def cpu_seconds(pid: int) -> float:
    """The CPU time, user and system, process `pid` has used so far (Linux only)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """The CPU time every core of the machine has spent busy since it started (Linux only)."""
    jiffies = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(jiffies) - jiffies[3] - jiffies[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait


def _peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def _trouble_line(queue: str, raw: bytes) -> str | None:
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(entry, dict) or entry.get("event") not in TROUBLE:
        return None
    what = f"{queue:<8} ! {entry.get('type', 'a message')}"
    if entry["event"] == "attempt failed":
        return f"{what} attempt {entry.get('attempt')} failed: {entry.get('error')}"
    if entry["event"] == "retry scheduled":
        return f"{what} tried {entry.get('attempts')} times, again in {entry.get('delay_seconds')}s"
    return (f"{what} stored as failed after {entry.get('attempts')} attempts: {entry.get('error')} "
            f"(see pizzeria failed list)")

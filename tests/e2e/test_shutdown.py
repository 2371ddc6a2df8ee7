"""Stopping consumers: SIGTERM finishes the message in hand, or stops a start-up at once, even
in the middle of a log line."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from polling import wait_until

from pizzeria.modules import names as module_names


def test_sigterm_mid_bake_finishes_the_pizza_acks_it_and_exits_0(on_rabbitmq):
    kitchen = on_rabbitmq.baking(bake_seconds=2)
    kitchen.send_signal(signal.SIGTERM)
    assert kitchen.wait(timeout=30) == 0
    log = kitchen.log_path.read_text()
    assert log.index("stopping") < log.index("handled") < log.index("stopped")
    report = wait_until(lambda: (r := json.loads(on_rabbitmq.run("status", "TBL1", "--json").stdout))
                        ["status"] == "finished" and r, what="the visit to finish without a kitchen")
    assert [pizza["status"] for pizza in report["pizzas"]] == ["done"]


def test_sigterm_while_waiting_for_an_unreachable_broker_exits_0_at_once(embedded):
    embedded.env["PIZZERIA_BROKER_URL"] = "amqp://guest:guest@127.0.0.1:1//"
    consumer = embedded.consume("menu")
    wait_until(lambda: "waiting for the database and the broker" in consumer.log_path.read_text(),
               what="the consumer to wait for the broker")
    consumer.send_signal(signal.SIGTERM)
    assert consumer.wait(timeout=10) == 0


def test_sigterm_while_a_log_line_waits_on_a_full_pipe_stops_the_consumer_once_the_pipe_drains(embedded):
    """Nobody reads the consumer's log for a while (a slow log collector): it blocks in the
    middle of a line, holding the log's lock, when SIGTERM comes."""
    reader, writer = os.pipe()
    fcntl.fcntl(writer, fcntl.F_SETPIPE_SZ, 4096)
    consumer = subprocess.Popen([sys.executable, "-m", "pizzeria", "consume", *module_names()], cwd=embedded.cwd,
                                env=embedded.env, stdin=subprocess.DEVNULL, stdout=writer, stderr=writer)
    os.close(writer)
    try:
        for table in ("T1", "T2", "T3"):
            assert embedded.run("serve", table, "--no-wait").returncode == 0
        wait_until(lambda: "pipe_write" in Path(f"/proc/{consumer.pid}/wchan").read_text(),
                   what="the consumer to block on its full log pipe")
        consumer.send_signal(signal.SIGTERM)
        log = bytearray()
        threading.Thread(target=_drain, args=(reader, log), daemon=True).start()
        assert consumer.wait(timeout=30) == 0
        wait_until(lambda: b"stopping" in log, what="the consumer to say it is stopping")
    finally:
        consumer.kill()


def _drain(fd: int, into: bytearray) -> None:
    while chunk := os.read(fd, 65536):
        into += chunk

"""Real consumer processes on the embedded broker, each looking for alerts: a kitchen that fails
every pizza and a consumer killed with -9 reach a webhook once each, however many processes saw
them, and the failure's count is what the failed store holds."""

from __future__ import annotations

import os
import signal

from polling import wait_until
from webhook import Receiver

from pizzeria.messaging import admin, make_engine


def test_a_failed_message_and_a_killed_consumer_each_reach_the_webhook_once(embedded):
    receiver = Receiver()
    embedded.env.update({"PIZZERIA_ALERT_WEBHOOK": receiver.url, "PIZZERIA_ALERT_CHECK_SECONDS": "0.2",
                         "PIZZERIA_FAULTS": "kitchen.DoPizza:1000", "PIZZERIA_RETRY_IMMEDIATE": "0",
                         "PIZZERIA_RETRY_DELAYED": "0"})
    for queue in ("process_manager", "menu", "waiter", "kitchen"):
        embedded.consume(queue)
    doomed = embedded.consume("menu")
    assert embedded.run("serve", "TBL1", "--order", "margherita:2", "--no-wait").returncode == 0
    kinds = lambda: sorted(body["kind"] for body in receiver.bodies)  # noqa: E731
    wait_until(lambda: "message_failed" in kinds(), timeout=60, what="the failure posted")
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()
    wait_until(lambda: "consumer_gone" in kinds(), timeout=60, what="the killed consumer posted")
    engine = make_engine(f"sqlite:///{embedded.cwd}/var/pizzeria.sqlite")
    failures = len(admin.failed_entries(engine))
    posted = [body for body in receiver.bodies if body["kind"] == "message_failed"]
    [gone] = [body for body in receiver.bodies if body["kind"] == "consumer_gone"]
    assert len({body["key"] for body in posted}) == len(posted) <= 2  # once each; a window's end may split them
    assert gone["subject"].endswith(f":{doomed.pid}")
    assert sum(alert["count"] for alert in admin.recent_alerts(engine, kind="message_failed")) == failures == 2
    receiver.close()
    engine.dispose()

"""A message that kills its consumer (kill -9, as a segfault or the OOM killer would) each time it
is handled: the kitchen dies as many times as the delivery limit allows, started again each time
as a supervisor would, then the message is in the failed store and the kitchen goes on."""

from __future__ import annotations

import json
from functools import partial

from polling import wait_until

LIMIT = 3


def failed_entries(pizzeria) -> list[dict]:
    listed = pizzeria.run("failed", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


def died_or_stored(pizzeria, kitchen) -> str | None:
    """"died" once the kitchen process is gone, "stored" once the failed store has an entry."""
    if kitchen.poll() is not None:
        return "died"
    return "stored" if failed_entries(pizzeria) else None


def test_a_message_that_kills_its_consumer_ends_in_the_failed_store_at_the_delivery_limit(on_rabbitmq):
    on_rabbitmq.env.update(PIZZERIA_DELIVERY_LIMIT=str(LIMIT), PIZZERIA_PROCESS_MANAGER__STEP_DEADLINE_SECONDS="600")
    for queue in ("process_manager", "menu", "waiter"):
        on_rabbitmq.consume(queue)
    killing = {**on_rabbitmq.env, "PIZZERIA_FAULTS": "kitchen.DoPizza:kill"}
    assert on_rabbitmq.run("serve", "TBL1", "--order", "margherita:1", "--no-wait").returncode == 0
    deaths = 0
    while not failed_entries(on_rabbitmq):
        kitchen = on_rabbitmq.consume("kitchen", env=killing)
        if wait_until(partial(died_or_stored, on_rabbitmq, kitchen), timeout=60, interval=0.2,
                      what="the kitchen to die, or the message to be stored") == "died":
            assert kitchen.returncode == -9, kitchen.returncode
            deaths += 1
    (entry,) = failed_entries(on_rabbitmq)
    assert (entry["queue"], entry["type"]) == ("pizzeria.kitchen", "DoPizza")
    assert entry["error"].startswith(f"Unsettled: delivered {LIMIT + 1} times and never settled")
    assert deaths == LIMIT
    assert kitchen.poll() is None, "the kitchen died again"
    assert on_rabbitmq.stop_consumers() == [0] * 4

"""What the browser tests do on the pages more than once."""

from __future__ import annotations

import httpx
from polling import wait_until

# The kitchen fails every pizza for good at the first try, and the saga sends no step again meanwhile.
BROKEN_KITCHEN = {"PIZZERIA_FAULTS": "kitchen.DoPizza:1000", "PIZZERIA_RETRY_IMMEDIATE": "0",
                  "PIZZERIA_RETRY_DELAYED": "0", "PIZZERIA_PROCESS_MANAGER__STEP_DEADLINE_SECONDS": "600"}


def start(page, base: str, table_id: str, order: str) -> None:
    """Open the visits page and start a visit from its form."""
    page.goto(base)
    page.fill("input[name=table_id]", table_id)
    page.fill("input[name=order]", order)
    page.click("button[type=submit]")


def wait_for_status(base: str, visit_id: str, status: str) -> None:
    """Wait until the API shows the visit with `status`."""
    wait_until(lambda: httpx.get(f"{base}/api/visits/{visit_id}").json()["status"] == status,
               what=f"the visit to be {status}")

"""Starting visits and following them until they end: what `serve` and `demo` stand on."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from pizzeria.messaging import Publisher, derived_id, new_id, send

from . import views
from .messages import StartTableService
from .saga import IN_PROGRESS

POLL_SECONDS = 0.1
Report = dict[str, Any]


class TableBusy(Exception):
    """The table already has a visit in progress."""


def start_visit(engine: Engine, publisher: Publisher, command: StartTableService,
                check_table: bool = True) -> str:
    """Publish StartTableService for a new visit and return the visit's id; unless told not to,
    refuse first if the table has a visit going on (the saga refuses it anyway)."""
    if check_table:
        refuse_if_busy(engine, command.table_id)
    return publish_start(publisher, command, new_id())


def refuse_if_busy(engine: Engine, table_id: str) -> None:
    """Raise TableBusy if the table has a visit going on."""
    current = views.latest_visit(engine, table_id)
    if current is not None and current["status"] in (IN_PROGRESS, views.FAILED):
        raise TableBusy(f"table {table_id} already has a visit in progress "
                        f"({current['visit_id']}); see `pizzeria status {table_id}`")


def publish_start(publisher: Publisher, command: StartTableService, visit_id: str) -> str:
    """Publish the StartTableService of visit `visit_id`: published again, it is the same
    message, which the process manager's inbox drops."""
    return _publish(publisher, command, visit_id, derived_id(visit_id, "StartTableService"))


class NotInProgress(LookupError):
    """The table has no visit in progress to act on."""


def tell_visit(engine: Engine, publisher: Publisher, table_id: str, command: Any) -> str:
    """Send `command` (CancelVisit, RetryStep) to the table's visit in progress; return its id."""
    current = views.latest_visit(engine, table_id)
    if current is None:
        raise NotInProgress(f"table {table_id} has had no visit")
    return _tell(publisher, current, command, f"the visit at table {table_id}")


def tell(engine: Engine, publisher: Publisher, visit_id: str, command: Any) -> str:
    """Send `command` to the visit `visit_id`, if it is in progress; LookupError if there is none."""
    current = views.visit(engine, visit_id)
    if current is None:
        raise LookupError(f"no visit {visit_id}")
    return _tell(publisher, current, command, f"visit {visit_id}")


def _tell(publisher: Publisher, current: Report, command: Any, which: str) -> str:
    if current["status"] not in (IN_PROGRESS, views.FAILED):
        raise NotInProgress(f"{which} is {current['status']}, not in progress")
    return _publish(publisher, command, str(current["visit_id"]), new_id())


def _publish(publisher: Publisher, command: Any, visit_id: str, message_id: str) -> str:
    """Send `command` to the process manager, in the visit's conversation; return the visit's id."""
    send(publisher, command, visit_id, message_id)
    return visit_id


def follow(engine: Engine, visit_ids: list[str], timeout: float,
           on_step: Callable[[Report, dict], None], alive: Callable[[], bool] = lambda: True,
           on_poll: Callable[[], None] = lambda: None) -> dict[str, Report | None]:
    """Poll the visits until each has ended, `timeout` passes or `alive()` turns false, calling
    `on_step` for every new history entry and `on_poll` after every round; return the last
    report of each (None: never seen)."""
    deadline = time.monotonic() + timeout
    reports: dict[str, Report | None] = dict.fromkeys(visit_ids)
    shown = dict.fromkeys(visit_ids, 0)
    while True:
        on_poll()
        for visit_id in visit_ids:
            report = reports[visit_id] = views.visit(engine, visit_id)
            if report is None:
                continue
            for entry in report["history"][shown[visit_id]:]:
                on_step(report, entry)
                shown[visit_id] += 1
        if all(r and r["status"] != IN_PROGRESS for r in reports.values()) or time.monotonic() > deadline \
                or not alive():
            return reports
        time.sleep(POLL_SECONDS)

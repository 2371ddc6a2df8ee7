"""The house's health at a moment, as checks: each endpoint's live consumer processes (by their
heartbeats) and its queue on the broker, the outbox's lag, the circuit breakers holding a queue,
the stuck visits, the failed messages.
Each check is ok or a problem, with a one-line message and its figures; a database or a broker
out of reach is a problem like any other, not an exception."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DBAPIError

from pizzeria.bootstrap import App
from pizzeria.messaging import admin
from pizzeria.process_manager import views

# More messages than this waiting in one queue: its consumers are not keeping up (the bench's
# hundreds of visits at once leave fewer). A module constant until a house needs another figure.
QUEUE_LIMIT = 1000
# A due outbox row older than this: nothing is relaying. A commit publishes its rows at once, and
# every consumer sweeps what is left each outbox_sweep_seconds (1 s by default).
OUTBOX_LAG_SECONDS = 30.0


@dataclass(frozen=True)
class Check:
    """One thing looked at: its name, whether it is ok (else a problem), one line saying what was
    found, and the figures it was found from."""

    name: str
    ok: bool
    message: str
    figures: dict[str, Any] = field(default_factory=dict)


def checks(app: App, now: float) -> list[Check]:
    """Every check of the house at `now`: the database or broker out of reach, if either is,
    then each endpoint's processes and queue, then the outbox, the visits and the failed store."""
    processes, house = _from_database(app, now)
    depths, unreached = _from_broker(app)
    found = (house if processes is None else []) + unreached
    queues = app.broker.topology.queues
    for endpoint in app.endpoints.values():
        mine = None if processes is None else [p for p in processes if queues[endpoint.name].name in p["queues"]]
        if mine is not None:
            found.append(live_processes(endpoint.name, mine, now))
        alive = None if mine is None else sum(p["status"] == admin.ALIVE for p in mine)
        found += [queue_depth(name, queues[name].name, depths.get(name), alive)
                  for name in endpoint.queues if depths is not None]
    return found + ([] if processes is None else house)


def _from_database(app: App, now: float) -> tuple[list[dict[str, Any]] | None, list[Check]]:
    """The consumer processes and the checks of the outbox, the visits and the failed store; or
    None and the one check that says the database is out of reach."""
    try:
        processes = admin.consumer_processes(app.engine, now)
        return processes, [outbox(admin.outbox_lag(app.engine, now)), breakers(admin.breaker_states(app.engine, now), now),
                           stuck_visits(views.stuck(app.engine, now, app.settings.step_deadline_seconds)),
                           failed(admin.failed_groups(app.engine))]
    except DBAPIError as error:
        return None, [Check("database", False, f"database: cannot use {admin.hide_url_passwords(app.settings.database_url)}: "
                                               f"{_first_line(error.orig)}")]


def _from_broker(app: App) -> tuple[dict[str, dict[str, int | None]] | None, list[Check]]:
    """The queues' depths; or None and the one check that says the broker is out of reach."""
    unreachable: tuple[type[BaseException], ...] = (*app.broker.connection_errors, OSError)
    try:
        return admin.queue_depths(app.broker), []
    except unreachable as error:
        return None, [Check("broker", False, f"broker: cannot reach {admin.hide_url_passwords(app.broker.url)}: "
                                             f"{_first_line(error)}")]


def live_processes(endpoint: str, processes: list[dict[str, Any]], now: float) -> Check:
    """A problem if none of the endpoint's consumer processes (the latest seen first) is alive."""
    alive = [p["process"] for p in processes if p["status"] == admin.ALIVE]
    others = Counter(p["status"] for p in processes if p["status"] != admin.ALIVE)
    figures = {"alive": alive, **{status: others[status] for status in (admin.GONE, admin.STOPPED)}}
    if alive:
        return Check(f"processes.{endpoint}", True, f"{endpoint}: {_count(len(alive), 'live process', 'live processes')}"
                                                    f" ({', '.join(alive)})", figures)
    if not processes:
        return Check(f"processes.{endpoint}", False, f"{endpoint}: no consumer process has ever run "
                                                     f"(pizzeria consume {endpoint})", figures)
    told = ", ".join(f"{count} {status}" for status, count in sorted(others.items()))
    return Check(f"processes.{endpoint}", False, f"{endpoint}: no live process ({told}; the last seen "
                                                 f"{now - processes[0]['seen_at']:.0f}s ago)", figures)


def queue_depth(endpoint: str, queue: str, depth: dict[str, int | None] | None, alive: int | None) -> Check:
    """A problem if the queue is missing, has messages and no consumer (as the broker counts them,
    else the live processes), or more than QUEUE_LIMIT messages."""
    if depth is None:
        return Check(f"queue.{endpoint}", False, f"{endpoint}: the broker has no queue {queue} (pizzeria init declares it)",
                     {"queue": queue})
    messages = depth["messages"] or 0
    consumers = alive if depth["consumers"] is None else depth["consumers"]
    figures = {"queue": queue, **depth, "limit": QUEUE_LIMIT}
    waiting = f"{endpoint}: {_count(messages, 'message')} waiting in {queue}"
    if messages and consumers == 0:
        return Check(f"queue.{endpoint}", False, f"{waiting} and no consumer", figures)
    if messages > QUEUE_LIMIT:
        return Check(f"queue.{endpoint}", False, f"{waiting}, more than {QUEUE_LIMIT}", figures)
    counted = "" if depth["consumers"] is None else f", {_count(depth['consumers'], 'consumer')}"
    return Check(f"queue.{endpoint}", True, waiting + counted, figures)


def outbox(lag: dict[str, Any]) -> Check:
    """A problem if a row has been due for longer than OUTBOX_LAG_SECONDS without being published."""
    figures = {**lag, "limit_seconds": OUTBOX_LAG_SECONDS}
    due, oldest = f"outbox: {_count(lag['pending'], 'message')} due", lag["oldest_seconds"]
    if oldest is not None and oldest > OUTBOX_LAG_SECONDS:
        return Check("outbox", False, f"{due}, the oldest for {oldest:.0f}s, longer than {OUTBOX_LAG_SECONDS:g}s: "
                                      "is any consumer running to relay it?", figures)
    since = "" if oldest is None else f", the oldest for {oldest:.1f}s"
    return Check("outbox", True, f"{due}{since}; {lag['delayed']} for later", figures)


def breakers(states: list[dict[str, Any]], now: float) -> Check:
    """A problem if a live process's circuit breaker holds a queue (open, or trying a batch)."""
    holding = [state for state in states if state["state"] != admin.CLOSED]
    figures = {"breakers": [{key: state[key] for key in ("process", "queue", "state", "at", "reason")}
                            for state in states]}
    if not holding:
        return Check("breakers", True, "breakers: every queue consumed", figures)
    told = "; ".join(f"{state['queue']} by {state['process']} {state['state']} for {now - state['at']:.0f}s"
                     f"{': ' + state['reason'] if state['reason'] else ''}" for state in holding)
    return Check("breakers", False, f"breakers: {_count(len(holding), 'queue')} held: {told}", figures)


def stuck_visits(reports: list[dict[str, Any]]) -> Check:
    """A problem if any visit is stuck (see views.stuck)."""
    figures = {"stuck": [{key: report[key] for key in ("table_id", "visit_id", "stage", "waited_seconds",
                                                        "deadline_pending")} for report in reports]}
    if not reports:
        return Check("visits", True, "visits: none stuck", figures)
    tables = ", ".join(f"{report['table_id']} at {report['stage']} for {report['waited_seconds']:g}s"
                       for report in reports)
    return Check("visits", False, f"visits: {len(reports)} stuck: {tables} (pizzeria status --stuck)", figures)


def failed(groups: list[dict[str, Any]]) -> Check:
    """A problem if the failed store holds any message not replayed."""
    total = sum(group["count"] for group in groups)
    figures = {"failed": total, "groups": groups}
    if not total:
        return Check("failed", True, "failed: no failed messages", figures)
    kinds = ", ".join(f"{group['count']} {group['type'] or 'unknown type'} in {group['queue']} ({group['error_type']})"
                      for group in groups)
    return Check("failed", False, f"failed: {_count(total, 'message')} in the failed store: {kinds} "
                                  "(pizzeria failed list)", figures)


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _first_line(error: object) -> str:
    text = str(error).strip()
    return admin.hide_url_passwords(text.splitlines()[0] if text else type(error).__name__)

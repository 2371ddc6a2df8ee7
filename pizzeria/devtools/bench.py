"""`pizzeria bench`: many visits at once through consumer processes, timed and measured."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable

from sqlalchemy import select

from pizzeria.devtools.processes import Consumers, machine_busy_seconds
from pizzeria.devtools.scraping import Scraper, free_ports
from pizzeria.modules import names as module_names
from pizzeria.process_manager.messages import OrderLine, StartTableService
from pizzeria.process_manager.repository import visits
from pizzeria.process_manager.saga import IN_PROGRESS
from pizzeria.process_manager.service import start_visit

POLL_SECONDS = 0.05
# The figures come from the visits' own timestamps, so looking often for the ones that ended
# buys nothing and would take CPU from the consumers under measurement.
VISITS_POLL_SECONDS = 0.5
ONE_AT_A_TIME_POLL_SECONDS = 0.1  # a visit alone takes tens of ms: wait less for the next one
READY_SECONDS = 60.0


def messages_per_visit(pizzas: int) -> int:
    """StartTableService, 12 more of the flow, and a DoPizza and a PizzaDone per pizza."""
    return 13 + 2 * pizzas


def run(app, tables: int, pizzas: int, pm_consumers: int, kitchens: int, timeout: float,
        progress: Callable[[int], None] = lambda done: None, one_at_a_time: bool = False,
        metrics: bool = False) -> dict:
    """Serve `tables` visits of `pizzas` pizzas each at once (or one after the other, each
    started when the one before has ended), with bake time 0, once one visit has warmed the
    consumers up (compiled statements, prepared queries); return figures. With `metrics`, each
    consumer serves its metrics, scraped all along."""
    copies = {"process_manager": pm_consumers, "kitchen": kitchens}
    queues = [name for name in module_names() for _ in range(copies.get(name, 1))]
    run_id = uuid.uuid4().hex[:6]
    ports = free_ports(len(queues)) if metrics else []
    with Consumers(queues, app.settings.var_dir / "bench" / run_id, {"PIZZERIA_KITCHEN__BAKE_SECONDS": "0"},
                   ports) as consumers:
        _wait(consumers.ready, READY_SECONDS, "the consumers to start")
        publisher = app.publisher()
        _wait_for_visits(app.engine, _start(app, publisher, f"w{run_id}", 1, pizzas), timeout)  # warm-up
        cpu_before, busy_before = consumers.cpu_seconds(), machine_busy_seconds()
        serve = _one_at_a_time if one_at_a_time else _at_once
        with Scraper(ports) as scraper:
            started, finished = serve(app, publisher, f"b{run_id}", tables, pizzas, timeout, progress)
        publisher.close()
        cpu = _cpu_ms_per_message(consumers.cpu_seconds(), cpu_before, machine_busy_seconds() - busy_before,
                                  len(started) * messages_per_visit(pizzas))
        rss = consumers.peak_rss_mib()
    figures = {**_figures(started, finished, pizzas, rss, pm_consumers, kitchens), "cpu_ms_per_message": cpu}
    return {**figures, "metrics": scraper.figures()} if metrics else figures


def _cpu_ms_per_message(after: dict[str, float], before: dict[str, float], machine: float,
                        messages: int) -> dict[str, float]:
    """The CPU each kind of consumer (all its copies) spent per message, and the whole machine
    (the broker and the database included), in ms."""
    kinds: dict[str, float] = {}
    for name, seconds in after.items():
        kind = name.split("-")[0]
        kinds[kind] = kinds.get(kind, 0.0) + seconds - before.get(name, 0.0)
    return {**{kind: round(1000 * seconds / messages, 3) for kind, seconds in kinds.items()},
            "machine": round(1000 * machine / messages, 3)}


def _at_once(app, publisher, prefix: str, tables: int, pizzas: int, timeout: float,
             progress: Callable[[int], None]) -> tuple[dict[str, float], dict[str, float]]:
    """Start every visit, then wait for them all; return when each started and ended."""
    started = _start(app, publisher, prefix, tables, pizzas)
    return started, _wait_for_visits(app.engine, started, timeout, progress)


def _one_at_a_time(app, publisher, prefix: str, tables: int, pizzas: int, timeout: float,
                   progress: Callable[[int], None]) -> tuple[dict[str, float], dict[str, float]]:
    """Start each visit once the one before has ended; return when each started and ended."""
    started: dict[str, float] = {}
    finished: dict[str, float] = {}
    for n in range(1, tables + 1):
        one = _start(app, publisher, f"{prefix}_{n}", 1, pizzas)
        finished.update(_wait_for_visits(app.engine, one, timeout, poll=ONE_AT_A_TIME_POLL_SECONDS))
        started.update(one)
        progress(n)
    return started, finished


def _start(app, publisher, prefix: str, tables: int, pizzas: int) -> dict[str, float]:
    """Start the visits; return when each was started."""
    started = {}
    for n in range(1, tables + 1):
        command = StartTableService(f"{prefix}-{n}", (OrderLine("margherita", pizzas),))
        started[start_visit(app.engine, publisher, command, check_table=False)] = time.time()
    return started


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {timeout:g}s")
        time.sleep(POLL_SECONDS)


def _wait_for_visits(engine, started: dict[str, float], timeout: float,
                     progress: Callable[[int], None] = lambda done: None,
                     poll: float = VISITS_POLL_SECONDS) -> dict[str, float]:
    """Poll until every visit has ended; return when each did (its last save)."""
    finished: dict[str, float] = {}
    pending = list(started)
    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} of {len(started)} visits still running after {timeout:g}s")
        time.sleep(poll)
        with engine.connect() as conn:
            for chunk in range(0, len(pending), 500):
                finished.update(conn.execute(
                    select(visits.c.visit_id, visits.c.updated_at)
                    .where(visits.c.visit_id.in_(pending[chunk:chunk + 500]), visits.c.status != IN_PROGRESS)).all())
        pending = [visit_id for visit_id in pending if visit_id not in finished]
        progress(len(finished))
    return finished


def _figures(started, finished, pizzas, rss, pm_consumers, kitchens) -> dict:
    seconds = max(finished.values()) - min(started.values())
    latencies = sorted((finished[v] - started[v]) * 1000 for v in started)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    p50, p95, p99 = (cuts[q - 1] for q in (50, 95, 99))
    messages = len(started) * messages_per_visit(pizzas)
    kinds: dict[str, float] = {}
    for name, mib in rss.items():
        kind = name.split("-")[0]
        kinds[kind] = max(kinds.get(kind, 0.0), round(mib, 1))
    return {"visits": len(started), "pizzas_per_visit": pizzas, "pm_consumers": pm_consumers,
            "kitchens": kitchens, "messages": messages, "seconds": round(seconds, 3),
            "visits_per_second": round(len(started) / seconds, 1),
            "messages_per_second": round(messages / seconds, 1),
            "latency_ms": {"p50": round(p50, 1), "p95": round(p95, 1), "p99": round(p99, 1)},
            "latency_share": {"p50": round(p50 / (1000 * seconds), 3), "p95": round(p95 / (1000 * seconds), 3)},
            "peak_rss_mib": kinds}


def harness_visit_ms(runs: int = 20) -> float:
    """The median time, in ms, of one whole visit (one pizza, bake time 0) on the test harness:
    every endpoint in this process on memory:// and a SQLite file, through the same pipeline."""
    import tempfile
    from pathlib import Path

    from pizzeria import bootstrap
    from pizzeria.config import Settings
    from pizzeria.messaging.testing import Bus

    with tempfile.TemporaryDirectory() as directory:
        app = bootstrap.bootstrap(Settings("memory://", f"sqlite:///{directory}/db.sqlite", Path(directory),
                                           modules={"kitchen": {"bake_seconds": 0}}))
        bootstrap.create_tables(app.engine)
        bus = Bus(list(app.endpoints.values()), app.engine, bootstrap.NAMES)
        times = []
        for n in range(runs + 1):  # the first one warms up
            start = time.perf_counter()
            bus.send(StartTableService(f"H{n}", (OrderLine("margherita", 1),)), correlation_id=f"harness-{n}")
            bus.run()
            times.append((time.perf_counter() - start) * 1000)
        bus.close()
        app.engine.dispose()
    return round(statistics.median(times[1:]), 1)

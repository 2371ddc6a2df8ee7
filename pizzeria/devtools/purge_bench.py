"""`pizzeria bench --purge N`: does purging N finished visits slow the house down? The visits
are written at once (copies of a real one, with its history, ended long before the visits'
retention); a steady load of visits goes on all along; messages/s are measured first with a
process manager that keeps every visit, then with one that purges them, from its start until
the last old visit is gone, then once it is done: the same run, the same consumers beside."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import Engine, bindparam, func, insert, select, text

from pizzeria.devtools.bench import _wait, _wait_for_visits, messages_per_visit
from pizzeria.devtools.processes import Consumers
from pizzeria.messaging import new_id
from pizzeria.messaging.admin import handled_per_step
from pizzeria.process_manager.messages import OrderLine, StartTableService
from pizzeria.process_manager.repository import history, visits
from pizzeria.process_manager.saga import IN_PROGRESS
from pizzeria.process_manager.service import start_visit

DAY = 86400.0
READY_SECONDS = 60.0
SETTLE_SECONDS = 5.0  # of load before the first measure
LOAD_POLL_SECONDS = 0.1
DONE_POLL_SECONDS = 1.0  # how often to look whether the purge is done
CHUNK = 5000  # old visits written in one transaction
OLD_PREFIX = "old-"  # their table ids; "." comes after "-"


def run(app, old: int, in_flight: int, pizzas: int, measure_seconds: float, timeout: float) -> dict:
    """Write `old` finished visits past the retention, keep `in_flight` visits of `pizzas`
    pizzas going, and measure messages/s for `measure_seconds` with no purge, then while the
    process manager's chore purges them (for at most `timeout`), then for `measure_seconds` once
    it is done; return the figures."""
    run_id = uuid.uuid4().hex[:6]
    logs, env = app.settings.var_dir / "bench" / run_id, {"PIZZERIA_KITCHEN__BAKE_SECONDS": "0"}
    publisher = app.publisher()
    load = Load(app.engine, publisher, f"p{run_id}", in_flight, pizzas)
    with Consumers(["menu", "waiter", "kitchen"], logs, env) as workers:
        figures = _keeping(app, workers, load, logs / "keeping", env, old, measure_seconds, timeout)
        figures |= _purging(app, load, logs / "purging", env, measure_seconds, timeout)
    publisher.close()
    rates = {phase: figures.pop(phase) for phase in ("before", "during", "after")}
    return {"old_visits": old, **figures, "in_flight": in_flight, "pizzas_per_visit": pizzas,
            "messages_per_visit": messages_per_visit(pizzas), "left": old_left(app.engine),
            "messages_per_second": rates, "ratio": round(rates["during"] / rates["before"], 3),
            "ratio_to_after": round(rates["during"] / rates["after"], 3),
            "ratio_to_both": round(2 * rates["during"] / (rates["before"] + rates["after"]), 3)}


def _keeping(app, workers, load: Load, logs, env: dict, old: int, measure_seconds: float, timeout: float) -> dict:
    """With a process manager that keeps every visit: warm up, write the old visits, measure."""
    with Consumers(["process_manager"], logs, {**env, "PIZZERIA_VISIT_RETENTION_DAYS": "0"}) as pm:
        _wait(lambda: workers.ready() and pm.ready(), READY_SECONDS, "the consumers to start")
        started = time.monotonic()
        model = warm_up(app.engine, load.publisher, load.prefix, load.pizzas, timeout)
        history_rows = fill(app.engine, model, old, app.settings.visit_retention_days * DAY)
        filled = time.monotonic() - started
        load.keep_until(lambda: False, SETTLE_SECONDS)
        return {"history_rows": history_rows, "fill_seconds": round(filled, 1),
                "before": load.measure(lambda: False, measure_seconds)}


def _purging(app, load: Load, logs, env: dict, measure_seconds: float, timeout: float) -> dict:
    """With a process manager that purges: measure until the old visits are gone, then after."""
    with Consumers(["process_manager"], logs, env) as pm:
        load.keep_until(pm.ready, READY_SECONDS)
        started = time.monotonic()
        during = load.measure(lambda: old_left(app.engine) == 0, timeout)
        purged = time.monotonic() - started
        return {"purge_seconds": round(purged, 1), "during": during,
                "after": load.measure(lambda: False, measure_seconds)}


def warm_up(engine: Engine, publisher, prefix: str, pizzas: int, timeout: float) -> str:
    """Serve one visit, which warms the consumers up and is the model of the old ones; its id."""
    visit_id = start_visit(engine, publisher, StartTableService(f"w{prefix}", (OrderLine("margherita", pizzas),)),
                           check_table=False)
    _wait_for_visits(engine, {visit_id: time.time()}, timeout)
    return visit_id


def fill(engine: Engine, model: str, count: int, retention: float) -> int:
    """Write `count` copies of the finished visit `model`, with its history, ended from an hour to
    ten days past the `retention` (seconds) before now; return how many rows of history."""
    with engine.connect() as conn:
        row = conn.execute(select(visits).where(visits.c.visit_id == model)).one()
        rows = int(conn.scalar(select(func.count()).where(history.c.visit_id == model)) or 0)
    newest = time.time() - retention - 3600
    for first in range(0, count, CHUNK):
        ended = {new_id(): newest - n * 10 * DAY / count for n in range(first, min(count, first + CHUNK))}
        with engine.begin() as conn:
            _copy(conn, row, ended, first)
    if engine.dialect.name == "postgresql":  # as a database that has lived with them would be
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"VACUUM ANALYZE {visits.name}, {history.name}"))
    return count * rows


def _copy(conn, model, ended: dict[str, float], first: int) -> None:
    """Copies of the visit `model` (a row), ended when `ended` says by their ids, and of its history."""
    conn.execute(insert(visits), [{**model._asdict(), "visit_id": visit_id, "table_id": f"{OLD_PREFIX}{first + n}",
                                   "started_at": at - 60, "updated_at": at}
                                  for n, (visit_id, at) in enumerate(ended.items())])
    copied = [column for column in history.columns if column.name not in ("id", "visit_id", "at")]
    copies = (select(visits.c.visit_id, *copied, history.c.at - model.updated_at + visits.c.updated_at)
              .select_from(history.join(visits, visits.c.visit_id.in_(bindparam("ids", expanding=True))))
              .where(history.c.visit_id == model.visit_id))
    conn.execute(insert(history).from_select(["visit_id", *(column.name for column in copied), "at"], copies),
                 {"ids": list(ended)})


def old_left(engine: Engine) -> int:
    """How many of the old visits are left, found through the index of table ids: a count that
    read the whole table would weigh on the measure (and on SQLite hold the write lock meanwhile)."""
    table_id = visits.c.table_id
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).where(table_id >= OLD_PREFIX, table_id < OLD_PREFIX[:-1] + ".",
                                                          table_id.like(f"{OLD_PREFIX}%"))) or 0)


class Load:
    """Keeps `in_flight` visits going: each one that ends is replaced at once by a new one."""

    def __init__(self, engine: Engine, publisher, prefix: str, in_flight: int, pizzas: int):
        self.engine, self.publisher, self.prefix, self.pizzas = engine, publisher, prefix, pizzas
        self.in_flight, self.started = in_flight, 0
        self.going: set[str] = set()

    def keep_until(self, done, timeout: float) -> None:
        """Keep the visits going until `done()` (asked every DONE_POLL_SECONDS), or for `timeout` seconds."""
        deadline = time.monotonic() + timeout
        asked = time.monotonic()
        while time.monotonic() < deadline:
            if time.monotonic() >= asked:
                if done():
                    return
                asked = time.monotonic() + DONE_POLL_SECONDS
            self._top_up()
            time.sleep(LOAD_POLL_SECONDS)

    def measure(self, done, timeout: float) -> float:
        """Keep the visits going until `done()` (or `timeout`); the messages handled a second meanwhile."""
        began = time.time()
        self.keep_until(done, timeout)
        ended = time.time()
        handled = sum(count for (_, step), count in handled_per_step(self.engine, began, ended - began).items()
                      if step == 0)
        return round(handled / (ended - began), 1)

    def _top_up(self) -> None:
        if self.going:
            with self.engine.connect() as conn:
                self.going -= set(conn.execute(select(visits.c.visit_id).where(
                    visits.c.visit_id.in_(self.going), visits.c.status != IN_PROGRESS)).scalars())
        while len(self.going) < self.in_flight:
            self.started += 1
            command = StartTableService(f"{self.prefix}-{self.started}", (OrderLine("margherita", self.pizzas),))
            self.going.add(start_visit(self.engine, self.publisher, command, check_table=False))

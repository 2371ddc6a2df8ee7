"""The purge as a consumer's chore, on its clock: a batch a turn, a share of the consumer's time,
a pass every period; and the workers the composition root builds purge what their queues own."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import structlog
from old_rows import DAY, add_failed, add_visit, failed_ids, visit_ids
from polling import wait_until

from pizzeria import bootstrap
from pizzeria.config import Settings
from pizzeria.messaging import Purging, VirtualClock, failed_retention, make_engine
from pizzeria.process_manager.retention import visit_retention

START = 2.0**30
log = structlog.get_logger("tests.purging")


class TickingClock(VirtualClock):
    """A virtual clock on which every read of the monotonic time takes `tick` seconds: a batch
    then lasts a tick."""

    def __init__(self, start: float, tick: float):
        super().__init__(start)
        self.tick = tick

    def monotonic(self) -> float:
        self.advance(self.tick)
        return self.now


def old_visits(engine, clock, count: int, prefix: str = "v") -> None:
    with engine.begin() as conn:
        for n in range(count):
            add_visit(conn, f"{prefix}{n:02}", "finished", clock.time() - 31 * DAY)


def test_the_chore_removes_a_batch_a_turn_then_waits_its_period_for_the_next_pass(engine):
    clock = VirtualClock(START)
    old_visits(engine, clock, 12)
    chore = Purging(engine, [dataclasses.replace(visit_retention(30 * DAY), batch=5)], log, clock, every=600)
    left = []
    for _ in range(4):
        chore.on_idle(clock.monotonic())
        left.append(len(visit_ids(engine)))
    assert left == [7, 2, 0, 0]  # the fourth turn finds the pass done
    old_visits(engine, clock, 1, prefix="later")
    clock.advance(599)
    chore.on_idle(clock.monotonic())
    assert visit_ids(engine) == {"later00"}
    clock.advance(1)
    chore.on_idle(clock.monotonic())
    assert visit_ids(engine) == set()


def test_the_next_batch_waits_until_the_purge_has_taken_only_its_share_of_the_time(engine):
    tick = 1 / 64  # a batch takes a tick (times in binary fractions: their sums are exact)
    clock = TickingClock(START, tick)
    old_visits(engine, clock, 10)
    chore = Purging(engine, [dataclasses.replace(visit_retention(30 * DAY), batch=5)], log, clock, every=600,
                    share=1 / 8)
    began = clock.now + tick  # the turn's first read of the clock
    chore.on_idle(clock.now)  # a batch of a tick: the next one 8 ticks after this one began
    assert len(visit_ids(engine)) == 5
    clock.now = began + 7 * tick
    chore.on_idle(clock.now)
    assert len(visit_ids(engine)) == 5
    clock.now = began + 8 * tick
    chore.on_idle(clock.now)
    assert len(visit_ids(engine)) == 0


def test_a_database_that_fails_the_chore_is_tried_again_at_the_next_period(tmp_path):
    from pizzeria.bootstrap import create_tables
    engine = make_engine(f"sqlite:///{tmp_path}/later.sqlite")
    clock = VirtualClock(START)
    chore = Purging(engine, [failed_retention(7 * DAY)], log, clock, every=600)
    chore.on_idle(clock.monotonic())  # no tables yet: logged, never raised
    create_tables(engine)
    with engine.begin() as conn:
        add_failed(conn, clock.time() - 9 * DAY, replayed_at=clock.time() - 8 * DAY)
    chore.on_idle(clock.monotonic())
    assert len(failed_ids(engine)) == 1
    clock.advance(600)
    chore.on_idle(clock.monotonic())
    assert failed_ids(engine) == set()
    engine.dispose()


def test_the_process_managers_workers_purge_the_visits_and_every_worker_the_failed_store(sqlite_url, tmp_path):
    app = bootstrap.bootstrap(Settings("memory://", sqlite_url, Path(tmp_path)))
    bootstrap.create_tables(app.engine)
    now = time.time()  # the workers' clock is the system's
    with app.engine.begin() as conn:
        add_visit(conn, "old", "finished", now - 31 * DAY)
        add_failed(conn, now - 9 * DAY, replayed_at=now - 8 * DAY)
    menu = bootstrap.worker(app, ["menu"])
    menu.on_iteration()
    assert (visit_ids(app.engine), failed_ids(app.engine)) == ({"old"}, set())
    process_manager = bootstrap.worker(app, ["process_manager"])
    wait_until(lambda: process_manager.on_iteration() or not visit_ids(app.engine), timeout=10,
               what="the process manager's worker to purge the visit, a batch a turn")
    for worker in (menu, process_manager):
        worker.close()
    app.engine.dispose()

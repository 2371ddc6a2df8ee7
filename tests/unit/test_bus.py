"""Whole flows in one process on the core's `Bus` (kombu's memory:// broker, a SQLite file):
a visit from start to thanks, a message failing for good, and a worker added by following the
README's steps."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select

from pizzeria import bootstrap, modules
from pizzeria.bootstrap import NAMES, App
from pizzeria.config import ConfigError, Settings, effective_settings
from pizzeria.kitchen.domain import bakes_per_order
from pizzeria.messaging.store import failed
from pizzeria.messaging.testing import FAST_RETRIES, Bus
from pizzeria.process_manager import saga, views
from pizzeria.process_manager.messages import StartTableService
from pizzeria.waiter.messages import BillPaid, OrderLine, ShowBill


def settings_in(tmp_path: Path, modules: dict | None = None, **kwargs) -> Settings:
    """Settings on memory:// and a SQLite file in `tmp_path`, a kitchen that bakes at once, `modules` and `kwargs`."""
    modules = modules or {}
    quick = {**modules, "kitchen": {"bake_seconds": 0, **modules.get("kitchen", {})}}
    return Settings("memory://", f"sqlite:///{tmp_path}/db.sqlite", tmp_path, modules=quick, **kwargs)


def app_in(tmp_path: Path, **kwargs) -> App:
    """The application built on memory:// and a SQLite file in `tmp_path`, tables created."""
    app = bootstrap.bootstrap(settings_in(tmp_path, **kwargs))
    bootstrap.create_tables(app.engine)
    return app


def bus_of(app: App, *names: str) -> Bus:
    """A bus running the named endpoints of `app` (all of them if none is named)."""
    return Bus([app.endpoints[name] for name in names or app.endpoints], app.engine, NAMES)


@pytest.fixture
def app(tmp_path) -> Iterator[App]:
    app = app_in(tmp_path)
    yield app
    app.engine.dispose()


@pytest.fixture
def bus(app) -> Iterator[Bus]:
    bus = bus_of(app)
    yield bus
    bus.close()


# --- a visit on the bus ---------------------------------------------------------------------

def test_a_whole_visit_runs_in_one_process_until_the_bill_is_paid_and_the_client_thanked(app, bus):
    bus.send(StartTableService("t1", order=(OrderLine("margherita", 2),)), correlation_id="visit-1")
    bus.run()
    report = views.visit(app.engine, "visit-1")
    assert report["status"] == "finished"
    assert report["bill"] == {"amount": "17.00", "paid": True}
    assert [pizza["status"] for pizza in report["pizzas"]] == ["done", "done"]
    assert ("received", "ClientThanked") in [(e["direction"], e["type"]) for e in report["history"]]
    assert bakes_per_order(app.engine) == {"visit-1-1": 1, "visit-1-2": 1}


def test_the_deadline_of_each_step_answered_in_time_is_taken_back_and_never_comes(app, bus):
    bus.send(StartTableService("t1", order=(OrderLine("margherita", 1),)), correlation_id="visit-1")
    bus.run()
    assert views.visit(app.engine, "visit-1")["status"] == "finished"
    assert [envelope.type for envelope in bus.seen if envelope.type == "Deadline"] == []


def test_a_visit_where_the_waiter_chooses_finishes_too(app, bus):
    bus.send(StartTableService("t1"), correlation_id="visit-1")
    bus.run()
    report = views.visit(app.engine, "visit-1")
    assert report["status"] == "finished" and report["bill"]["paid"]


def test_wait_for_returns_the_envelope_of_the_message_asked_for_in_its_correlation(bus):
    bus.send(StartTableService("t1", order=(OrderLine("diavola", 1),)), correlation_id="visit-1")
    bus.send(StartTableService("t2", order=(OrderLine("marinara", 1),)), correlation_id="visit-2")
    envelope = bus.wait_for(BillPaid, "visit-2")
    assert (envelope.type, envelope.correlation_id) == ("BillPaid", "visit-2")
    assert envelope.payload == {"amount_cents": 700}


def test_wait_for_raises_when_the_bus_runs_dry_without_the_message(app, bus):
    bus.send(StartTableService("t1", order=(OrderLine("hawaii", 1),)), correlation_id="visit-1")
    with pytest.raises(AssertionError, match="ShowBill"):
        bus.wait_for(ShowBill, "visit-1")
    assert views.visit(app.engine, "visit-1")["status"] == "rejected"


# --- failing for good -----------------------------------------------------------------------

def test_a_message_failing_through_every_retry_and_re_send_ends_in_the_failed_store_and_the_visit_cancelled(tmp_path):
    app = app_in(tmp_path, faults={"waiter.ShowBill": 1000})
    bus = bus_of(app)
    try:
        bus.send(StartTableService("t1", order=(OrderLine("margherita", 1),)), correlation_id="visit-1")
        bus.run()
        (entry,) = failed.entries(app.engine)
        report = views.visit(app.engine, "visit-1")
    finally:
        bus.close()
    assert (entry.type, entry.queue, entry.correlation_id) == ("ShowBill", "pizzeria.waiter", "visit-1")
    assert entry.error_type == "InjectedFault"
    sends = 1 + saga.TIMING.resends  # the saga sends the bill again after each deadline
    assert entry.attempts == sends * (1 + FAST_RETRIES.immediate) * (1 + FAST_RETRIES.delayed)
    assert (report["status"], report["reason"]) == ("cancelled", "no answer to awaiting_payment after 3 re-sends")
    assert report["bill"] == {"amount": "8.50", "paid": False}


# --- adding a worker, as the README tells -----------------------------------------------------

BAR = {
    "__init__.py": '"""The bar: pours water."""\n',
    "messages.py": '''
        """The bar's public contract."""

        from __future__ import annotations

        from dataclasses import dataclass

        from pizzeria.messaging import Command, Contract, Event

        contract = Contract("bar")


        @contract.command
        @dataclass(frozen=True)
        class PourWater(Command, unique_by=("glass",)):
            """Fill this glass."""

            glass: str


        @contract.event
        @dataclass(frozen=True)
        class WaterPoured(Event):
            """The glass is full."""

            glass: str
        ''',
    "handlers.py": '''
        """The bar's handlers, and the table where it writes what it poured."""

        from __future__ import annotations

        from sqlalchemy import Column, Integer, MetaData, String, Table

        from pizzeria.messaging.delivery.context import Context

        from .messages import PourWater, WaterPoured

        metadata = MetaData()
        poured = Table("bar_poured", metadata,
                       Column("id", Integer, primary_key=True, autoincrement=True),
                       Column("glass", String(32), nullable=False))


        def pour_water(command: PourWater, context: Context) -> None:
            """Pour, write it down, say so."""
            context.insert_later(poured, {"glass": command.glass})
            context.send(WaterPoured(glass=command.glass))


        HANDLERS = {PourWater: pour_water}
        ''',
    "module.py": '''
        """The bar, declared once for the application, with its setting."""

        from pizzeria.messaging import Module, Setting

        from .handlers import HANDLERS, metadata
        from .messages import contract

        SETTINGS = (Setting("glass_ml", int, 250, "how much a glass holds", within=(50, 1000)),)

        MODULE = Module("bar", contract, handlers=lambda _settings: HANDLERS, tables=metadata, settings=SETTINGS)
        ''',
}


def forget_bar() -> None:
    for name in [name for name in sys.modules if name == "bar" or name.startswith("bar.")]:
        del sys.modules[name]


@pytest.fixture
def bar(tmp_path, monkeypatch) -> Iterator[str]:
    """Step (a), a package `bar` on the path; step (b), its one line in the list of modules."""
    package = tmp_path / "src" / "bar"
    package.mkdir(parents=True)
    for name, text in BAR.items():
        (package / name).write_text(textwrap.dedent(text).lstrip())
    forget_bar()
    monkeypatch.syspath_prepend(str(package.parent))
    monkeypatch.setattr(modules, "MODULES", [*modules.MODULES, "bar"])
    yield "bar"
    forget_bar()


def test_the_new_module_is_in_the_list_of_modules(bar):
    assert modules.names()[-1] == "bar"
    assert modules.declarations()[-1].name == "bar"


def test_the_app_gets_an_endpoint_and_a_queue_bound_to_the_new_modules_commands(bar, tmp_path):
    app = bootstrap.bootstrap(settings_in(tmp_path))
    assert [cls.__name__ for cls in app.endpoints["bar"].handlers] == ["PourWater"]
    queue = app.broker.topology.queues["bar"]
    assert queue.name == "pizzeria.bar"
    assert [(binding.exchange.name, binding.routing_key) for binding in queue.bindings] == [
        ("pizzeria", "bar.command.*")]


def test_create_tables_creates_the_new_modules_table(bar, tmp_path):
    app = bootstrap.bootstrap(settings_in(tmp_path))
    bootstrap.create_tables(app.engine)
    assert inspect(app.engine).has_table("bar_poured")


def test_the_new_modules_settings_go_by_its_name_its_prefetch_too(bar, tmp_path):
    found = {item.key: (item.value, item.source) for item in effective_settings({"PIZZERIA_BAR__GLASS_ML": "330"})}
    assert (found["bar.glass_ml"], found["bar.prefetch"]) == ((330, "PIZZERIA_BAR__GLASS_ML"), (30, "default"))
    assert bootstrap.bootstrap(settings_in(tmp_path, modules={"bar": {"prefetch": 3}})).endpoints["bar"].prefetch == 3


def test_a_fault_is_refused_for_a_module_that_is_not_in_the_list(tmp_path):
    with pytest.raises(ConfigError, match="bar.PourWater"):
        Settings.from_env({"PIZZERIA_FAULTS": "bar.PourWater:1", "PIZZERIA_VAR_DIR": str(tmp_path)})


def test_a_fault_of_the_new_module_is_accepted_and_one_of_a_type_it_does_not_handle_refused(bar, tmp_path):
    env = {"PIZZERIA_VAR_DIR": str(tmp_path), "PIZZERIA_BROKER_URL": "memory://",
           "PIZZERIA_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite"}
    settings = Settings.from_env({**env, "PIZZERIA_FAULTS": "bar.PourWater:1"})
    assert settings.faults == {"bar.PourWater": 1}
    assert "bar" in bootstrap.bootstrap(settings).endpoints
    nope = Settings.from_env({**env, "PIZZERIA_FAULTS": "bar.Nope:1"})
    with pytest.raises(ConfigError, match="Nope"):
        bootstrap.bootstrap(nope)


def test_a_command_sent_to_the_new_worker_alone_is_handled_and_its_row_written(bar, tmp_path):
    app = app_in(tmp_path)
    bus = bus_of(app, "bar")
    from bar.handlers import poured  # the package exists only in this test
    from bar.messages import PourWater, WaterPoured
    try:
        bus.send(PourWater(glass="glass-1"), correlation_id="round-1")
        envelope = bus.wait_for(WaterPoured, "round-1")
    finally:
        bus.close()
    assert envelope.payload == {"glass": "glass-1"}
    assert rows_of(app.engine, poured) == [("glass-1",)]


def rows_of(engine: Engine, table) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(table.c.glass))]

"""Settings a module declares (`Setting`, `Module.settings`): read strictly, each with one default,
a prefetch for every module, and the values reaching the module's own handlers."""

from __future__ import annotations

import pytest
from test_bus import app_in, bus_of

from pizzeria.kitchen.module import MODULE as KITCHEN
from pizzeria.messaging import ContractError, Endpoint, Module, Setting
from pizzeria.messaging.transport.crew import shares
from pizzeria.process_manager import views
from pizzeria.process_manager.messages import StartTableService
from pizzeria.waiter.messages import OrderLine


@pytest.mark.parametrize("kind, given, value", [
    (float, "2.5", 2.5), (float, 3, 3.0), (float, " 1e3 ", 1000.0),
    (int, "4", 4), (int, 5, 5), (int, 6.0, 6), (int, "-7", -7),
    (bool, "yes", True), (bool, "Off", False), (bool, 1, True), (bool, False, False),
    (str, "amqp://", "amqp://"),
])
def test_a_setting_of_a_plain_type_reads_the_environment_s_text_and_a_file_s_value(kind, given, value):
    found = Setting("knob", kind, value, "a knob").read(given)
    assert (found, type(found)) == (value, kind)


@pytest.mark.parametrize("kind, given, complaint", [
    (float, "soon", "='soon' is not a number"),
    (float, True, "=True is not a number"),
    (float, "nan", "='nan' is not a finite number"),
    (float, [1], "=[1] is not a number"),
    (int, "1.5", "='1.5' is not a whole number"),
    (int, True, "=True is not a number"),
    (bool, "maybe", "='maybe' is not a boolean (1/0, true/false, yes/no, on/off)"),
    (bool, 2, "=2 is not a boolean"),
    (str, "", "='' is not a text that is not empty"),
    (str, 3, "=3 is not a text"),
])
def test_a_value_of_the_wrong_type_is_refused_in_words_that_go_on_from_the_setting_s_name(kind, given, complaint):
    with pytest.raises(ValueError) as raised:
        Setting("knob", kind, kind(1), "a knob").read(given)
    assert str(raised.value).startswith(complaint)


def test_a_number_is_read_within_its_bounds_and_a_callable_type_reads_the_rest():
    assert Setting("knob", int, 5, "a knob", within=(1, 10)).read("10") == 10
    with pytest.raises(ValueError, match=r"^='11' must be between 1 and 10$"):
        Setting("knob", int, 5, "a knob", within=(1, 10)).read("11")
    with pytest.raises(ValueError, match=r"^=0.05 must be between 0.1 and 2.5$"):
        Setting("knob", float, 1.0, "a knob", within=(0.1, 2.5)).read(0.05)
    assert Setting("colours", lambda text: text.split("+"), "red", "colours").read("red+green") == ["red", "green"]


@pytest.mark.parametrize("declare, complaint", [
    (lambda: Setting("Bake", int, 1, "no"), "setting 'Bake': a setting's name is lower_case words"),
    (lambda: Setting("bake__seconds", int, 1, "no"), "setting 'bake__seconds': a setting's name is lower_case words"),
    (lambda: Setting("bake", int, 0, "no", within=(1, 9)), "setting bake: its default=0 must be between 1 and 9"),
    (lambda: Setting("bake", float, "soon", "no"), "setting bake: its default='soon' is not a number"),
    (lambda: Setting("name", str, "x", "no", within=(1, 9)), "setting name: only an int or a float is read within"),
])
def test_a_declaration_that_cannot_work_fails_where_it_is_made(declare, complaint):
    with pytest.raises(ContractError, match=f"^{complaint}"):
        declare()


def test_every_module_has_prefetch_and_concurrency_settings_the_prefetch_defaulting_to_its_declared_one():
    assert [(setting.name, setting.default) for setting in KITCHEN.all_settings] == [
        ("prefetch", 4), ("concurrency", 1), ("bake_seconds", 0.5), ("stock", {})]
    with pytest.raises(ContractError, match="module bar has two settings named prefetch"):
        Module("bar", KITCHEN.contract, lambda values: {}, settings=(Setting("prefetch", int, 9, "again"),))
    with pytest.raises(ContractError, match="setting prefetch: its default=0 must be between 1 and 1000"):
        Module("bar", KITCHEN.contract, lambda values: {}, prefetch=0)


def test_the_kitchen_s_stock_and_bake_time_are_its_own_and_reach_its_handlers(tmp_path):
    app = app_in(tmp_path, modules={"kitchen": {"stock": {"diavola": 0}}})
    with bus_of(app) as bus:
        bus.send(StartTableService("t1", order=(OrderLine("diavola", 1),)), correlation_id="visit-1")
        bus.run()
    assert views.visit(app.engine, "visit-1")["status"] == "cancelled"
    assert app.settings.modules["kitchen"] == {"prefetch": 4, "concurrency": 1, "bake_seconds": 0,
                                               "stock": {"diavola": 0}}
    app.engine.dispose()


def test_the_process_manager_s_resends_are_its_own_and_reach_its_saga(tmp_path):
    app = app_in(tmp_path, modules={"process_manager": {"step_deadline_seconds": 1, "step_resends": 0}})
    with bus_of(app, "process_manager") as bus:  # nobody answers
        bus.send(StartTableService("t1", order=(OrderLine("margherita", 1),)), correlation_id="visit-1")
        bus.run()
    report = views.visit(app.engine, "visit-1")
    assert (report["status"], report["reason"]) == ("cancelled", "no answer to awaiting_menu after 0 re-sends")
    app.engine.dispose()


def test_a_crew_gives_each_worker_the_endpoints_whose_concurrency_reaches_it():
    kitchen, menu, waiter = Endpoint("kitchen", {}, concurrency=3), Endpoint("menu", {}), Endpoint("waiter", {}, concurrency=2)
    assert [[each.name for each in share] for share in shares([kitchen, menu, waiter])] == [
        ["kitchen", "menu", "waiter"], ["kitchen", "waiter"], ["kitchen"]]

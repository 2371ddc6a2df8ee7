"""Contracts and endpoints refuse what cannot be routed or kept apart, messages a version they
cannot be at, and the modules of the pizza house agree with each other: what the saga steps on
is what its handlers take, and every command a worker owns has a handler."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pizzeria import modules
from pizzeria.config import Settings
from pizzeria.messaging import (
    Command,
    Contract,
    ContractError,
    Endpoint,
    Event,
)
from pizzeria.process_manager import saga
from pizzeria.process_manager.module import MODULE as PROCESS_MANAGER

SETTINGS = Settings("memory://", "sqlite://", Path("var"), modules={"kitchen": {"bake_seconds": 0}})


def event_named(name: str, **fields: type) -> type:
    """A new frozen event class called `name`, with these fields."""
    return dataclass(frozen=True)(type(name, (Event,), {"__annotations__": fields}))


def command_named(name: str, unique_by: tuple[str, ...] = (), **fields: type) -> type:
    """A new frozen command class called `name`, unique by `unique_by`, with these fields."""
    cls = type(name, (Command,), {"__annotations__": fields}, unique_by=unique_by)
    return dataclass(frozen=True)(cls)


def handle_nothing(_message: Any, _context: Any) -> None:
    """A handler that does nothing."""


# --- contracts and endpoints ----------------------------------------------------------------

def test_a_contract_refuses_a_second_message_with_the_same_name():
    contract = Contract("bar")
    contract.event(event_named("WaterPoured"))
    with pytest.raises(ContractError, match="WaterPoured"):
        contract.event(event_named("WaterPoured", glass=str))


def test_a_contract_refuses_a_command_named_like_one_of_its_events():
    contract = Contract("bar")
    contract.event(event_named("PourWater"))
    with pytest.raises(ContractError, match="PourWater"):
        contract.command(command_named("PourWater"))


def test_a_contract_routes_each_message_by_its_module_kind_and_name():
    contract = Contract("bar")
    pour, poured = contract.command(command_named("PourWater")), contract.event(event_named("WaterPoured"))
    assert (pour.route, poured.route) == ("bar.command.PourWater", "bar.event.WaterPoured")
    assert contract.messages == {"PourWater": pour, "WaterPoured": poured}


def test_a_command_class_that_does_not_declare_its_idempotency_key_is_refused_when_it_is_made():
    with pytest.raises(ContractError, match="idempotency key"):
        class PourWater(Command):
            glass: str


def test_a_command_unique_by_a_field_it_does_not_have_is_refused():
    with pytest.raises(ContractError, match="glas"):
        Contract("bar").command(command_named("PourWater", unique_by=("glas",), glass=str))


def test_a_command_cannot_be_registered_as_an_event_nor_an_event_as_a_command():
    contract = Contract("bar")
    with pytest.raises(ContractError):
        contract.event(command_named("PourWater"))
    with pytest.raises(ContractError):
        contract.command(event_named("WaterPoured"))


def test_an_endpoint_refuses_two_handled_types_with_the_same_name():
    one, other = Contract("bar"), Contract("pub")
    handlers = {one.event(event_named("WaterPoured")): handle_nothing,
                other.event(event_named("WaterPoured")): handle_nothing}
    with pytest.raises(ContractError, match="WaterPoured"):
        Endpoint("process_manager", handlers)


@pytest.mark.parametrize("version, upcasters, complaint", [
    (0, {}, "a whole number from 1, not 0"),
    ("2", {}, "a whole number from 1, not '2'"),
    (2, {2: dict}, "for n from 1 to 1, not from 2"),
    (3, {0: dict, 1: dict}, "for n from 1 to 2, not from 0"),
    (None, {1: dict}, "at version 1: an upcaster takes version n to n + 1 for n from 1 to 0"),
])
def test_a_message_refuses_a_version_that_is_no_whole_number_from_1_or_an_upcaster_it_cannot_have(
        version, upcasters, complaint):
    with pytest.raises(ContractError, match=re.escape(complaint)):
        class PourWater(Command, unique_by=(), version=version, upcasters=upcasters):
            glass: str


def test_a_message_that_declares_no_version_is_at_version_1_with_no_upcaster():
    poured = event_named("WaterPoured", glass=str)
    assert (poured.contract_version, dict(poured.upcasters)) == (1, {})


def test_a_message_at_version_3_may_upcast_from_some_older_versions_and_read_the_others_as_they_are():
    class PourWater(Command, unique_by=(), version=3, upcasters={2: dict}):
        glass: str
    assert (PourWater.contract_version, dict(PourWater.upcasters)) == (3, {2: dict})


# --- the pizza house's modules agree --------------------------------------------------------

def events_the_process_manager_handles() -> set[type]:
    return {cls for cls in PROCESS_MANAGER.handlers(SETTINGS.modules["process_manager"]) if issubclass(cls, Event)}


def test_every_event_the_process_manager_takes_moves_the_saga_at_some_stage():
    stepped = {event for _stage, event in saga.STEPS}
    assert events_the_process_manager_handles() - stepped == set()


def test_every_event_the_saga_steps_on_is_taken_by_the_process_manager():
    stepped = {event for _stage, event in saga.STEPS}
    assert stepped - events_the_process_manager_handles() == set()


@pytest.mark.parametrize("module", modules.declarations(), ids=modules.names())
def test_every_command_of_a_modules_contract_has_a_handler_in_that_module(module):
    assert set(module.contract.commands.values()) - set(module.handlers(SETTINGS.modules[module.name])) == set()


@pytest.mark.parametrize("module", [module for module in modules.declarations() if module.name != "process_manager"],
                         ids=[name for name in modules.names() if name != "process_manager"])
def test_a_worker_handles_only_the_commands_of_its_own_contract(module):
    assert set(module.handlers(SETTINGS.modules[module.name])) == set(module.contract.commands.values())


def test_every_modules_declared_name_is_its_name_in_the_list_of_modules():
    assert [module.name for module in modules.declarations()] == list(modules.names())


def test_every_modules_contract_is_named_after_the_module():
    assert [module.contract.module for module in modules.declarations()] == list(modules.names())

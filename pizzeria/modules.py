"""The modules of the pizza house. Queues, bindings, tables, the CLI's choices, the fault
setting's checks and the bench all derive from this list: a new worker is a package with a
`module.py` that declares its `MODULE` (with its settings, which go by its name), and one line here."""

from __future__ import annotations

import importlib
from typing import Any

MODULES = [
    "pizzeria.process_manager",
    "pizzeria.menu",
    "pizzeria.waiter",
    "pizzeria.kitchen",
]


def names() -> tuple[str, ...]:
    """The modules' names, which are their queues' too, without importing them."""
    return tuple(package.rsplit(".", 1)[-1] for package in MODULES)


def declarations() -> list[Any]:
    """Each module's declaration (`pizzeria.messaging.Module`), in the order of the list."""
    found = [importlib.import_module(f"{package}.module").MODULE for package in MODULES]
    for name, module in zip(names(), found):
        if name != module.name or name != module.contract.module:
            raise ValueError(f"the module of package {name} calls itself {module.name}, "
                             f"its contract {module.contract.module}")
    return found

"""The kitchen, declared once for the application, with its settings. Its oven holds four pizzas,
baked at once: a kitchen that took more would keep them waiting for a later bake while another
kitchen might be free."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pizzeria.messaging import Module, Setting

from .domain import metadata
from .handlers import handlers
from .messages import contract

LEFT = re.compile(r"^(?P<pizza>[a-z][a-z0-9_]{0,31}):(?P<left>\d{1,6})$")


def stock(value: object) -> dict[str, int]:
    """`diavola:3,marinara:0`, or a table `{diavola = 3, marinara = 0}`: pizzas the kitchen can still bake."""
    if isinstance(value, Mapping):
        parts = [f"{pizza}:{left}" for pizza, left in value.items()]
    elif isinstance(value, str):
        parts = [part for part in (part.strip() for part in value.split(",")) if part]
    else:
        raise ValueError(f"={value!r} is neither a text PIZZA:HOW_MANY,... nor a table")
    left = {}
    for part in parts:
        match = LEFT.match(part)
        if not match:
            raise ValueError(f": {part!r} is not PIZZA:HOW_MANY (say diavola:3)")
        left[match["pizza"]] = int(match["left"])
    return left


SETTINGS = (
    Setting("bake_seconds", float, 0.5, "how long the kitchen takes to bake one pizza", within=(0, 3600)),
    Setting("stock", stock, {}, "what the kitchen can still bake (PIZZA:HOW_MANY,...); others are unlimited"),
)

MODULE = Module("kitchen", contract, handlers=lambda values: handlers(values["bake_seconds"], values["stock"]),
                prefetch=4, tables=metadata, settings=SETTINGS)

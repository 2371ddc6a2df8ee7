"""The waiter as the client: what to order."""

from __future__ import annotations

import random

from .messages import MenuItem, OrderLine


class CannotOrder(ValueError):
    """An order that cannot be taken; its message is the reason told to the client."""


def choose_order(items: tuple[MenuItem, ...], wish: tuple[OrderLine, ...] | None,
                 seed: str) -> tuple[OrderLine, ...]:
    """The client's wish if every pizza is on the menu, else a choice seeded by `seed`."""
    on_menu = {item.name for item in items}
    if wish is None:
        return _random_order(sorted(on_menu), random.Random(seed))
    if not wish:
        raise CannotOrder("the order is empty")
    missing = sorted({line.pizza for line in wish} - on_menu)
    if missing:
        raise CannotOrder(f"not on the menu: {', '.join(missing)}")
    return wish


def _random_order(names: list[str], rng: random.Random) -> tuple[OrderLine, ...]:
    if not names:
        raise CannotOrder("the menu is empty")
    chosen = rng.sample(names, k=rng.randint(1, min(3, len(names))))
    return tuple(OrderLine(name, rng.randint(1, 2)) for name in sorted(chosen))

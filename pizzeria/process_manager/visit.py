"""A visit as the saga keeps it: where it stands, what was ordered and baked, and what each
waiting stage is waiting for (the commands that go again when its deadline passes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pizzeria.kitchen.messages import CancelPizza, DoPizza
from pizzeria.menu.messages import GetMenu, MenuItem
from pizzeria.waiter import messages as waiter

from .messages import OrderLine


class Status(StrEnum):
    """Where a visit stands as a whole."""

    IN_PROGRESS = "in_progress"
    FINISHED = "finished"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Stage(StrEnum):
    """The stages of a visit, in order; each one in progress names what the saga waits for."""

    AWAITING_MENU = "awaiting_menu"
    AWAITING_MENU_SHOWN = "awaiting_menu_shown"
    AWAITING_ORDER = "awaiting_order"
    BAKING = "baking"
    AWAITING_SERVED = "awaiting_served"
    AWAITING_PAYMENT = "awaiting_payment"
    AWAITING_THANKS = "awaiting_thanks"
    APOLOGISING = "apologising"
    FINISHED = "finished"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


IN_PROGRESS = Status.IN_PROGRESS


@dataclass(frozen=True)
class Pizza:
    """One pizza of the order, as the kitchen knows it."""

    kitchen_order_id: str
    pizza: str
    done: bool = False
    cancelled: bool = False  # cancelled, or could not be baked: never will be

    @property
    def resolved(self) -> bool:
        """Baked, or never to be."""
        return self.done or self.cancelled


@dataclass(frozen=True)
class Visit:
    """Everything the saga knows of one visit at one table."""

    visit_id: str
    table_id: str
    stage: Stage = Stage.AWAITING_MENU
    status: Status = Status.IN_PROGRESS
    reason: str | None = None
    wish: tuple[OrderLine, ...] | None = None
    menu: tuple[MenuItem, ...] = ()
    order: tuple[OrderLine, ...] = ()
    pizzas: tuple[Pizza, ...] = ()
    bill_cents: int | None = None
    paid: bool = False
    resends: int = 0  # of the current stage's commands, after its deadlines
    cancelling: bool = False  # compensating, for `reason`


@dataclass(frozen=True)
class Timing:
    """How long a step may go unanswered, and how many times its commands go again."""

    deadline_seconds: float = 30.0
    resends: int = 3


Decision = tuple[Visit, list[Any]]


def for_waiter(menu: tuple[MenuItem, ...]) -> tuple[waiter.MenuItem, ...]:
    """The menu as the waiter's contract spells it."""
    return tuple(waiter.MenuItem(item.name, item.price_cents) for item in menu)


def served(visit: Visit) -> tuple[Pizza, ...]:
    """The pizzas that were baked: the ones served and billed."""
    return tuple(pizza for pizza in visit.pizzas if pizza.done)


def bill(visit: Visit) -> int:
    """The price of what was served."""
    prices = {item.name: item.price_cents for item in visit.menu}
    return sum(prices[pizza.pizza] for pizza in served(visit))


def waiting_for(visit: Visit) -> list[Any]:
    """The commands the current stage waits on the answers of: what goes again when its
    deadline passes, or on `pizzeria visit retry`."""
    if visit.status != Status.IN_PROGRESS:
        return []
    if visit.stage == Stage.BAKING:
        waiting = [pizza for pizza in visit.pizzas if not pizza.resolved]
        if visit.cancelling:
            return [CancelPizza(pizza.kitchen_order_id) for pizza in waiting]
        return [DoPizza(pizza.kitchen_order_id, pizza.pizza) for pizza in waiting]
    steps: dict[Stage, Callable[[], list[Any]]] = {
        Stage.AWAITING_MENU: lambda: [GetMenu()],
        Stage.AWAITING_MENU_SHOWN: lambda: [waiter.ShowMenu(for_waiter(visit.menu))],
        Stage.AWAITING_ORDER: lambda: [waiter.PlaceOrder(for_waiter(visit.menu), visit.wish)],
        Stage.AWAITING_SERVED: lambda: [waiter.ServePizzas(tuple(pizza.pizza for pizza in served(visit)))],
        Stage.AWAITING_PAYMENT: lambda: [waiter.ShowBill(visit.bill_cents or 0)],
        Stage.AWAITING_THANKS: lambda: [waiter.ThankClient()],
        Stage.APOLOGISING: lambda: [waiter.Apologise(visit.reason or "")],
    }
    return steps[visit.stage]()

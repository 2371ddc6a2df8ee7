"""The menu's handlers."""

from __future__ import annotations

from pizzeria.messaging import Context, Handler

from .domain import MENU
from .messages import GetMenu, MenuGot


def get_menu(_command: GetMenu, context: Context) -> None:
    """Answer with today's menu."""
    context.send(MenuGot(items=MENU))


HANDLERS: dict[type, Handler] = {GetMenu: get_menu}

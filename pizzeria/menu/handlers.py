"""The menu's handlers."""

from __future__ import annotations

from pizzeria.messaging import Handler, HandlerContext

from .domain import MENU
from .messages import GetMenu, MenuGot


def get_menu(_command: GetMenu, context: HandlerContext) -> None:
    """Answer with today's menu."""
    context.send(MenuGot(items=MENU))


HANDLERS: dict[type, Handler] = {GetMenu: get_menu}

"""The menu, declared once for the application."""

from pizzeria.messaging import Module

from .handlers import HANDLERS
from .messages import contract

MODULE = Module("menu", contract, handlers=lambda _settings: HANDLERS)

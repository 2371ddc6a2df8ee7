"""The kitchen, declared once for the application. Its oven holds four pizzas, baked at once:
a kitchen that took more would keep them waiting for a later bake while another kitchen might
be free."""

from pizzeria.messaging import Module

from .domain import metadata
from .handlers import handlers
from .messages import contract

MODULE = Module("kitchen", contract, handlers=lambda settings: handlers(settings.bake_seconds, settings.stock),
                prefetch=4, tables=metadata)

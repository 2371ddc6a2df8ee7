"""The mailer, declared once for the helpdesk."""

from pizzeria.messaging import Module

from .domain import metadata
from .handlers import HANDLERS
from .messages import contract

MODULE = Module("mailer", contract, handlers=lambda _settings: HANDLERS, tables=metadata)

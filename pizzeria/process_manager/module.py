"""The process manager, declared once for the application: it takes StartTableService and
every event of the workers its saga talks to."""

from pizzeria.messaging import Module

from .handlers import HANDLERS
from .messages import contract
from .repository import metadata

MODULE = Module("process_manager", contract, handlers=lambda _settings: HANDLERS, tables=metadata)

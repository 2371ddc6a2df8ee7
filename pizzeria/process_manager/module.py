"""The process manager, declared once for the application: it takes StartTableService and
every event of the workers its saga talks to."""

from pizzeria.messaging import Module

from .handlers import handlers
from .messages import contract
from .repository import metadata
from .saga import Timing

MODULE = Module("process_manager", contract, tables=metadata, handlers=lambda settings: handlers(
    Timing(settings.step_deadline_seconds, settings.step_resends)))

"""The process manager, declared once for the application, with its settings: it takes
StartTableService and every event of the workers its saga talks to."""

from pizzeria.messaging import Module, Setting

from .handlers import handlers
from .messages import contract
from .repository import metadata
from .saga import TIMING, Timing

SETTINGS = (
    Setting("step_deadline_seconds", float, TIMING.deadline_seconds, "how long a step may go unanswered before "
            "its commands go again", within=(0.1, 86400)),
    Setting("step_resends", int, TIMING.resends, "how many times a step's commands go again before the visit is "
            "compensated", within=(0, 100)),
)

MODULE = Module("process_manager", contract, tables=metadata, settings=SETTINGS, handlers=lambda values: handlers(
    Timing(values["step_deadline_seconds"], values["step_resends"])))

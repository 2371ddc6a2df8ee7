"""Failures on purpose (PIZZERIA_FAULTS), to watch retries, crash loops and the failed store at work."""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from typing import Any

from pizzeria.config import ConfigError
from pizzeria.messaging import Handler, HandlerContext
from pizzeria.settings_table import KILL, Down


class InjectedFault(RuntimeError):
    """A failure asked for by PIZZERIA_FAULTS."""


def with_faults(queue: str, handlers: Mapping[type, Handler], faults: Mapping[str, int | Down]) -> dict:
    """`handlers`, where each named in `faults` as `queue.Type` fails its first N attempts, kills
    its process each time (KILL), or fails every try for a while (Down)."""
    wanted = {key.split(".", 1)[1]: times for key, times in faults.items() if key.startswith(f"{queue}.")}
    unknown = set(wanted) - {cls.__name__ for cls in handlers}
    if unknown:
        raise ConfigError(f"PIZZERIA_FAULTS: {queue} handles no {', '.join(sorted(unknown))}")
    return {cls: _faulty(handler, wanted[cls.__name__]) if cls.__name__ in wanted else handler
            for cls, handler in handlers.items()}


def _faulty(handler: Handler, times: int | Down) -> Handler:
    if isinstance(times, Down):
        return _down(handler, times.seconds)
    return _killing() if times == KILL else _failing(handler, times)


def _down(handler: Handler, seconds: float) -> Handler:
    first_try: list[float] = []

    def failing_for_a_while(message: Any, context: HandlerContext) -> None:
        now = context.clock.monotonic()
        first_try[:] = first_try or [now]
        if now < first_try[0] + seconds:
            raise InjectedFault(f"{type(message).__name__} fails every try for {seconds:g} s (PIZZERIA_FAULTS), "
                                f"{now - first_try[0]:.1f} s gone")
        handler(message, context)
    return failing_for_a_while


def _killing() -> Handler:
    def killing_its_process(_message: Any, _context: HandlerContext) -> None:
        os.kill(os.getpid(), signal.SIGKILL)  # as a segfault or the OOM killer would: no except runs
    return killing_its_process


def _failing(handler: Handler, times: int) -> Handler:
    def failing_first_attempts(message: Any, context: HandlerContext) -> None:
        if context.attempt <= times:
            raise InjectedFault(f"{type(message).__name__} fails its first {times} attempts "
                                f"(PIZZERIA_FAULTS), this is attempt {context.attempt}")
        handler(message, context)
    return failing_first_attempts

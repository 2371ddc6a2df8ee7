"""structlog set up once per process: readable lines on a terminal, JSON lines on request."""

from __future__ import annotations

import logging
import sys

import structlog
from structlog.typing import Processor

from pizzeria.messaging import tracing
from pizzeria.messaging.admin import hide_password


class _Redacting(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return hide_password(super().format(record))


def _redacted(renderer):
    """A renderer whose lines have passwords hidden, tracebacks included."""
    return lambda logger, method, event: hide_password(renderer(logger, method, event))


def configure(json_lines: bool) -> None:
    """Log to stderr, passwords hidden; JSON lines if `json_lines`, else a console format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Redacting("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    shared: list[Processor] = [structlog.contextvars.merge_contextvars, tracing.add_trace_ids,
                               structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True)]
    ending: list[Processor]
    if json_lines:
        ending = [structlog.processors.format_exc_info, _redacted(structlog.processors.JSONRenderer())]
    else:
        ending = [_redacted(structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()))]
    structlog.configure(
        processors=shared + ending,
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )

"""structlog set up once per process: readable lines on a terminal, JSON lines on request."""

from __future__ import annotations

import logging
import sys

import structlog


def configure(json_lines: bool) -> None:
    """Log to stderr; JSON lines if `json_lines`, else a console format."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    shared = [structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
              structlog.processors.TimeStamper(fmt="iso", utc=True)]
    if json_lines:
        ending = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        ending = [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    structlog.configure(
        processors=shared + ending,
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )

"""What the core calls things in one application: its exchange, queues, headers and loggers."""

from __future__ import annotations

from dataclasses import dataclass

import structlog


@dataclass(frozen=True)
class Names:
    """The names the core derives from the application's name: exchange `app`, queues
    `app.<module>`, headers `x-app-<what>`, loggers `app.<part>`."""

    app: str

    @property
    def header_prefix(self) -> str:
        """What every header the core adds starts with."""
        return f"x-{self.app}-"

    def header(self, what: str) -> str:
        """The name of one of the core's own headers."""
        return f"{self.header_prefix}{what}"

    def queue(self, module: str) -> str:
        """The queue of a module."""
        return f"{self.app}.{module}"

    @property
    def dead_letters(self) -> str:
        """The exchange and queue where the broker puts what it gave up delivering."""
        return f"{self.app}.dead_letters"

    def logger(self, part: str) -> structlog.typing.FilteringBoundLogger:
        """The logger of one part of the core."""
        return structlog.get_logger(f"{self.app}.{part}")  # type: ignore[no-any-return]

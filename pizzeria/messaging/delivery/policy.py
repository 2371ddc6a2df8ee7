"""Retry policy, and the headers that carry a message's tries from one delivery to the next."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..contracts.names import Names


@dataclass(frozen=True)
class RetryPolicy:
    """Each delivery is tried 1 + `immediate` times in a row; then, up to `delayed` times, the
    message comes back after a delay that starts at `first_delay` and grows by `factor`. A
    message delivered `delivery_limit` times and never settled (it kills its consumer, say)
    is not tried again."""

    immediate: int = 2
    delayed: int = 2
    first_delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 60.0
    delivery_limit: int = 5

    def delay(self, round_done: int) -> float:
        """Seconds to wait before delayed round `round_done + 1`."""
        return min(self.max_delay, self.first_delay * self.factor ** round_done)


@dataclass(frozen=True)
class Tries:
    """What earlier deliveries of a message went through, read from its headers."""

    attempts: int = 0
    rounds: int = 0
    first_failed_at: float | None = None
    last_error: str | None = None

    @classmethod
    def of(cls, headers: Mapping[str, Any], names: Names) -> Tries:
        """Read the headers; missing or garbled values count as none."""
        last_error = headers.get(names.header("last-error"))
        return cls(_number(headers.get(names.header("attempts")), int) or 0,
                   _number(headers.get(names.header("retry-round")), int) or 0,
                   _number(headers.get(names.header("first-failed-at")), float),
                   str(last_error) if last_error is not None else None)

    def next_round(self, headers: Mapping[str, Any], names: Names, attempts: int, failed_at: float,
                   error: str) -> dict[str, Any]:
        """The headers of the copy that comes back for the next delayed round, after `error`."""
        return {**headers, names.header("attempts"): attempts, names.header("retry-round"): self.rounds + 1,
                names.header("first-failed-at"): self.first_failed_at or failed_at,
                names.header("last-error"): error[:255]}

    @staticmethod
    def forgotten(headers: Mapping[str, Any], names: Names) -> dict[str, Any]:
        """`headers` without the tries they carry."""
        ours = {names.header(what) for what in ("attempts", "retry-round", "first-failed-at", "last-error")}
        return {key: value for key, value in headers.items() if key not in ours}


def _number(value: Any, kind: type) -> Any:
    try:
        return kind(value) if value is not None else None
    except (TypeError, ValueError, ArithmeticError):
        return None

"""Where the core and its handlers read the time: the system's clock, or a virtual one that a
simulator moves at will, so that a run can jump ahead and happen again exactly."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """The time as the core reads it."""

    def time(self) -> float:
        """Seconds since the epoch."""

    def monotonic(self) -> float:
        """Seconds that only ever grow, for measuring waits."""

    def sleep(self, seconds: float) -> None:
        """Let `seconds` pass."""


class SystemClock:
    """The machine's clock."""

    def time(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def monotonic(self) -> float:
        """The machine's monotonic clock."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Sleep for real; no time at all is no sleep (time.sleep(0) would give the CPU away)."""
        if seconds > 0:
            time.sleep(seconds)


SYSTEM = SystemClock()


class VirtualClock:
    """A clock that moves only when told to, or when someone sleeps on it."""

    def __init__(self, start: float = 1_700_000_000.0):
        self.now = start

    def time(self) -> float:
        """The virtual time."""
        return self.now

    def monotonic(self) -> float:
        """The virtual time, which never goes back."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Move the time on by `seconds`, at once."""
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move the time on by `seconds` (never back)."""
        self.now += max(0.0, seconds)


def iso(at: float) -> str:
    """A time in seconds since the epoch as an ISO 8601 string in UTC."""
    return datetime.fromtimestamp(at, UTC).isoformat()

"""Waiting, idle, for another process to commit to the embedded broker's file: inotify on its
write-ahead log, which every commit writes to, where Linux offers it (no CPU while idle, woken
at once); elsewhere a look at `PRAGMA data_version` every few milliseconds."""

from __future__ import annotations

import ctypes
import os
import select
from pathlib import Path

from ...contracts.clock import Clock
from .store import Store

IN_MODIFY = 0x2
POLL_FIRST, POLL_MOST = 0.0005, 0.005  # the look at the file's version, more seldom as it waits


class Watcher:
    """Tells when the file changed; `forget` what changed so far before looking for work."""

    def __init__(self, path: Path, clock: Clock):
        self.store = Store(path)  # holds the file open, and so its write-ahead log
        self.clock = clock
        self.fd = _inotify(path.with_name(path.name + "-wal"))
        self.version = self.store.data_version()

    def forget(self) -> None:
        """Take note of every change so far."""
        if self.fd is None:
            self.version = self.store.data_version()
            return
        try:
            while os.read(self.fd, 4096):
                pass
        except BlockingIOError:
            pass

    def wait(self, seconds: float) -> None:
        """Return once the file changed since `forget`, or `seconds` passed."""
        if self.fd is not None:
            select.select([self.fd], [], [], seconds)
            return
        deadline, pause = self.clock.monotonic() + seconds, POLL_FIRST
        while self.store.data_version() == self.version and self.clock.monotonic() < deadline:
            self.clock.sleep(pause)
            pause = min(POLL_MOST, pause * 2)

    def close(self) -> None:
        """Stop watching."""
        if self.fd is not None:
            os.close(self.fd)
        self.store.close()


def _inotify(path: Path) -> int | None:
    """A non-blocking inotify descriptor watching `path` for writes, or None without inotify."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, AttributeError):
        return None
    if fd < 0:
        return None
    if libc.inotify_add_watch(fd, os.fsencode(path), IN_MODIFY) < 0:
        os.close(fd)
        return None
    return int(fd)

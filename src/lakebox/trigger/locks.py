"""One watcher per lake: an exclusive ``flock`` on ``_lakebox/watch.lock``.

``flock`` locks belong to the open file description and the kernel drops them when the holder dies, even on
SIGKILL, so a crashed watcher never leaves a stale lock behind: the PID written into the file is only
information for the error message, never trusted for mutual exclusion.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import logging
import os
import socket
from pathlib import Path
from types import TracebackType
from typing import Any

from lakebox.core.errors import ConflictError
from lakebox.store.diskspace import disk_full

LOCK_KEY = "_lakebox/watch.lock"


log = logging.getLogger("lakebox.trigger")

class LockedError(ConflictError, RuntimeError, code="LakeLocked", exit_code=2):
    """Another process holds the lake's watch lock; the message names its PID."""

    def __init__(self, path: Path, holder: dict[str, Any]) -> None:
        self.path = path
        self.holder = holder
        self.pid: int | None = holder.get("pid")
        who = f"pid {self.pid}" if self.pid else "another process"
        if holder.get("host") and holder.get("host") != socket.gethostname():
            who += f" on {holder['host']}"
        since = f" since {holder['started_at']}" if holder.get("started_at") else ""
        super().__init__(
            f"another lakebox watch ({who}{since}) is already watching this lake (lock {path}); "
            "stop it first, or use that one"
        )


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 4096).decode("utf-8", errors="replace")
        data = json.loads(text) if text.strip() else {}
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}  # the holder may be rewriting the file right now; the error message just says less


class WatchLock:
    """An exclusive, non-blocking, crash-released lock file. Use as a context manager or acquire/release."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise :class:`LockedError` at once (never waits: a second watcher is refused)."""
        if self._fd is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            full = disk_full(exc, f"the watcher's lock file {self.path.name}", self.path.parent)
            if full is not None:
                raise full from exc
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LockedError(self.path, holder) from None
        except BaseException:
            os.close(fd)
            raise
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                os.close(fd)
                raise
            # The flock is what excludes a second watcher; naming the holder is a courtesy that a full
            # disk cannot afford. Files fail with a clear reason (and are retried) until space is freed.
            log.warning("disk full: the watcher lock %s holds but cannot name its holder", self.path)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # a released lock names nobody
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> WatchLock:
        self.acquire()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def lock_holder(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Who holds the lock at ``path`` (``{"pid": ...}``), or None when nobody does. For ``status`` displays."""
    p = Path(path)
    if not p.exists():
        return None
    fd = os.open(p, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd) or {"pid": None}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)

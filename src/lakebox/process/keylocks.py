"""One lock per raw key: the writes and the processing of one object never interleave within a process.

Under ``lakebox up`` three paths can reach the same raw object at once: an upload (which writes the object
and processes it), ``ingest``, and the watcher (which sees the new file and processes it too). Without a
common lock the processor read the ETag of one version and the bytes of another, and two uploads of one
name answered with each other's counts. Every in-process path that writes or processes a raw object holds
its key's lock; the second comer then finds the version already processed (same ETag) and does nothing.
AWS Lambda has no such lock (each invocation is its own process); there the ETag check alone applies.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class KeyLocks:
    """Reentrant per-key locks, created on first use and dropped when nobody holds or waits for them."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.RLock, int]] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Hold ``key``'s lock for the duration of the ``with`` block (reentrant within a thread)."""
        with self._guard:
            lock, users = self._locks.get(key, (threading.RLock(), 0))
            self._locks[key] = (lock, users + 1)
        lock.acquire()
        try:
            yield
        finally:
            lock.release()
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        """Keys currently held or waited for (for tests and status)."""
        with self._guard:
            return len(self._locks)

"""Result caching for the dashboard, keyed by data version, with single-flight fills and background warming.

The dashboard never runs a query twice for the same data: every cached value is stored under the *data
version* current when it was computed, and the first request that sees a new version drops the old entries.
Concurrent requests for a value being computed wait for that one computation instead of starting their own
(single flight), so a burst of clients right after new data costs one query per panel, not one per client.

The data version is the catalog's ``data_version()`` (it changes whenever a table changes, whichever process
changed it) plus a local epoch that the app bumps after every processed file (runs that change no table,
such as a rejected upload, still change what the pipeline view shows).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class DataVersion:
    """The dashboard's version token: ``"<catalog data_version>.<local epoch>"``."""

    def __init__(self, catalog_version: Callable[[], int]) -> None:
        self._catalog_version = catalog_version
        self._epoch = 0
        self._lock = threading.Lock()

    def current(self) -> str:
        with self._lock:
            epoch = self._epoch
        return f"{self._catalog_version()}.{epoch}"

    def bump(self, *_: Any) -> None:
        """Mark the data as changed (called after every processed file)."""
        with self._lock:
            self._epoch += 1


class VersionGate:
    """Lets queries run together only while they all see the same catalog version.

    The engine rebuilds (and closes) its DuckDB connection when the catalog version changes; DuckDB refuses
    to close a connection whose cursors are still running ("connection is busy with another call"). So a
    query that sees a new version waits here until the queries still running on the old one have finished.
    """

    def __init__(self, current: Callable[[], int]) -> None:
        self._current = current
        self._cond = threading.Condition()
        self._running: dict[int, int] = {}

    @contextmanager
    def hold(self) -> Iterator[int]:
        with self._cond:
            while True:
                v = self._current()
                if all(k == v for k, n in self._running.items() if n):
                    break
                self._cond.wait(timeout=1.0)  # woken by release; the timeout re-reads the version
            self._running[v] = self._running.get(v, 0) + 1
        try:
            yield v
        finally:
            with self._cond:
                self._running[v] -= 1
                if not self._running[v]:
                    del self._running[v]
                self._cond.notify_all()


class _Slot(Generic[T]):
    __slots__ = ("done", "value", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: T | None = None
        self.error: BaseException | None = None


class ResultCache:
    """Values computed once per data version, with single-flight fills and an LRU bound."""

    def __init__(self, version: Callable[[], str], max_entries: int = 64) -> None:
        self._version = version
        self._max = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, _Slot[Any]] = OrderedDict()
        self._seen: str | None = None
        self.hits = 0
        self.misses = 0

    def version(self) -> str:
        return self._version()

    def get(self, key: Hashable, compute: Callable[[], T], version: str | None = None) -> T:
        """The value for ``key`` at the current data version, computing it (once) if needed.

        A computation that raises is not cached: the next request tries again.
        """
        v = version if version is not None else self._version()
        full = (v, key)
        owner = False
        with self._lock:
            if v != self._seen:
                self._entries.clear()
                self._seen = v
            slot = self._entries.get(full)
            if slot is None:
                slot = _Slot()
                self._entries[full] = slot
                owner = True
                self.misses += 1
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(full)
                self.hits += 1
        if owner:
            try:
                slot.value = compute()
            except BaseException as exc:
                slot.error = exc
                with self._lock:
                    if self._entries.get(full) is slot:
                        del self._entries[full]
                raise
            finally:
                slot.done.set()
        else:
            slot.done.wait()
            if slot.error is not None:
                raise slot.error
        return slot.value  # type: ignore[return-value]

    def discard(self, key: Hashable) -> None:
        """Forget ``key`` at every version (a value that must not be served again, such as a system error)."""
        with self._lock:
            for full in [k for k in self._entries if k[1] == key]:  # type: ignore[index]
                del self._entries[full]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._seen = None


class Warmer:
    """Recomputes the default views in the background after new data, so the next page view finds them ready."""

    def __init__(self, jobs: Callable[[], Iterable[Callable[[], Any]]], workers: int = 3) -> None:
        self._jobs = jobs
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lakebox-warm")
        self._lock = threading.Lock()

    def warm(self, *_: Any) -> None:
        """Schedule every job; each one fills the cache through ``ResultCache.get`` (single flight)."""
        with self._lock:
            for job in self._jobs():
                self._pool.submit(self._run, job)

    @staticmethod
    def _run(job: Callable[[], Any]) -> None:
        try:
            job()
        except Exception:  # a failing warm-up must not kill the pool; the request path reports the error
            log.exception("cache warm-up failed")

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

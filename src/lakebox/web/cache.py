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
_background = threading.local()


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
        self._foreground = 0
        self._idle = threading.Condition()
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
            fg = not getattr(_background, "on", False)
            if fg:
                with self._idle:
                    self._foreground += 1
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
                if fg:
                    with self._idle:
                        self._foreground -= 1
                        self._idle.notify_all()
        else:
            slot.done.wait()
            if slot.error is not None:
                raise slot.error
        return slot.value  # type: ignore[return-value]

    def peek(self, key: Hashable) -> Any | None:
        """The value for ``key`` if it is already computed at the current version; never computes."""
        v = self._version()
        with self._lock:
            slot = self._entries.get((v, key)) if v == self._seen else None
        if slot is None or not slot.done.is_set() or slot.error is not None:
            return None
        return slot.value

    def wait_idle(self, timeout: float) -> None:
        """Wait (up to ``timeout``) until no request is computing a value: background work yields to them."""
        with self._idle:
            self._idle.wait_for(lambda: self._foreground == 0, timeout=timeout)

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
    """Recomputes the default views in the background after new data, so the next page view finds them ready.

    One batch at a time, one job at a time, and each job first lets requests that are computing something
    finish (``before_job``): a request for a panel never queues behind the warm-up of the others.
    """

    def __init__(self, jobs: Callable[[], Iterable[Callable[[], Any]]],
                 before_job: Callable[[], None] | None = None) -> None:
        self._jobs = jobs
        self._before = before_job
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lakebox-warm")
        self._lock = threading.Lock()
        self._closed = False
        self._scheduled = False
        self._again = False

    def warm(self, *_: Any) -> None:
        """Schedule a warm-up batch (or one more pass, if a batch is running)."""
        with self._lock:
            if self._closed:
                return
            if self._scheduled:
                self._again = True
                return
            self._scheduled = True
        self._pool.submit(self._batch)

    def _batch(self) -> None:
        _background.on = True
        while True:
            with self._lock:
                self._again = False
            for job in self._jobs():
                if self._closed:
                    return
                if self._before is not None:
                    self._before()
                try:
                    job()
                except Exception:  # a failing warm-up must not stop the others; requests report the error
                    log.exception("cache warm-up failed")
            with self._lock:
                if not self._again or self._closed:
                    self._scheduled = False
                    return

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)

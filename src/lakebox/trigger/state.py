"""The watcher's data: the records of its work, and the state its parts share.

``JobResult``/``DrainResult`` are what callers get back. ``Candidate`` (a key waiting for its upload to land)
and ``Job`` (a key dispatched to the worker pool) are internal. ``WatcherState`` declares the configuration
and the lock-protected state that ``Watcher`` creates and its parts (``sources``, ``scheduler``, ``workers``)
work on (most of it guarded by ``_lock``/``_cv``).
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakebox.core.runs import RunRecord
from lakebox.lake import Lake
from lakebox.trigger.landing import Signature
from lakebox.trigger.locks import WatchLock


@dataclass
class JobResult:
    """What one job did to one key.

    ``status``: ok, rejected, skipped (this version was already processed, or is dead-lettered), ignored
    (no dataset owns it), failed (retries exhausted: dead-lettered), deleted (raw gone, outputs removed) or
    gone (raw gone, outputs kept).
    """

    key: str
    status: str
    run: RunRecord | None = None
    error: str | None = None
    attempts: int = 1


@dataclass
class DrainResult:
    """The outcome of ``run_once``: every job result, and whether the lake was drained before the timeout."""

    results: list[JobResult]
    idle: bool

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def rejected(self) -> list[JobResult]:
        return [r for r in self.results if r.status == "rejected"]

    @property
    def ok(self) -> bool:
        """True when everything pending was processed and nothing failed or was rejected."""
        return self.idle and not self.failed and not self.rejected


@dataclass
class Candidate:
    """A key seen but not yet dispatched: we wait here until its upload has landed."""

    sig: Signature | None = None
    since: float = 0.0  # monotonic time of the last signature change we observed
    landed: bool = False  # renamed into place: complete by the upload convention, no settle wait
    redrive: bool = False  # process even if this version is dead-lettered
    next_check: float = 0.0


@dataclass
class Job:
    key: str
    attempt: int = 1  # the attempt about to run (1 = first delivery)
    etag: str | None = None  # the version earlier attempts failed on
    redrive: bool = False
    due: float = 0.0
    seq: int = field(default_factory=itertools.count().__next__)


class WatcherState:
    """The configuration and shared state of a ``Watcher``, declared for the mixins that make it up.

    ``Watcher.__init__`` assigns every attribute; each mixin only reads and updates them.
    """

    # Configuration (fixed after __init__).
    lake: Lake
    workers: int
    rescan_seconds: float
    settle_seconds: float
    retry_delays: tuple[float, ...]
    retry_failed: bool
    deliveries: int
    observe: bool
    delete_outputs: bool
    root: Path
    bucket: str
    _tick: float
    _detect_writers: bool

    # Shared state.
    _lock: threading.Lock
    _cv: threading.Condition
    _candidates: dict[str, Candidate]
    _busy: dict[str, Job]  # queued, running or waiting for a retry: one job per key
    _dirty: dict[str, bool]  # hints that arrived while busy -> one follow-up check (landed?)
    _delayed: list[tuple[float, int, Job]]
    _queue: queue.Queue[Job | None]
    _running: int
    _counts: Counter[str]
    _failed_etags: dict[str, str | None]
    _results: deque[JobResult]
    _listeners: list[Callable[[JobResult], None]]
    _stopping: threading.Event
    _threads: list[threading.Thread]
    _observer: Any
    _lockfile: WatchLock
    _periodic: bool
    _next_rescan: float
    _started: bool

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    if TYPE_CHECKING:  # implemented by the mixins, called across them

        def _hint(self, key: str, *, landed: bool = False, redrive: bool = False) -> None: ...

        def _request_rescan(self) -> None: ...

        def _rescan(self, redrive: bool = False) -> None: ...

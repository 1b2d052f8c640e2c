"""The watcher's records and the two small thread-safe objects its parts share.

``JobResult``/``DrainResult`` are what callers get back. ``Candidate`` (a key waiting for its upload to land)
and ``Job`` (a key dispatched to the worker pool) travel between the scheduler and the workers.
``Counters`` are the watcher's statistics; ``Results`` keeps recent job results and calls listeners.
Each object owns its lock; nothing here is declared for another class to fill in.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from lakebox.core.runs import RunRecord
from lakebox.trigger.landing import Signature

log = logging.getLogger("lakebox.trigger")

#: Every counter ``Watcher.stats()`` reports, zero until something happens.
COUNTERS = ("events", "hints", "coalesced", "rescans", "dispatched", "ok", "rejected", "skipped", "ignored",
            "retried", "failed", "deleted", "gone", "deferred_open", "errors")


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


class Counters:
    """The watcher's statistics, safe to bump from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            out = dict.fromkeys(COUNTERS, 0)
            out.update(self._counts)
            return out


class Results:
    """The most recent job results (all of them while draining), and the listeners told about each."""

    def __init__(self, keep: int | None = 1000) -> None:
        self._lock = threading.Lock()
        self._results: deque[JobResult] = deque(maxlen=keep)
        self._listeners: list[Callable[[JobResult], None]] = []

    def keep_all(self) -> None:
        """Start an unbounded record (``run_once``: the caller wants every result)."""
        with self._lock:
            self._results = deque()

    def listen(self, listener: Callable[[JobResult], None]) -> None:
        self._listeners.append(listener)

    def record(self, result: JobResult) -> None:
        with self._lock:
            self._results.append(result)

    def tell(self, result: JobResult) -> None:
        """Call every listener; a broken listener is logged and never breaks processing."""
        for fn in list(self._listeners):
            try:
                fn(result)
            except Exception:  # noqa: BLE001 - a broken listener must not break processing
                log.exception("watcher listener failed")

    def snapshot(self) -> list[JobResult]:
        with self._lock:
            return list(self._results)

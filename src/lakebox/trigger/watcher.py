"""The embedded "S3 event notification": watch ``raw/`` and invoke the handler, exactly-once in effect.

How a file travels through the watcher::

    watchdog event / periodic rescan / deliver(event)
        -> hint(key)            filtered like the original trigger: prefix raw/, suffix .csv
        -> candidate            waits until the upload has landed (see ``landing``)
        -> job (per key)        bounded worker pool; a key is never in two workers; repeats coalesce
        -> Lake.handle_event    the same S3-shaped ObjectCreated event Lambda would get
        -> ok / rejected / skipped, or retry after retry_delays, then a dead letter in _lakebox/failed/

The watcher is *level-triggered*: a job does not trust the event that caused it, it looks at the key's
current state (exists? which ETag?) and makes the lake match it. That is why duplicate events, rescans and
restarts are harmless: a version already processed is a no-op in the handler's ledger, a newer version is
processed and replaces the output (output keys are derived from raw keys), and a vanished key is a delete.

Crash safety comes from the layers below (atomic temp+rename writes, SQLite transactions, the ledger being
written after the outputs) plus recovery at start-up: the catalog is reconciled with ``processed/`` (a
crash between the ledger write and the catalog update would otherwise leave it stale), stale temp files of
killed writers are swept, and raw/ is rescanned against the ledger (``Lake.pending()``), so unfinished work
is picked up and finished.

The engine is split by role: ``sources`` (start-up recovery, the file observer, the rescan), ``scheduler``
(coalescing, settle detection, retry timers), ``workers`` (the worker pool running jobs through the handler)
and ``state`` (result records and the shared state); ``Watcher`` here combines them behind the public API.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lakebox.core.errors import LakeboxError
from lakebox.events import parse_event
from lakebox.lake import Lake
from lakebox.trigger.landing import can_detect_writers
from lakebox.trigger.locks import LOCK_KEY, WatchLock
from lakebox.trigger.scheduler import SchedulerMixin
from lakebox.trigger.sources import STALE_TEMP_SECONDS, SourcesMixin
from lakebox.trigger.state import Candidate, DrainResult, Job, JobResult
from lakebox.trigger.workers import WorkersMixin

__all__ = ["STALE_TEMP_SECONDS", "DrainResult", "JobResult", "WatchError", "Watcher"]

log = logging.getLogger("lakebox.trigger")


class WatchError(LakeboxError, RuntimeError, code="WatchRefused", exit_code=2):
    """The watcher cannot run on this lake; the message says why."""


class Watcher(SourcesMixin, SchedulerMixin, WorkersMixin):
    """Watches a local lake's ``raw/`` and processes what lands there. Thread-safe; one per lake.

    ``start()``/``stop()`` run it in the background (``lakebox watch``, ``serve --watch``); ``run_once()``
    processes everything pending and returns (``lakebox watch --once``); ``drain()`` waits for a running
    watcher to go idle. Constructor arguments override the lake's settings; ``deliveries`` > 1 delivers
    every event that many times, to exercise duplicate handling as S3's at-least-once delivery would.
    """

    def __init__(
        self,
        lake: Lake,
        *,
        workers: int | None = None,
        rescan_seconds: float | None = None,
        settle_seconds: float | None = None,
        retry_delays: tuple[float, ...] | None = None,
        retry_failed: bool = False,
        deliveries: int = 1,
        observe: bool = True,
    ) -> None:
        s = lake.settings
        self.lake = lake
        self.workers = max(1, workers if workers is not None else s.workers)
        self.rescan_seconds = rescan_seconds if rescan_seconds is not None else s.rescan_seconds
        self.settle_seconds = max(0.0, settle_seconds if settle_seconds is not None else s.settle_seconds)
        self.retry_delays = tuple(retry_delays if retry_delays is not None else s.retry_delay_seconds)
        self.retry_failed = retry_failed
        self.deliveries = max(1, deliveries)
        self.observe = observe
        self.delete_outputs = s.delete_outputs_on_raw_delete
        raw = lake.store.local_path("raw/")
        if raw is None:
            raise WatchError(
                f"lakebox watch needs a local lake folder, not {lake.store.url}: on AWS, S3 event "
                "notifications invoke the deployed Lambda directly"
            )
        self.root = Path(raw).parent
        self.bucket = self.root.name or "lakebox"
        self._tick = max(0.005, min(0.05, self.settle_seconds / 4))
        self._detect_writers = can_detect_writers()

        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)
        self._candidates: dict[str, Candidate] = {}
        self._busy: dict[str, Job] = {}  # queued, running or waiting for a retry: one job per key
        self._dirty: dict[str, bool] = {}  # hints that arrived while busy -> one follow-up check (landed?)
        self._delayed: list[tuple[float, int, Job]] = []
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._running = 0
        self._counts: Counter[str] = Counter()
        self._failed_etags: dict[str, str | None] = {}
        self._results: deque[JobResult] = deque(maxlen=1000)
        self._listeners: list[Callable[[JobResult], None]] = []
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._observer: Any = None
        self._lockfile = WatchLock(self.root / LOCK_KEY)
        self._periodic = False
        self._next_rescan = float("inf")
        self._started = False

    # --- public API --------------------------------------------------------------------------------------

    def on_result(self, listener: Callable[[JobResult], None]) -> None:
        """Call ``listener(result)`` after every job (from a worker thread)."""
        self._listeners.append(listener)

    def start(self) -> None:
        """Take the lake's watch lock, recover, start watching and working. Raises ``LockedError``."""
        if self._started:
            return
        self._open()
        try:
            self._start_threads()
            if self.observe:
                self._start_observer()
            self._periodic = self.rescan_seconds > 0
            # The first rescan runs after the observer is up, so nothing lands unseen in between.
            self._rescan(redrive=self.retry_failed)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """Stop watching; let running jobs finish (queued ones are left for the next start's rescan)."""
        self._stopping.set()
        if self._observer is not None:
            try:
                self._observer.stop()
                self._observer.join(timeout)
            except Exception:  # noqa: BLE001 - stopping must always release the lock below
                log.exception("stopping the file observer failed")
            self._observer = None
        with self._cv:
            self._cv.notify_all()
        for _ in range(self.workers):
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads = []
        self._lockfile.release()
        self._started = False

    def drain(self, timeout: float | None = None) -> bool:
        """Process everything pending now; True when idle before ``timeout``.

        On a running watcher this rescans and waits; on a stopped one it is ``run_once(timeout).idle``.
        """
        if not self._started:
            return self.run_once(timeout).idle
        self._rescan()
        return self.wait_idle(timeout)

    def run_once(self, timeout: float | None = None) -> DrainResult:
        """Drain mode: process every pending raw object (dead-lettered ones too), then stop."""
        self._results = deque()  # unbounded: the caller wants every result
        self._open()
        try:
            self._start_threads()
            self._rescan(redrive=True)
            idle = self.wait_idle(timeout)
        finally:
            self.stop()
        return DrainResult(list(self._results), idle)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is waiting to settle, queued, running or waiting for a retry."""
        with self._cv:
            return self._cv.wait_for(self._idle_locked, timeout)

    def deliver(self, event: dict[str, Any]) -> None:
        """Accept an S3 notification from outside (e.g. a queue): each matching record becomes a hint."""
        for rec in parse_event(event):
            self._hint(rec.key, landed=rec.is_created)

    def notify(self, key: str, *, landed: bool = False) -> None:
        """Tell the watcher that ``key`` may have changed (``landed``: it was renamed into place)."""
        self._hint(key, landed=landed)

    def stats(self) -> dict[str, int]:
        """A consistent snapshot of the counters and the current queue sizes."""
        with self._lock:
            out = {k: 0 for k in ("events", "hints", "coalesced", "rescans", "dispatched", "ok", "rejected",
                                  "skipped", "ignored", "retried", "failed", "deleted", "gone",
                                  "deferred_open", "errors")}
            out.update(self._counts)
            out.update(candidates=len(self._candidates), busy=len(self._busy), running=self._running,
                       delayed=len(self._delayed))
            return out

    def results(self) -> list[JobResult]:
        """The most recent job results (all of them in ``run_once``)."""
        with self._lock:
            return list(self._results)

    @property
    def running(self) -> bool:
        return self._started

    # --- start-up (recovery itself is in sources) --------------------------------------------------------

    def _open(self) -> None:
        self._stopping.clear()
        with self._lock:  # a restarted Watcher starts clean: the rescan rebuilds all of this from disk
            self._candidates.clear()
            self._busy.clear()
            self._dirty.clear()
            self._delayed.clear()
        self._queue = queue.Queue()
        self._lockfile.acquire()
        self._started = True
        try:
            self._recover()
        except BaseException:
            self._lockfile.release()
            self._started = False
            raise

    def _start_threads(self) -> None:
        self._threads = [threading.Thread(target=self._schedule_loop, name="lakebox-watch-scheduler", daemon=True)]
        self._threads += [threading.Thread(target=self._work_loop, name=f"lakebox-watch-worker-{i}", daemon=True)
                          for i in range(self.workers)]
        for t in self._threads:
            t.start()


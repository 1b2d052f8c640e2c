"""The watcher's scheduler: per-key coalescing, settle detection, retry timers and periodic rescans.

Hints become *candidates* (one per key) that wait until their upload has landed (see ``landing``), then
*jobs* on the work queue the worker pool reads. A key is in at most one job at a time (``_busy``); hints for
a busy key coalesce into one follow-up look (``_dirty``) after the job finishes. One scheduler thread runs
``_loop``; workers hand jobs back with :meth:`Scheduler.release` or :meth:`Scheduler.retry_later`.
"""

from __future__ import annotations

import heapq
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from lakebox.events import matches_trigger
from lakebox.store.local import TMP_PREFIX
from lakebox.trigger.landing import open_for_writing, signature
from lakebox.trigger.state import Candidate, Counters, Job

log = logging.getLogger("lakebox.trigger")

#: A scan of the lake for work: ``scan(redrive)`` yields the raw keys worth a look.
Scan = Callable[[bool], Iterable[str]]


class Scheduler:
    """Turns hints into jobs: coalescing, settle detection, retry timers and the rescan clock.

    ``root`` is the lake folder (signatures are read from it); ``scan`` is the rescan (see ``sources``).
    Everything below ``_lock`` is guarded by it; ``_cv`` (on the same lock) wakes the loop and idle waiters.
    """

    def __init__(self, root: Path, *, settle_seconds: float, rescan_seconds: float, scan: Scan,
                 counters: Counters, detect_writers: bool) -> None:
        self.root = root
        self.settle_seconds = settle_seconds
        self.rescan_seconds = rescan_seconds
        self._scan = scan
        self._counters = counters
        self._detect_writers = detect_writers
        self._tick = max(0.005, min(0.05, settle_seconds / 4))
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)
        self._candidates: dict[str, Candidate] = {}
        self._busy: dict[str, Job] = {}  # queued, running or waiting for a retry: one job per key
        self._dirty: dict[str, bool] = {}  # hints that arrived while busy -> one follow-up check (landed?)
        self._delayed: list[tuple[float, int, Job]] = []
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._stopping = threading.Event()
        self._periodic = False
        self._next_rescan = float("inf")
        self._in_flight: set[str] | None = None  # during a periodic rescan: keys busy at some point of it
        self._thread: threading.Thread | None = None

    # --- life cycle ----------------------------------------------------------------------------------

    def start(self, jobs: queue.Queue[Job | None], stopping: threading.Event, *, periodic: bool) -> None:
        """Start clean (a restart rebuilds everything from the lake) and run the loop thread."""
        with self._cv:
            self._candidates.clear()
            self._busy.clear()
            self._dirty.clear()
            self._delayed.clear()
            self._jobs, self._stopping = jobs, stopping
            self._periodic = periodic and self.rescan_seconds > 0
            self._next_rescan = float("inf")
        self._thread = threading.Thread(target=self._loop, name="lakebox-watch-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Wake the loop (the caller has set ``stopping``) and wait for it to end."""
        with self._cv:
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    # --- hints ---------------------------------------------------------------------------------------

    def hint(self, key: str, *, landed: bool = False, redrive: bool = False) -> None:
        """Something may have happened to ``key``; schedule a look at it (coalescing repeats)."""
        if not matches_trigger(key) or key.rsplit("/", 1)[-1].startswith(TMP_PREFIX):
            return  # the original's filter: writes elsewhere (processed/, _lakebox/, *.part) never trigger
        with self._cv:
            self._counters.add("hints")
            if key in self._busy:
                # Being processed: one follow-up look after it finishes covers any number of hints.
                self._dirty[key] = self._dirty.get(key, False) or landed
                self._counters.add("coalesced")
                return
            cand = self._candidates.get(key)
            if cand is None:
                self._candidates[key] = Candidate(since=time.monotonic(), landed=landed, redrive=redrive)
            else:
                self._counters.add("coalesced")
                cand.landed = cand.landed or landed
                cand.redrive = cand.redrive or redrive
                cand.next_check = 0.0
            self._cv.notify_all()

    def request_rescan(self) -> None:
        """Rescan at the loop's next turn (a folder moved in: the file events named only the folder)."""
        with self._cv:
            self._next_rescan = 0.0
            self._cv.notify_all()

    def rescan(self, redrive: bool = False, *, periodic: bool = False) -> None:
        """The safety net: every key the scan finds becomes a hint; the periodic clock restarts.

        A periodic rescan leaves keys that were being processed at any time during the scan to their job: the
        ledger it compared with was read while the job ran, so a follow-up look would only hand the handler
        the version it has just processed; what the job missed, the next period finds. Explicit rescans
        (start, drain) look at every key the scan finds.
        """
        if periodic:
            with self._lock:
                self._in_flight = set(self._busy)
        try:
            for key in self._scan(redrive):
                if periodic:
                    with self._lock:
                        if key in (self._in_flight or ()):
                            continue
                self.hint(key, redrive=redrive)
        finally:
            if periodic:
                with self._lock:
                    self._in_flight = None
        with self._cv:
            self._counters.add("rescans")
            if self._periodic:
                self._next_rescan = time.monotonic() + self.rescan_seconds
            self._cv.notify_all()

    # --- jobs coming back from the workers ----------------------------------------------------------

    def retry_later(self, job: Job) -> None:
        """Queue ``job`` again at ``job.due`` (when stopping, leave it for the next start's rescan)."""
        with self._cv:
            if self._stopping.is_set():
                self._release_locked(job)
            else:
                heapq.heappush(self._delayed, (job.due, job.seq, job))
            self._cv.notify_all()

    def release(self, job: Job) -> None:
        """The job is done: free its key; hints that arrived meanwhile become one new candidate."""
        with self._cv:
            self._release_locked(job)
            self._cv.notify_all()

    def _release_locked(self, job: Job) -> None:
        self._busy.pop(job.key, None)
        if job.key in self._dirty:
            landed = self._dirty.pop(job.key)
            if not self._stopping.is_set():
                self._candidates[job.key] = Candidate(since=time.monotonic(), landed=landed)

    # --- idleness and sizes ----------------------------------------------------------------------------

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is waiting to settle, queued, running or waiting for a retry."""
        with self._cv:
            return self._cv.wait_for(lambda: not self._candidates and not self._busy, timeout)

    def sizes(self) -> dict[str, int]:
        with self._lock:
            return {"candidates": len(self._candidates), "busy": len(self._busy), "delayed": len(self._delayed)}

    # --- the loop: settle detection, retries, rescans --------------------------------------------------

    def _next_wait_locked(self) -> float:
        now = time.monotonic()
        waits = [1.0]
        if self._periodic:
            waits.append(self._next_rescan - now)
        if self._candidates:
            waits.append(min(c.next_check for c in self._candidates.values()) - now)
        if self._delayed:
            waits.append(self._delayed[0][0] - now)
        return max(0.0, min(waits))

    def _loop(self) -> None:
        while not self._stopping.is_set():
            with self._cv:
                self._cv.wait(self._next_wait_locked())
            if self._stopping.is_set():
                return
            try:
                self._turn()
            except Exception:  # noqa: BLE001 - the watcher never dies; the next tick tries again
                self._counters.add("errors")
                log.exception("watcher scheduler error")

    def _turn(self) -> None:
        now = time.monotonic()
        with self._lock:
            rescan_due = self._periodic and now >= self._next_rescan
            if rescan_due:
                self._next_rescan = now + self.rescan_seconds
        if rescan_due:
            self.rescan(periodic=True)
        with self._cv:
            while self._delayed and self._delayed[0][0] <= now:
                _, _, job = heapq.heappop(self._delayed)
                self._jobs.put(job)
        self._check_candidates()

    def _check_candidates(self) -> None:
        """Dispatch every candidate that has landed; postpone the rest."""
        now, wall = time.monotonic(), time.time()
        with self._lock:
            due = [(k, c) for k, c in self._candidates.items() if c.next_check <= now]
        ready: list[tuple[str, Candidate, Path]] = []
        for key, cand in due:
            path = self.root / key
            sig = signature(path)
            with self._cv:
                if self._candidates.get(key) is not cand:
                    continue
                if sig is None:
                    # Gone: a delete (or a rename away). Level-triggered: the job decides what that means.
                    del self._candidates[key]
                    self._dispatch_locked(Job(key))
                    self._cv.notify_all()
                    continue
                if sig != cand.sig:
                    if cand.sig is not None:
                        cand.landed = False  # written to after it landed: wait for it to settle again
                    cand.sig, cand.since = sig, now
                # Quiet time: by the file's mtime, or by our own observations when the clocks disagree.
                quiet = max(now - cand.since, wall - sig.mtime_ns / 1e9)
                if cand.landed or quiet >= self.settle_seconds:
                    ready.append((key, cand, path))
                else:
                    cand.next_check = now + min(self._tick, self.settle_seconds - quiet)
        if not ready:
            return
        writing = open_for_writing({p for _, _, p in ready}) if self._detect_writers else set()
        with self._cv:
            for key, cand, path in ready:
                if self._candidates.get(key) is not cand:
                    continue
                if path in writing:
                    cand.next_check = now + max(self._tick, 0.1)
                    cand.landed = False
                    self._counters.add("deferred_open")
                    continue
                del self._candidates[key]
                self._dispatch_locked(Job(key, redrive=cand.redrive))
            self._cv.notify_all()

    def _dispatch_locked(self, job: Job) -> None:
        if job.key in self._busy:
            self._dirty[job.key] = self._dirty.get(job.key, False)
            self._counters.add("coalesced")
            return
        self._busy[job.key] = job
        if self._in_flight is not None:
            self._in_flight.add(job.key)
        self._counters.add("dispatched")
        self._jobs.put(job)

"""The watcher's scheduler: per-key coalescing, settle detection, retry timers and periodic rescans.

Hints become *candidates* (one per key) that wait until their upload has landed (see ``landing``), then
*jobs* on the worker queue. A key is in at most one job at a time (``_busy``); hints for a busy key coalesce
into one follow-up look (``_dirty``) after the job finishes. One scheduler thread runs ``_schedule_loop``.
"""

from __future__ import annotations

import heapq
import logging
import time
from pathlib import Path

from lakebox.events import matches_trigger
from lakebox.store.local import TMP_PREFIX
from lakebox.trigger.landing import open_for_writing, signature
from lakebox.trigger.state import Candidate, Job, WatcherState

log = logging.getLogger("lakebox.trigger")


class SchedulerMixin(WatcherState):
    """Turns hints into jobs: coalescing, settle detection, retry timers and the rescan clock."""

    # --- hints -------------------------------------------------------------------------------------------

    def _hint(self, key: str, *, landed: bool = False, redrive: bool = False) -> None:
        """Something may have happened to ``key``; schedule a look at it (coalescing repeats)."""
        if not matches_trigger(key) or key.rsplit("/", 1)[-1].startswith(TMP_PREFIX):
            return  # the original's filter: writes elsewhere (processed/, _lakebox/, *.part) never trigger
        with self._cv:
            self._counts["hints"] += 1
            if key in self._busy:
                # Being processed: one follow-up look after it finishes covers any number of hints.
                self._dirty[key] = self._dirty.get(key, False) or landed
                self._counts["coalesced"] += 1
                return
            cand = self._candidates.get(key)
            if cand is None:
                self._candidates[key] = Candidate(since=time.monotonic(), landed=landed, redrive=redrive)
            else:
                self._counts["coalesced"] += 1
                cand.landed = cand.landed or landed
                cand.redrive = cand.redrive or redrive
                cand.next_check = 0.0
            self._cv.notify_all()

    def _request_rescan(self) -> None:
        with self._cv:
            self._next_rescan = 0.0
            self._cv.notify_all()

    # --- the scheduler: settle detection, retries, rescans -------------------------------------------------

    def _idle_locked(self) -> bool:
        return not self._candidates and not self._busy

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

    def _schedule_loop(self) -> None:
        while not self._stopping.is_set():
            with self._cv:
                self._cv.wait(self._next_wait_locked())
            if self._stopping.is_set():
                return
            try:
                self._schedule_once()
            except Exception:  # noqa: BLE001 - the watcher never dies; the next tick tries again
                self._count("errors")
                log.exception("watcher scheduler error")

    def _schedule_once(self) -> None:
        now = time.monotonic()
        if self._periodic and now >= self._next_rescan:
            with self._lock:
                self._next_rescan = now + self.rescan_seconds
            self._rescan()
        with self._cv:
            while self._delayed and self._delayed[0][0] <= now:
                _, _, job = heapq.heappop(self._delayed)
                self._queue.put(job)
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
                    self._counts["deferred_open"] += 1
                    continue
                del self._candidates[key]
                self._dispatch_locked(Job(key, redrive=cand.redrive))
            self._cv.notify_all()

    def _dispatch_locked(self, job: Job) -> None:
        if job.key in self._busy:
            self._dirty[job.key] = self._dirty.get(job.key, False)
            self._counts["coalesced"] += 1
            return
        self._busy[job.key] = job
        self._counts["dispatched"] += 1
        self._queue.put(job)

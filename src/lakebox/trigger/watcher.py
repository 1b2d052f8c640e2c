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
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakebox.catalog import update_catalog_for_run
from lakebox.events import build_event, build_record, matches_trigger, parse_event
from lakebox.lake import Lake
from lakebox.process.runs import RunRecord
from lakebox.store.base import LAYOUT, InvalidKeyError, NoSuchKeyError, validate_key
from lakebox.store.local import TMP_PREFIX
from lakebox.trigger.deadletter import clear_failure, list_failed, record_failure
from lakebox.trigger.landing import Signature, can_detect_writers, open_for_writing, signature
from lakebox.trigger.locks import LOCK_KEY, WatchLock

log = logging.getLogger("lakebox.trigger")

#: Temp files of killed writers older than this are removed at start-up (live writers finish far sooner).
STALE_TEMP_SECONDS = 15 * 60


class WatchError(RuntimeError):
    """The watcher cannot run on this lake; the message says why."""


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
class _Candidate:
    """A key seen but not yet dispatched: we wait here until its upload has landed."""

    sig: Signature | None = None
    since: float = 0.0  # monotonic time of the last signature change we observed
    landed: bool = False  # renamed into place: complete by the upload convention, no settle wait
    redrive: bool = False  # process even if this version is dead-lettered
    next_check: float = 0.0


@dataclass
class _Job:
    key: str
    attempt: int = 1  # the attempt about to run (1 = first delivery)
    etag: str | None = None  # the version earlier attempts failed on
    redrive: bool = False
    due: float = 0.0
    seq: int = field(default_factory=itertools.count().__next__)


class Watcher:
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
        self._catalog_lock = threading.Lock()
        self._crawl_requested: Counter[str] = Counter()  # per dataset: tickets for _refresh_catalog
        self._crawl_done: Counter[str] = Counter()
        self._candidates: dict[str, _Candidate] = {}
        self._busy: dict[str, _Job] = {}  # queued, running or waiting for a retry: one job per key
        self._dirty: dict[str, bool] = {}  # hints that arrived while busy -> one follow-up check (landed?)
        self._delayed: list[tuple[float, int, _Job]] = []
        self._queue: queue.Queue[_Job | None] = queue.Queue()
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

    # --- start-up and recovery ---------------------------------------------------------------------------

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

    def _recover(self) -> None:
        """Make the lake consistent after a crash, before any new work starts (we hold the lock)."""
        store = self.lake.store
        _ = self.lake.ledger  # build the lazy parts in this thread, not racing in the workers
        self._sweep_temp_files()
        try:
            # A crash between the ledger write and the catalog update leaves the catalog behind processed/.
            # The crawl re-reads only changed footers, so it is cheap when nothing happened.
            self.lake.crawl()
        except Exception:  # noqa: BLE001 - a broken catalog must not stop files from being processed
            self._count("errors")
            log.exception("catalog reconciliation at start-up failed")
        with self._lock:
            self._failed_etags = {f["key"]: f.get("etag") for f in list_failed(store)}

    def _sweep_temp_files(self) -> None:
        """Remove temp files that killed writers left behind (invisible to readers, but they use disk)."""
        cutoff = time.time() - STALE_TEMP_SECONDS
        for prefix in LAYOUT:
            base = self.root / prefix
            for dirpath, _dirs, files in os.walk(base):
                for name in files:
                    if not name.startswith(TMP_PREFIX):
                        continue
                    path = Path(dirpath) / name
                    try:
                        if path.stat().st_mtime < cutoff:
                            path.unlink()
                            log.info("removed stale temp file %s", path)
                    except FileNotFoundError:
                        continue  # its writer finished (renamed it) meanwhile

    def _start_threads(self) -> None:
        self._threads = [threading.Thread(target=self._schedule_loop, name="lakebox-watch-scheduler", daemon=True)]
        self._threads += [threading.Thread(target=self._work_loop, name=f"lakebox-watch-worker-{i}", daemon=True)
                          for i in range(self.workers)]
        for t in self._threads:
            t.start()

    def _start_observer(self) -> None:
        from watchdog.observers import Observer

        raw = self.root / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        observer = Observer()
        observer.schedule(_FsHandler(self), str(raw), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer

    # --- hints -------------------------------------------------------------------------------------------

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def _key_for(self, path: str | bytes) -> str | None:
        rel = os.path.relpath(os.fsdecode(path), self.root)
        if rel.startswith(".."):
            return None
        try:
            return validate_key(rel.replace(os.sep, "/"))
        except InvalidKeyError:
            return None

    def _on_fs_event(self, event: Any) -> None:
        kind = event.event_type
        if kind in ("opened", "closed_no_write"):
            return  # reads (including our own DuckDB scans) change nothing
        if event.is_directory:
            if kind in ("created", "moved"):
                self._request_rescan()  # a folder of files moved in: inotify reports only the folder
            return
        self._count("events")
        if kind == "moved":
            src = self._key_for(event.src_path)
            if src:
                self._hint(src)  # the old name is gone: a delete, as far as S3 is concerned
            dest = self._key_for(event.dest_path)
            if dest:
                self._hint(dest, landed=True)
            return
        key = self._key_for(event.src_path)
        if key:
            self._hint(key)

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
                self._candidates[key] = _Candidate(since=time.monotonic(), landed=landed, redrive=redrive)
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

    def _rescan(self, redrive: bool = False) -> None:
        """The safety net: raw objects whose current version has no ok/rejected run become hints."""
        store = self.lake.store
        for key in self.lake.pending():
            with self._lock:
                failed_etag = self._failed_etags.get(key, False)
            if failed_etag is not False and not redrive:
                try:
                    if store.head_object(key).etag == failed_etag:
                        continue  # this version already exhausted its retries; wait for a new one
                except NoSuchKeyError:
                    continue
            self._hint(key, redrive=redrive)
        if self.delete_outputs:
            # Deletes missed while we were down (or whose clean-up a crash interrupted).
            present = {o.key for o in store.list_objects("raw/")}
            for state in self.lake.ledger.states():
                if state.raw_key not in present:
                    self._hint(state.raw_key)
        with self._cv:
            self._counts["rescans"] += 1
            if self._periodic:
                self._next_rescan = time.monotonic() + self.rescan_seconds
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
        ready: list[tuple[str, _Candidate, Path]] = []
        for key, cand in due:
            path = self.root / key
            sig = signature(path)
            with self._cv:
                if self._candidates.get(key) is not cand:
                    continue
                if sig is None:
                    # Gone: a delete (or a rename away). Level-triggered: the job decides what that means.
                    del self._candidates[key]
                    self._dispatch_locked(_Job(key))
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
                self._dispatch_locked(_Job(key, redrive=cand.redrive))
            self._cv.notify_all()

    def _dispatch_locked(self, job: _Job) -> None:
        if job.key in self._busy:
            self._dirty[job.key] = self._dirty.get(job.key, False)
            self._counts["coalesced"] += 1
            return
        self._busy[job.key] = job
        self._counts["dispatched"] += 1
        self._queue.put(job)

    # --- workers -----------------------------------------------------------------------------------------

    def _work_loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if self._stopping.is_set():
                self._finish(job, None)  # left for the next start's rescan
                continue
            with self._lock:
                self._running += 1
            result: JobResult | None = None
            retry = False
            try:
                result = self._run_job(job)
                retry = result is None
            except Exception as exc:  # noqa: BLE001 - the watcher never dies because of a file
                self._count("errors")
                log.exception("watcher job for %s failed unexpectedly", job.key)
                result = JobResult(job.key, "failed", error=f"{type(exc).__name__}: {exc}", attempts=job.attempt)
            finally:
                with self._lock:
                    self._running -= 1
            if retry:
                self._schedule_retry(job)
            else:
                self._finish(job, result)

    def _run_job(self, job: _Job) -> JobResult | None:
        """Bring ``job.key`` up to date. Returns None when a retry was scheduled."""
        store = self.lake.store
        key = job.key
        try:
            info = store.head_object(key)
        except NoSuchKeyError:
            return self._handle_missing(key)
        if job.etag is not None and info.etag != job.etag:
            job.attempt = 1  # a new version arrived during the backoff: it gets its own attempts
        with self._lock:
            failed_etag = self._failed_etags.get(key, False)
        if failed_etag == info.etag and not job.redrive and job.attempt == 1:
            self._count("skipped")
            return JobResult(key, "skipped", error="this version is dead-lettered; replace the file to retry")
        event = build_event(build_record(key, bucket=self.bucket, size=info.size, etag=info.etag,
                                         region=self.lake.settings.region))
        try:
            runs: list[RunRecord] = []
            for _ in range(self.deliveries):
                got = self.lake.handle_event(event)
                runs = runs or got  # the first delivery did the work; duplicates must be no-ops
        except Exception as exc:  # noqa: BLE001 - any handler error is Lambda's "function error": retry
            job.etag = info.etag
            if job.attempt <= len(self.retry_delays):
                delay = self.retry_delays[job.attempt - 1]
                log.warning("%s: attempt %d failed (%s); retrying in %.3g s", key, job.attempt, exc, delay)
                job.attempt += 1
                job.due = time.monotonic() + delay
                self._count("retried")
                return None
            log.error("%s: giving up after %d attempts: %s", key, job.attempt, exc)
            record_failure(store, event, exc, job.attempt)
            with self._lock:
                self._failed_etags[key] = info.etag
                self._counts["failed"] += 1
            return JobResult(key, "failed", error=f"{type(exc).__name__}: {exc}", attempts=job.attempt)
        run = runs[0] if runs else None
        status = run.status if run is not None else "ignored"
        if status in ("ok", "rejected"):
            with self._lock:
                was_failed = self._failed_etags.pop(key, False) is not False
            if was_failed:
                clear_failure(store, key)
        if status == "ok" and self.workers > 1:
            self._refresh_catalog(run)
        self._count(status if status in ("ok", "rejected", "skipped", "ignored") else "ignored")
        return JobResult(key, status, run=run, error=run.error if run else None, attempts=job.attempt)

    def _refresh_catalog(self, run: RunRecord | None) -> None:
        """Re-crawl the run's table once more, serialized across workers and coalesced.

        Two workers' catalog updates can interleave (each lists processed/, then writes the table), so the
        slower one may write a listing without the other's file. One more crawl that *starts after* this
        file was published, run under a lock, guarantees the last write saw every published file. Crawls
        are coalesced: if a crawl that started after our request has already finished, it covered us.
        """
        if run is None:
            return
        table = run.dataset or ""
        with self._lock:
            self._crawl_requested[table] += 1
            ticket = self._crawl_requested[table]
        with self._catalog_lock:
            if self._crawl_done[table] >= ticket:
                return  # a crawl of this table that began after our publish already finished
            with self._lock:
                start = self._crawl_requested[table]
            update_catalog_for_run(self.lake.settings, self.lake.store, run)
            self._crawl_done[table] = start

    def _handle_missing(self, key: str) -> JobResult:
        """The raw object is gone. Outputs stay unless ``delete_outputs_on_raw_delete`` is set."""
        store = self.lake.store
        with self._lock:
            was_failed = self._failed_etags.pop(key, False) is not False
        if was_failed:
            clear_failure(store, key)
        if not self.delete_outputs:
            self._count("gone")
            return JobResult(key, "gone")
        state = self.lake.ledger.latest(key)
        if state is None:
            self._count("gone")
            return JobResult(key, "gone")
        for out in [*state.output_keys, state.quarantine_key]:
            if out:
                store.delete_object(out)
        # Forget after the outputs are gone: a crash in between leaves a state whose raw key is missing,
        # which the next rescan finds and finishes.
        self.lake.ledger.forget(key)
        with self._catalog_lock:
            update_catalog_for_run(self.lake.settings, store, state)
        self._count("deleted")
        log.info("%s deleted: removed %s", key, ", ".join(k for k in [*state.output_keys, state.quarantine_key] if k))
        return JobResult(key, "deleted", run=state)

    def _schedule_retry(self, job: _Job) -> None:
        with self._cv:
            if self._stopping.is_set():
                self._release_locked(job)  # the restart's rescan retries it
            else:
                heapq.heappush(self._delayed, (job.due, job.seq, job))
            self._cv.notify_all()

    def _release_locked(self, job: _Job) -> None:
        self._busy.pop(job.key, None)
        if job.key in self._dirty:
            landed = self._dirty.pop(job.key)
            if not self._stopping.is_set():
                self._candidates[job.key] = _Candidate(since=time.monotonic(), landed=landed)

    def _finish(self, job: _Job, result: JobResult | None) -> None:
        with self._cv:
            self._release_locked(job)
            if result is not None:
                self._results.append(result)
            self._cv.notify_all()
        if result is None:
            return
        for fn in list(self._listeners):
            try:
                fn(result)
            except Exception:  # noqa: BLE001 - a broken listener must not break processing
                log.exception("watcher listener failed")


class _FsHandler:
    """watchdog handler: forwards every event to the watcher, never letting an exception kill the observer."""

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher

    def dispatch(self, event: Any) -> None:
        try:
            self.watcher._on_fs_event(event)
        except Exception:  # noqa: BLE001 - the observer thread must survive any single event
            log.exception("watcher could not handle %r", event)

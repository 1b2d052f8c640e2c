"""The watcher's worker pool: run one job per key through the handler, retry, dead-letter, report.

A job is level-triggered: it looks at the key's current state (exists? which ETag?) and makes the lake match
it, invoking ``Lake.handle_event`` with the S3-shaped event Lambda would get. Handler errors are retried
after ``retry_delays``, then recorded as a dead letter in ``_lakebox/failed/``.
"""

from __future__ import annotations

import heapq
import logging
import time

from lakebox.core.runs import RunRecord
from lakebox.events import build_event, build_record
from lakebox.store.base import NoSuchKeyError
from lakebox.trigger.deadletter import clear_failure, record_failure
from lakebox.trigger.state import Candidate, Job, JobResult, WatcherState

log = logging.getLogger("lakebox.trigger")


class WorkersMixin(WatcherState):
    """The worker threads' side: run jobs, retry or dead-letter failures, release keys, notify listeners."""

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

    def _run_job(self, job: Job) -> JobResult | None:
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
        self._count(status if status in ("ok", "rejected", "skipped", "ignored") else "ignored")
        return JobResult(key, status, run=run, error=run.error if run else None, attempts=job.attempt)

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
        self.lake.catalog_updater.update_for_run(state)
        self._count("deleted")
        log.info("%s deleted: removed %s", key, ", ".join(k for k in [*state.output_keys, state.quarantine_key] if k))
        return JobResult(key, "deleted", run=state)

    def _schedule_retry(self, job: Job) -> None:
        with self._cv:
            if self._stopping.is_set():
                self._release_locked(job)  # the restart's rescan retries it
            else:
                heapq.heappush(self._delayed, (job.due, job.seq, job))
            self._cv.notify_all()

    def _release_locked(self, job: Job) -> None:
        self._busy.pop(job.key, None)
        if job.key in self._dirty:
            landed = self._dirty.pop(job.key)
            if not self._stopping.is_set():
                self._candidates[job.key] = Candidate(since=time.monotonic(), landed=landed)

    def _finish(self, job: Job, result: JobResult | None) -> None:
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

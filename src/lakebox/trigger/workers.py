"""The watcher's worker pool: run one job per key through the handler, retry, dead-letter, report.

A job is level-triggered: it looks at the key's current state (exists? which ETag?) and makes the lake match
it, invoking the event handler with the S3-shaped event Lambda would get. Handler errors are retried after
``retry_delays``, then recorded as a dead letter in ``_lakebox/failed/``. The catalog is brought up to date
by the handler itself (the one catalog update path), so a job never crawls.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lakebox.core.errors import LakeboxError
from lakebox.core.runs import RunRecord
from lakebox.events import build_event, build_record
from lakebox.process.runs import RunLedger
from lakebox.store.base import NoSuchKeyError, Store
from lakebox.trigger.deadletter import FailedVersions
from lakebox.trigger.scheduler import Scheduler
from lakebox.trigger.state import Counters, Job, JobResult, Results

log = logging.getLogger("lakebox.trigger")

#: The "Lambda": takes an S3 notification, returns the runs it made (one per ObjectCreated record).
EventHandler = Callable[[dict[str, Any]], list[RunRecord]]
#: The catalog's update path for one run (after a raw file's outputs were removed).
CatalogUpdate = Callable[[RunRecord], None]
#: Processes raw keys that are ready together: per key its run or the exception it failed with; None when
#: batching is not available now (the watcher then invokes the event handler once per key). Called with no
#: keys, it only answers that question ([] or None).
BatchHandler = Callable[[list[str]], list[RunRecord | Exception] | None]

#: The most jobs a worker takes from the queue at once (``process.handler.BATCH_FILES`` bounds the files one
#: DuckDB pass reads; the handler splits bigger batches).
MAX_BATCH = 64


@dataclass(frozen=True)
class JobRunner:
    """Brings one key up to date: what a worker does with a job (no threads here)."""

    store: Store
    ledger: RunLedger
    handler: EventHandler
    update_catalog: CatalogUpdate
    failed: FailedVersions
    counters: Counters
    bucket: str
    region: str | None
    retry_delays: tuple[float, ...]
    deliveries: int
    delete_outputs: bool
    batch_handler: BatchHandler | None = None

    def batching(self) -> bool:
        """Whether :meth:`run_batch` can process several keys at once (not with duplicate deliveries, which
        exercise the per-event handler)."""
        return self.batch_handler is not None and self.deliveries == 1 and self.batch_handler([]) is not None

    def run_batch(self, jobs: list[Job]) -> list[tuple[Job, JobResult | None]]:
        """Bring several keys up to date: first attempts of keys that exist and are not dead-lettered go to
        the batch handler together; the rest, and every key the batch answered with an exception, go through
        :meth:`run` one by one (retries and dead letters exactly as for a single job)."""
        together: list[Job] = []
        alone: list[Job] = []
        for job in jobs:
            fresh = job.attempt == 1 and job.etag is None and (job.redrive or not self.failed.has(job.key))
            (together if fresh and self.store.exists(job.key) else alone).append(job)
        answers: list[RunRecord | Exception] | None = None
        if len(together) > 1 and self.batch_handler is not None:
            try:
                answers = self.batch_handler([j.key for j in together])
            except Exception:  # noqa: BLE001 - e.g. the shared catalog update failed: each file on its own
                log.warning("a batch of %d files failed; running them one by one", len(together), exc_info=True)
        if answers is None:
            alone, together = together + alone, []
        out: list[tuple[Job, JobResult | None]] = []
        for job, answer in zip(together, answers or [], strict=True):
            if isinstance(answer, Exception):
                log.warning("%s failed in a batch (%s); running it alone", job.key, answer)
                out.append((job, self.run(job)))
            else:
                out.append((job, self._done(job, answer)))
        out += [(job, self.run(job)) for job in alone]
        return out

    def run(self, job: Job) -> JobResult | None:
        """Bring ``job.key`` up to date. Returns None when the job must be retried at ``job.due``."""
        key = job.key
        try:
            info = self.store.head_object(key)
        except NoSuchKeyError:
            return self._missing(key)
        if job.etag is not None and info.etag != job.etag:
            job.attempt = 1  # a new version arrived during the backoff: it gets its own attempts
        if not job.redrive and job.attempt == 1 and self.failed.is_failed(key, info.etag):
            self.counters.add("skipped")
            return JobResult(key, "skipped", error="this version is dead-lettered; replace the file to retry")
        event = build_event(build_record(key, bucket=self.bucket, size=info.size, etag=info.etag,
                                         region=self.region))
        try:
            runs: list[RunRecord] = []
            for _ in range(self.deliveries):
                got = self.handler(event)
                runs = runs or got  # the first delivery did the work; duplicates must be no-ops
        except Exception as exc:  # noqa: BLE001 - any handler error is Lambda's "function error": retry
            job.etag = info.etag
            if job.attempt <= len(self.retry_delays):
                delay = self.retry_delays[job.attempt - 1]
                log.warning("%s: attempt %d failed (%s); retrying in %.3g s", key, job.attempt, exc, delay)
                job.attempt += 1
                job.due = time.monotonic() + delay
                self.counters.add("retried")
                return None
            log.error("%s: giving up after %d attempts: %s", key, job.attempt, exc)
            try:
                self.failed.fail(key, info.etag, event, exc, job.attempt)
            except LakeboxError as dl_exc:  # a full disk cannot hold the dead letter either; say so, go on
                log.error("%s: the dead letter could not be written: %s", key, dl_exc)
            self.counters.add("failed")
            return JobResult(key, "failed", error=f"{type(exc).__name__}: {exc}", attempts=job.attempt)
        return self._done(job, runs[0] if runs else None)

    def _done(self, job: Job, run: RunRecord | None) -> JobResult:
        """The job's result from the handler's run."""
        status = run.status if run is not None else "ignored"
        if status in ("ok", "rejected"):
            self.failed.clear(job.key)
        self.counters.add(status if status in ("ok", "rejected", "skipped", "ignored") else "ignored")
        return JobResult(job.key, status, run=run, error=run.error if run else None, attempts=job.attempt)

    def _missing(self, key: str) -> JobResult:
        """The raw object is gone. Outputs stay unless ``delete_outputs_on_raw_delete`` is set."""
        self.failed.clear(key)
        state = self.ledger.latest(key) if self.delete_outputs else None
        if state is None:
            self.counters.add("gone")
            return JobResult(key, "gone")
        outputs = [k for k in [*state.output_keys, state.quarantine_key] if k]
        for out in outputs:
            self.store.delete_object(out)
        # Forget after the outputs are gone: a crash in between leaves a state whose raw key is missing,
        # which the next rescan finds and finishes.
        self.ledger.forget(key)
        self.update_catalog(state)
        self.counters.add("deleted")
        log.info("%s deleted: removed %s", key, ", ".join(outputs))
        return JobResult(key, "deleted", run=state)


class WorkerPool:
    """``size`` threads taking jobs from the queue and running them; results go to ``results``.

    A job taken after ``stopping`` is set is released unrun (the next start's rescan finds its key).
    """

    def __init__(self, size: int, runner: JobRunner, scheduler: Scheduler, results: Results,
                 counters: Counters) -> None:
        self.size = size
        self._runner = runner
        self._scheduler = scheduler
        self._results = results
        self._counters = counters
        self._lock = threading.Lock()
        self._running = 0
        self._threads: list[threading.Thread] = []
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._stopping = threading.Event()

    @property
    def running(self) -> int:
        """Jobs being run right now."""
        with self._lock:
            return self._running

    def start(self, jobs: queue.Queue[Job | None], stopping: threading.Event) -> None:
        self._jobs, self._stopping = jobs, stopping
        self._threads = [threading.Thread(target=self._loop, name=f"lakebox-watch-worker-{i}", daemon=True)
                         for i in range(self.size)]
        for t in self._threads:
            t.start()

    def stop(self, deadline: float) -> None:
        """Let running jobs finish (until ``deadline``, monotonic); the caller has set ``stopping``."""
        for _ in self._threads:
            self._jobs.put(None)
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads = []

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            jobs = [job, *self._more()]
            if self._stopping.is_set():
                for j in jobs:
                    self._scheduler.release(j)  # left for the next start's rescan
                continue
            with self._lock:
                self._running += len(jobs)
            try:
                results = self._runner.run_batch(jobs) if len(jobs) > 1 else [(job, self._runner.run(job))]
            except Exception as exc:  # noqa: BLE001 - the watcher never dies because of a file
                self._counters.add("errors")
                log.exception("watcher job for %s failed unexpectedly", ", ".join(j.key for j in jobs))
                results = [(j, JobResult(j.key, "failed", error=f"{type(exc).__name__}: {exc}", attempts=j.attempt))
                           for j in jobs]
            finally:
                with self._lock:
                    self._running -= len(jobs)
            for j, result in results:
                if result is None:
                    self._scheduler.retry_later(j)
                    continue
                # Recorded before the key is released, so whoever waits for idle sees every result.
                self._results.record(result)
                self._scheduler.release(j)
                self._results.tell(result)

    def _more(self) -> list[Job]:
        """The jobs already queued behind the one just taken, when the runner can batch: files that land
        together are processed together. A worker takes its share of the queue (so a burst of 20 files keeps
        every worker busy), at most a batch. A stop marker met here is put back."""
        if self._jobs.empty() or not self._runner.batching():
            return []
        share = min(MAX_BATCH, -(-(self._jobs.qsize() + 1) // self.size))
        more: list[Job] = []
        while len(more) < share - 1:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._jobs.put(None)
                break
            more.append(job)
        return more

"""The embedded "S3 event notification": watch ``raw/`` and invoke the handler, exactly-once in effect.

How a file travels through the watcher::

    watchdog event / periodic rescan / deliver(event)           (sources.FileEvents, sources.Rescan)
        -> hint(key)            filtered like the original trigger: prefix raw/, suffix .csv
        -> candidate            waits until the upload has landed (see ``landing``)   (scheduler.Scheduler)
        -> job on the queue     a key is never in two jobs; repeats coalesce
        -> worker               bounded pool                                      (workers.WorkerPool)
        -> handler(event)       the same S3-shaped ObjectCreated event Lambda would get
        -> ok / rejected / skipped, or retry after retry_delays, then a dead letter in _lakebox/failed/

The watcher is *level-triggered*: a job does not trust the event that caused it, it looks at the key's
current state (exists? which ETag?) and makes the lake match it. That is why duplicate events, rescans and
restarts are harmless: a version already processed is a no-op in the handler's ledger, a newer version is
processed and replaces the output (output keys are derived from raw keys), and a vanished key is a delete.

Crash safety comes from the layers below (atomic temp+rename writes, SQLite transactions, the ledger being
written after the outputs) plus recovery at start-up: the catalog is reconciled with ``processed/`` (a
crash between the ledger write and the catalog update would otherwise leave it stale), stale temp files of
killed writers are swept, and raw/ is rescanned against the ledger, so unfinished work is picked up and
finished.

``Watcher`` composes the parts and receives only what it uses: the store, the ledger, the event handler and
the catalog's update and reconcile callables (``Lake.watcher`` builds one for a lake).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, Unpack

from lakebox.config import Settings
from lakebox.core.errors import LakeboxError
from lakebox.events import parse_event
from lakebox.process.runs import RunLedger
from lakebox.store.base import Store
from lakebox.trigger.deadletter import FailedVersions
from lakebox.trigger.landing import can_detect_writers
from lakebox.trigger.locks import LOCK_KEY, WatchLock
from lakebox.trigger.scheduler import Scheduler
from lakebox.trigger.sources import FileEvents, Rescan, recover
from lakebox.trigger.state import Counters, DrainResult, Job, JobResult, Results
from lakebox.trigger.workers import BatchHandler, CatalogUpdate, EventHandler, JobRunner, WorkerPool

log = logging.getLogger("lakebox.trigger")


class WatchError(LakeboxError, RuntimeError, code="WatchRefused", exit_code=2):
    """The watcher cannot run on this lake; the message says why."""


class WatchOverrides(TypedDict, total=False):
    """Arguments that take precedence over the settings (None: use the setting)."""

    workers: int | None
    rescan_seconds: float | None
    settle_seconds: float | None
    retry_delays: tuple[float, ...] | None
    retry_failed: bool
    deliveries: int
    observe: bool


@dataclass(frozen=True)
class WatchConfig:
    """How a watcher runs. ``deliveries`` > 1 delivers every event that many times, to exercise duplicate
    handling as S3's at-least-once delivery would; ``observe`` False relies on rescans and hints only."""

    workers: int
    rescan_seconds: float
    settle_seconds: float
    retry_delays: tuple[float, ...]
    delete_outputs: bool
    region: str | None
    retry_failed: bool = False
    deliveries: int = 1
    observe: bool = True

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Unpack[WatchOverrides]) -> WatchConfig:
        """The lake's settings, with the given arguments taking precedence."""
        s, o = settings, overrides
        workers, rescan, settle, delays = (o.get("workers"), o.get("rescan_seconds"), o.get("settle_seconds"),
                                           o.get("retry_delays"))
        return cls(
            workers=max(1, workers if workers is not None else s.workers),
            rescan_seconds=rescan if rescan is not None else s.rescan_seconds,
            settle_seconds=max(0.0, settle if settle is not None else s.settle_seconds),
            retry_delays=tuple(delays if delays is not None else s.retry_delay_seconds),
            delete_outputs=s.delete_outputs_on_raw_delete,
            region=s.region,
            retry_failed=o.get("retry_failed", False),
            deliveries=max(1, o.get("deliveries", 1)),
            observe=o.get("observe", True),
        )


class Watcher:
    """Watches a local lake's ``raw/`` and processes what lands there. Thread-safe; one per lake.

    ``start()``/``stop()`` run it in the background (``lakebox watch``, ``serve --watch``); ``run_once()``
    processes everything pending and returns (``lakebox watch --once``); ``drain()`` waits for a running
    watcher to go idle.

    ``handler`` is the "Lambda" (an S3 notification in, the runs it made out); ``update_catalog`` is the
    catalog's update path for one run (used after a delete removed a file's outputs); ``reconcile_catalog``
    brings the whole catalog up to date with ``processed/`` at start-up.
    """

    def __init__(
        self,
        *,
        store: Store,
        ledger: RunLedger,
        handler: EventHandler,
        update_catalog: CatalogUpdate,
        reconcile_catalog: Callable[[], object],
        config: WatchConfig,
        batch_handler: BatchHandler | None = None,
    ) -> None:
        raw = store.local_path("raw/")
        if raw is None:
            raise WatchError(
                f"lakebox watch needs a local lake folder, not {store.url}: on AWS, S3 event "
                "notifications invoke the deployed Lambda directly"
            )
        self.config = config
        self.root = Path(raw).parent
        self._reconcile_catalog = reconcile_catalog
        self._counters = Counters()
        self._results = Results()
        self._failed = FailedVersions(store)
        self._scheduler = Scheduler(
            self.root, settle_seconds=config.settle_seconds, rescan_seconds=config.rescan_seconds,
            scan=Rescan(store, ledger, self._failed, config.delete_outputs), counters=self._counters,
            detect_writers=can_detect_writers())
        runner = JobRunner(
            store=store, ledger=ledger, handler=handler, update_catalog=update_catalog, failed=self._failed,
            counters=self._counters, bucket=self.root.name or "lakebox", region=config.region,
            retry_delays=config.retry_delays, deliveries=config.deliveries, delete_outputs=config.delete_outputs,
            batch_handler=batch_handler)
        self._pool = WorkerPool(config.workers, runner, self._scheduler, self._results, self._counters)
        self._events = FileEvents(self.root, self._scheduler, self._counters)
        self._stopping = threading.Event()
        self._lockfile = WatchLock(self.root / LOCK_KEY)
        self._started = False

    @property
    def workers(self) -> int:
        return self.config.workers

    @property
    def running(self) -> bool:
        return self._started

    # --- public API --------------------------------------------------------------------------------------

    def on_result(self, listener: Callable[[JobResult], None]) -> None:
        """Call ``listener(result)`` after every job (from a worker thread)."""
        self._results.listen(listener)

    def start(self) -> None:
        """Take the lake's watch lock, recover, start watching and working. Raises ``LockedError``."""
        if self._started:
            return
        self._open(periodic=True)
        try:
            if self.config.observe:
                self._events.start()
            # The first rescan runs after the observer is up, so nothing lands unseen in between.
            self._scheduler.rescan(redrive=self.config.retry_failed)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """Stop watching; let running jobs finish (queued ones are left for the next start's rescan)."""
        self._stopping.set()
        self._events.stop(timeout)
        deadline = time.monotonic() + timeout
        self._scheduler.stop(timeout)
        self._pool.stop(deadline)
        self._lockfile.release()
        self._started = False

    def drain(self, timeout: float | None = None) -> bool:
        """Process everything pending now; True when idle before ``timeout``.

        On a running watcher this rescans and waits; on a stopped one it is ``run_once(timeout).idle``.
        """
        if not self._started:
            return self.run_once(timeout).idle
        self._scheduler.rescan()
        return self.wait_idle(timeout)

    def run_once(self, timeout: float | None = None) -> DrainResult:
        """Drain mode: process every pending raw object (dead-lettered ones too), then stop."""
        self._results.keep_all()
        self._open(periodic=False)
        try:
            self._scheduler.rescan(redrive=True)
            idle = self.wait_idle(timeout)
        finally:
            self.stop()
        return DrainResult(self._results.snapshot(), idle)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is waiting to settle, queued, running or waiting for a retry."""
        return self._scheduler.wait_idle(timeout)

    def deliver(self, event: dict[str, Any]) -> None:
        """Accept an S3 notification from outside (e.g. a queue): each matching record becomes a hint."""
        for rec in parse_event(event):
            self._scheduler.hint(rec.key, landed=rec.is_created)

    def notify(self, key: str, *, landed: bool = False) -> None:
        """Tell the watcher that ``key`` may have changed (``landed``: it was renamed into place)."""
        self._scheduler.hint(key, landed=landed)

    def stats(self) -> dict[str, int]:
        """The counters and the current queue sizes."""
        return {**self._counters.snapshot(), **self._scheduler.sizes(), "running": self._pool.running}

    def results(self) -> list[JobResult]:
        """The most recent job results (all of them in ``run_once``)."""
        return self._results.snapshot()

    # --- start-up ----------------------------------------------------------------------------------------

    def _open(self, *, periodic: bool) -> None:
        """Take the lock, recover, then start the scheduler and the pool on a fresh queue."""
        self._stopping.clear()
        self._lockfile.acquire()
        self._started = True
        try:
            recover(self.root, self._reconcile_catalog, self._failed, self._counters)
            jobs: queue.Queue[Job | None] = queue.Queue()
            self._scheduler.start(jobs, self._stopping, periodic=periodic)
            self._pool.start(jobs, self._stopping)
        except BaseException:
            self._stopping.set()
            self._scheduler.stop(5.0)
            self._lockfile.release()
            self._started = False
            raise

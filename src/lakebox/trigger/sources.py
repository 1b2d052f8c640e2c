"""Where the watcher's work comes from: start-up recovery, the file observer, and the rescan.

Recovery runs before any new work starts: stale temp files of killed writers are swept, the catalog is
reconciled with ``processed/`` and the dead letters are loaded. Then hints arrive from watchdog events
(:class:`FileEvents`) and from the rescan (:class:`Rescan`), the safety net that compares ``raw/`` with the
ledger at start-up and every ``rescan_seconds``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers.api import BaseObserver

from lakebox.core.errors import LakeboxError
from lakebox.process.runs import RunLedger
from lakebox.store.base import LAYOUT, InvalidKeyError, NoSuchKeyError, Store, validate_key
from lakebox.store.local import TMP_PREFIX
from lakebox.trigger.deadletter import FailedVersions
from lakebox.trigger.scheduler import Scheduler
from lakebox.trigger.state import Counters

log = logging.getLogger("lakebox.trigger")

#: Temp files of killed writers older than this are removed at start-up (live writers finish far sooner).
STALE_TEMP_SECONDS = 15 * 60


def recover(root: Path, reconcile_catalog: Callable[[], object], failed: FailedVersions,
            counters: Counters) -> None:
    """Make the lake consistent after a crash, before any new work starts (the caller holds the lock)."""
    sweep_temp_files(root)
    try:
        # A crash between the ledger write and the catalog update leaves the catalog behind processed/.
        # The crawl re-reads only changed footers, so it is cheap when nothing happened.
        reconcile_catalog()
    except LakeboxError as exc:  # an expected failure (a full disk, an unreadable catalog): its reason is enough
        counters.add("errors")
        log.error("catalog reconciliation at start-up failed: %s", exc)
    except Exception:  # noqa: BLE001 - a broken catalog must not stop files from being processed
        counters.add("errors")
        log.exception("catalog reconciliation at start-up failed")
    failed.load()


def sweep_temp_files(root: Path) -> None:
    """Remove temp files that killed writers left behind (invisible to readers, but they use disk)."""
    cutoff = time.time() - STALE_TEMP_SECONDS
    for prefix in LAYOUT:
        for dirpath, _dirs, files in os.walk(root / prefix):
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


@dataclass(frozen=True)
class Rescan:
    """The scan behind :meth:`Scheduler.rescan`: raw keys whose current version has no ok/rejected run."""

    store: Store
    ledger: RunLedger
    failed: FailedVersions
    delete_outputs: bool

    def __call__(self, redrive: bool) -> Iterator[str]:
        for key in self.ledger.pending():
            if self.failed.has(key) and not redrive:
                try:
                    if self.failed.is_failed(key, self.store.head_object(key).etag):
                        continue  # this version already exhausted its retries; wait for a new one
                except NoSuchKeyError:
                    continue
            yield key
        if self.delete_outputs:
            # Deletes missed while we were down (or whose clean-up a crash interrupted).
            present = {o.key for o in self.store.list_objects_v2("raw/")}
            for state in self.ledger.states():
                if state.raw_key not in present:
                    yield state.raw_key


class FileEvents:
    """The watchdog observer on ``raw/``: file events become the scheduler's hints."""

    def __init__(self, root: Path, scheduler: Scheduler, counters: Counters) -> None:
        self.root = root
        self._scheduler = scheduler
        self._counters = counters
        self._observer: BaseObserver | None = None

    def start(self) -> None:
        from watchdog.observers import Observer

        raw = self.root / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        observer = Observer()
        observer.schedule(_FsHandler(self), str(raw), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def stop(self, timeout: float) -> None:
        if self._observer is None:
            return
        try:
            self._observer.stop()
            self._observer.join(timeout)
        except Exception:  # noqa: BLE001 - stopping must always go on to release the watch lock
            log.exception("stopping the file observer failed")
        self._observer = None

    def _key_for(self, path: str | bytes) -> str | None:
        rel = os.path.relpath(os.fsdecode(path), self.root)
        if rel.startswith(".."):
            return None
        try:
            return validate_key(rel.replace(os.sep, "/"))
        except InvalidKeyError:
            return None

    def on_event(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        if kind in ("opened", "closed_no_write"):
            return  # reads (including our own DuckDB scans) change nothing
        if event.is_directory:
            if kind in ("created", "moved"):
                self._scheduler.request_rescan()  # a folder of files moved in: inotify reports only the folder
            return
        self._counters.add("events")
        if kind == "moved":
            src = self._key_for(event.src_path)
            if src:
                self._scheduler.hint(src)  # the old name is gone: a delete, as far as S3 is concerned
            dest = self._key_for(event.dest_path)
            if dest:
                self._scheduler.hint(dest, landed=True)
            return
        key = self._key_for(event.src_path)
        if key:
            self._scheduler.hint(key)


class _FsHandler(FileSystemEventHandler):
    """watchdog handler: forwards every event, never letting an exception kill the observer thread."""

    def __init__(self, events: FileEvents) -> None:
        self.events = events

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            self.events.on_event(event)
        except Exception:  # noqa: BLE001 - the observer thread must survive any single event
            log.exception("watcher could not handle %r", event)

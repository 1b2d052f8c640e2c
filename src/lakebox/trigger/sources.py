"""Where the watcher's work comes from: start-up recovery, the file observer, and the rescan.

Recovery runs before any new work starts: stale temp files of killed writers are swept, the catalog is
reconciled with ``processed/`` and the dead letters are loaded. Then hints arrive from watchdog events
(``_FsHandler`` -> ``_on_fs_event``) and from the rescan, the safety net that compares ``raw/`` with the
ledger (``Lake.pending()``) at start-up and every ``rescan_seconds``.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from lakebox.store.base import LAYOUT, InvalidKeyError, NoSuchKeyError, validate_key
from lakebox.store.local import TMP_PREFIX
from lakebox.trigger.deadletter import list_failed
from lakebox.trigger.state import WatcherState

log = logging.getLogger("lakebox.trigger")

#: Temp files of killed writers older than this are removed at start-up (live writers finish far sooner).
STALE_TEMP_SECONDS = 15 * 60


class SourcesMixin(WatcherState):
    """Start-up recovery, the watchdog observer and the rescan: everything that produces hints."""

    # --- start-up and recovery ---------------------------------------------------------------------------

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

    def _start_observer(self) -> None:
        from watchdog.observers import Observer

        raw = self.root / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        observer = Observer()
        observer.schedule(_FsHandler(self), str(raw), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer

    # --- file events and rescans ---------------------------------------------------------------------------

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
            present = {o.key for o in store.list_objects_v2("raw/")}
            for state in self.lake.ledger.states():
                if state.raw_key not in present:
                    self._hint(state.raw_key)
        with self._cv:
            self._counts["rescans"] += 1
            if self._periodic:
                self._next_rescan = time.monotonic() + self.rescan_seconds
            self._cv.notify_all()


class _FsHandler:
    """watchdog handler: forwards every event to the watcher, never letting an exception kill the observer."""

    def __init__(self, watcher: SourcesMixin) -> None:
        self.watcher = watcher

    def dispatch(self, event: Any) -> None:
        try:
            self.watcher._on_fs_event(event)
        except Exception:  # noqa: BLE001 - the observer thread must survive any single event
            log.exception("watcher could not handle %r", event)

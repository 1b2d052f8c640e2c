"""Applying the result retention policy (:mod:`lakebox.core.retention`) to a lake's ``enriched/``.

Only result pairs directly under ``enriched/`` whose name is an execution id are considered
(``enriched/<id>.csv`` and ``enriched/<id>.csv.metadata``); tables written by CREATE TABLE AS under
``enriched/tables/`` and anything else stay. A pair is deleted metadata first, so the execution leaves the
history (GetQueryExecution then answers InvalidRequestException, as Athena does for an unknown id) before its
rows go; a pair cut in half by a crash is still one result and is collected later.

Athena on AWS expires results with the bucket's lifecycle rule instead (``deploy/resources.py``); ``lakebox
gc`` applies this policy to an S3 lake too, through the same Store protocol.

The latest result of each named query is pinned: whoever writes one records its execution id in
``_lakebox/queries/<name>.latest`` (:func:`mark_named_latest`), beside the saved queries' ``<name>.sql``, so
the deployed dashboard's role needs no grant beyond the one it has for saved queries.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lakebox.core.retention import Removal, ResultEntry, results_to_delete
from lakebox.store.base import NoSuchKeyError, Store, validate_key

log = logging.getLogger("lakebox.query.retention")

ENRICHED = "enriched/"
NAMED_RESULTS = "_lakebox/queries/"
_LATEST = ".latest"
_RESULT_KEY = re.compile(r"enriched/([0-9a-fA-F-]{8,64})\.csv(\.metadata)?")
_METADATA = ".csv.metadata"
#: Where a local lake keeps :class:`ResultSweeper`'s estimate between processes.
SWEEP_STATE = "_lakebox/results-sweep.json"


@dataclass
class GcReport:
    """What one collection removed (or, with ``dry_run``, would remove) and what it kept."""

    removed: list[Removal] = field(default_factory=list)
    kept: int = 0
    kept_bytes: int = 0
    dry_run: bool = False

    @property
    def freed_bytes(self) -> int:
        return sum(r.entry.size for r in self.removed)


def mark_named_latest(store: Store, name: str, execution_id: str) -> None:
    """Record ``execution_id`` as the latest result of the named query ``name`` (it is then never collected)."""
    store.put_object(validate_key(NAMED_RESULTS + name + _LATEST), execution_id.encode("utf-8"))


def forget_named_latest(store: Store, name: str) -> None:
    """Unpin the latest result of ``name`` (a saved query that was deleted); it then expires like any other."""
    store.delete_object(validate_key(NAMED_RESULTS + name + _LATEST))


def named_latest_ids(store: Store) -> set[str]:
    """The execution ids recorded by :func:`mark_named_latest`, one per named query."""
    ids: set[str] = set()
    for obj in store.list_objects_v2(NAMED_RESULTS):
        if not obj.key.endswith(_LATEST):
            continue  # a saved query's SQL
        try:
            ids.add(store.get_object(obj.key).decode("utf-8", "replace").strip())
        except NoSuchKeyError:
            continue  # replaced or removed since the listing
    return ids


def list_results(store: Store, pinned: Iterable[str] = ()) -> list[ResultEntry]:
    """The result pairs under ``enriched/``: bytes of both files, the newer modification time."""
    keep = set(pinned)
    sizes: dict[str, int] = {}
    modified: dict[str, dt.datetime] = {}
    for obj in store.list_objects_v2(ENRICHED):
        m = _RESULT_KEY.fullmatch(obj.key)
        if m is None:
            continue
        eid = m.group(1)
        sizes[eid] = sizes.get(eid, 0) + obj.size
        modified[eid] = max(modified.get(eid, obj.modified), obj.modified)
    return [ResultEntry(eid, sizes[eid], modified[eid], pinned=eid in keep) for eid in sizes]


def delete_result(store: Store, execution_id: str) -> None:
    """Delete one result pair, metadata first (the execution leaves the history before its rows go)."""
    store.delete_object(f"{ENRICHED}{execution_id}{_METADATA}")
    store.delete_object(f"{ENRICHED}{execution_id}.csv")


def collect_results(store: Store, *, retention_days: float, max_bytes: int, now: dt.datetime | None = None,
                    pinned: Iterable[str] = (), dry_run: bool = False) -> GcReport:
    """Apply the retention policy to ``enriched/``: list, decide (pure), delete unless ``dry_run``.

    Named queries' latest results and the ids in ``pinned`` are kept whatever their age and size."""
    keep = named_latest_ids(store) | set(pinned)
    entries = list_results(store, keep)
    removed = results_to_delete(entries, now or dt.datetime.now(dt.UTC), retention_days, max_bytes)
    if not dry_run:
        for r in removed:
            delete_result(store, r.entry.execution_id)
    gone = {r.entry.execution_id for r in removed}
    rest = [e for e in entries if e.execution_id not in gone]
    return GcReport(removed, len(rest), sum(e.size for e in rest), dry_run)


class ResultSweeper:
    """Keeps ``enriched/`` within the retention settings as results are written, without a listing per query.

    It keeps an estimate of the bytes under ``enriched/``: the first write lists and collects (that also
    expires old results), each later write adds its bytes, and only when the estimate would pass the cap, or
    ``sweep_seconds`` have passed since the last collection, does it list and collect again. An automatic
    collection brings the total down to three quarters of the cap (``lakebox gc`` to the cap itself), so
    between two listings at least a quarter of the cap has been written: the listing is amortised over
    those writes.

    With a ``state_file`` the estimate and the time of the last collection outlive the process, so a
    one-shot ``lakebox query`` does not list all of ``enriched/`` (which grows with the history) before it
    can answer: it adds its bytes to the file's estimate, and lists only when that is due as above. The file
    is an estimate, written without fsync: processes writing at the same moment may each miss the other's
    bytes, and a lost file only means one listing. The next collection counts everything again.
    """

    def __init__(self, store: Store, *, retention_days: float, max_bytes: int, sweep_seconds: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic, state_file: Path | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._retention_days = retention_days
        self._max_bytes = max_bytes
        self._sweep_seconds = sweep_seconds
        self._clock = clock
        self._wall = wall_clock
        self._state_file = state_file
        self._lock = threading.Lock()
        self._sweeping = threading.Lock()
        self._estimate: int | None = None
        self._last: float = 0.0
        #: Wall-clock time of the last collection, as the state file records it.
        self._swept_at: float = 0.0
        self.sweeps = 0

    @property
    def enabled(self) -> bool:
        return self._retention_days > 0 or self._max_bytes > 0

    def wrote(self, execution_id: str, nbytes: int) -> GcReport | None:
        """A result of ``nbytes`` was written; collect if the cap may be exceeded or a sweep is due.

        The result just written is kept by this collection (its caller is about to answer with it).
        Returns the report when a collection ran. A collection that fails is logged, never raised: the
        query that triggered it has succeeded."""
        if not self.enabled:
            return None
        with self._lock:
            if self._estimate is None:
                self._load_state()
            due = (self._estimate is None or self._clock() - self._last >= self._sweep_seconds
                   or (self._max_bytes > 0 and self._estimate + nbytes > self._max_bytes))
            if not due:
                assert self._estimate is not None
                self._estimate += nbytes
                self._save_state()
                return None
        if not self._sweeping.acquire(blocking=False):
            with self._lock:  # another thread is collecting; its listing may miss this result, so count it
                self._estimate = (self._estimate or 0) + nbytes
            return None
        try:
            target = max(1, self._max_bytes * 3 // 4) if self._max_bytes > 0 else 0
            report = collect_results(self._store, retention_days=self._retention_days, max_bytes=target,
                                     pinned=[execution_id])
        except Exception:  # the query succeeded; a failed sweep is retried by the next write
            log.exception("could not collect old query results in enriched/")
            return None
        finally:
            self._sweeping.release()
        with self._lock:
            self._estimate = report.kept_bytes
            self._last = self._clock()
            self._swept_at = self._wall()
            self.sweeps += 1
            self._save_state()
        if report.removed:
            log.info("removed %d old query result(s) from enriched/, %d bytes", len(report.removed),
                     report.freed_bytes)
        return report

    def _load_state(self) -> None:
        """Take the estimate from the state file when its collection is recent (the caller holds the lock)."""
        if self._state_file is None:
            return
        try:
            doc = json.loads(self._state_file.read_text(encoding="utf-8"))
            estimate, swept_at = int(doc["estimate"]), float(doc["swept_at"])
        except (OSError, ValueError, KeyError, TypeError):
            return  # none yet, or unreadable: list once, as without a file
        age = self._wall() - swept_at
        if 0 <= age < self._sweep_seconds and estimate >= 0:
            self._estimate, self._swept_at = estimate, swept_at
            self._last = self._clock() - age

    def _save_state(self) -> None:
        """Write the estimate for the next process (the caller holds the lock); failing to is not an error."""
        if self._state_file is None or self._estimate is None:
            return
        tmp = self._state_file.with_name(f".{self._state_file.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            self._state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"estimate": self._estimate, "swept_at": self._swept_at}), encoding="utf-8")
            os.replace(tmp, self._state_file)
        except OSError as exc:
            log.warning("could not record the size of enriched/ in %s: %s", self._state_file, exc)
            tmp.unlink(missing_ok=True)

"""One lake and its pipeline stages, wired together: the composition root the CLI and the dashboard use.

``Lake`` builds its store, catalog, engine and ledger lazily (no connections at import or construction
time) and offers the pipeline's verbs: ingest files, process pending raw objects, crawl, query, report
status. It hands the watcher and the dashboard only the narrow things they use (``Lake.watcher`` builds a
watcher from the store, the ledger, the event handler and the catalog's update path); neither imports it.
"""

from __future__ import annotations

import datetime as dt
import functools
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from lakebox.catalog.base import Catalog
from lakebox.catalog.crawl import CatalogUpdater, open_catalog
from lakebox.catalog.crawler import TableDef
from lakebox.config import Settings
from lakebox.core.errors import InvalidInputError
from lakebox.core.names import object_name
from lakebox.query.base import QueryEngine, QueryResult
from lakebox.query.named import NamedQuery, load_named_queries
from lakebox.query.retention import SWEEP_STATE, GcReport, ResultSweeper, collect_results, mark_named_latest
from lakebox.store import open_store
from lakebox.store.base import Store, validate_key
from lakebox.store.diskspace import disk_full

if TYPE_CHECKING:
    # Processing (the "Lambda") is imported where a verb processes: `lakebox query` and `status` never do.
    from lakebox.core.runs import RunRecord
    from lakebox.process.keylocks import KeyLocks
    from lakebox.process.runs import RunLedger

    # multiprocessing and the worker protocol: only the dashboard's server starts workers.
    from lakebox.query.workers import WorkerEngine
    from lakebox.trigger.watcher import Watcher, WatchOverrides


@dataclass
class IngestItem:
    source: Path
    key: str
    run: RunRecord


class Lake:
    """A lake (folder or bucket) with its catalog and query engine."""

    def __init__(self, settings: Settings, *, create: bool = True, concurrency: int | None = None) -> None:
        """``create=False`` for read-only commands: a lake folder that does not exist is an error
        (:class:`~lakebox.store.base.NoSuchBucketError`), never created. ``concurrency``: how many queries
        the embedded engine should expect at once (a command runs one); by default a server's share."""
        self.settings = settings
        self._create = create
        self._concurrency = concurrency
        self._listeners: list[Callable[[RunRecord], None]] = []

    @cached_property
    def store(self) -> Store:
        return open_store(self.settings.lake, endpoint_url=self.settings.endpoint_url, region=self.settings.region,
                          create=self._create)

    @cached_property
    def catalog(self) -> Catalog:
        cat = open_catalog(self.settings, self.store)
        cat.create_database(self.settings.database)
        return cat

    @cached_property
    def catalog_updater(self) -> CatalogUpdater:
        return CatalogUpdater(self.settings, self.store, self.catalog)

    @cached_property
    def engine(self) -> QueryEngine:
        if self.settings.engine == "athena":
            from lakebox.query.athena import AthenaEngine

            return AthenaEngine.from_settings(self.settings, self.store)
        from lakebox.query.engine import DuckEngine

        if self._concurrency is None:
            return DuckEngine(self.settings, self.store, self.catalog, sweeper=self.result_sweeper)
        return DuckEngine(self.settings, self.store, self.catalog, sweeper=self.result_sweeper,
                          concurrency=self._concurrency)

    @cached_property
    def result_sweeper(self) -> ResultSweeper:
        """Keeps ``enriched/`` within ``result_retention_days`` and ``result_max_mb`` as this process writes
        results: the embedded engine's and, in the dashboard, its query workers' (``query.retention``)."""
        return ResultSweeper(self.store, retention_days=self.settings.result_retention_days,
                             max_bytes=self.settings.result_max_mb * 1024 * 1024,
                             state_file=self.store.local_path(SWEEP_STATE))

    def worker_engine_factory(self) -> Callable[[], WorkerEngine] | None:
        """What the dashboard's query workers build their engine with (``query.workers``): a picklable
        factory, or None when queries do not run in DuckDB on a local lake (Athena bounds its own)."""
        if self.settings.engine != "duckdb" or self.settings.is_s3:
            return None
        return functools.partial(worker_engine, self.settings)

    @cached_property
    def key_locks(self) -> KeyLocks:
        """The per-key locks every in-process writer and processor of ``raw/`` holds (process/keylocks.py)."""
        from lakebox.process.keylocks import KeyLocks

        return KeyLocks()

    @cached_property
    def ledger(self) -> RunLedger:
        from lakebox.process.runs import RunLedger

        return RunLedger(self.store)

    @cached_property
    def named_queries(self) -> dict[str, NamedQuery]:
        return load_named_queries()

    # --- events ----------------------------------------------------------------------------------------

    def on_processed(self, listener: Callable[[RunRecord], None]) -> None:
        """Call ``listener`` after every processed file (the dashboard invalidates its cache here)."""
        self._listeners.append(listener)

    def notify_changed(self, run: RunRecord) -> None:
        """Tell listeners (the dashboard's cache) that a run finished and the catalog may have changed."""
        for fn in self._listeners:
            fn(run)

    def _notify(self, runs: list[RunRecord]) -> list[RunRecord]:
        for run in runs:
            if run.status in ("ok", "rejected"):
                self.notify_changed(run)
        return runs

    def update_catalog(self, run: RunRecord) -> None:
        """Bring the run's table up to date: the catalog's one update path, after processing and deletes."""
        self.catalog_updater.update_for_run(run)

    def update_catalog_many(self, runs: list[RunRecord]) -> None:
        """The same, for the runs of a batch processed together: one catalog update per table."""
        self.catalog_updater.update_for_runs(runs)

    # --- verbs -----------------------------------------------------------------------------------------

    def _watched_event(self, event: dict[str, Any]) -> list[RunRecord]:
        """The watcher's "Lambda": the event's runs, then background compaction of the tables they wrote to
        once they have ``compact_min_files`` small files (off by default)."""
        runs = self.handle_event(event)
        self._compact_small(runs)
        return runs

    def _watched_batch(self, keys: list[str]) -> list[RunRecord | Exception] | None:
        """The same for files processed together (``handle_batch``); None passes on a wrapper's "no
        batching now" (the watcher's ``BatchHandler`` contract)."""
        from lakebox.core.runs import RunRecord

        out = self.handle_batch(keys)
        self._compact_small([r for r in out or [] if isinstance(r, RunRecord)])
        return out

    def _compact_small(self, runs: list[RunRecord]) -> None:
        if self.settings.compact_min_files > 0:
            for run in runs:
                self.catalog_updater.compact_when_small(run, self.settings.compact_min_files)

    def is_empty(self) -> bool:
        return next(iter(self.store.list_objects_v2("raw/")), None) is None

    def process(self, key: str, *, etag: str | None = None, force: bool = False,
                source_name: str | None = None) -> RunRecord:
        """Process one raw object (the Lambda), then bring the catalog up to date."""
        from lakebox.process.handler import process_object

        run = process_object(self.settings, self.store, key, etag=etag, force=force, after=self.update_catalog,
                             locks=self.key_locks, source_name=source_name)
        self._notify([run])
        return run

    def handle_event(self, event: dict[str, Any]) -> list[RunRecord]:
        """Deliver an S3 notification to the processor, exactly as Lambda would (every record)."""
        from lakebox.process.handler import handle_event

        return self._notify(handle_event(event, self.settings, self.store, after=self.update_catalog,
                                         locks=self.key_locks))

    def handle_batch(self, keys: list[str]) -> list[RunRecord | Exception]:
        """Process raw objects that are ready together (the watcher's batches): per key its run or its
        exception (see ``process.handler.process_objects``). The watcher's ``BatchHandler`` contract also
        allows None ("no batching now: deliver one event per key"), which a wrapper that must see every event
        returns."""
        from lakebox.core.runs import RunRecord
        from lakebox.process.handler import process_objects

        out = process_objects(self.settings, self.store, keys, after_many=self.update_catalog_many,
                              locks=self.key_locks)
        self._notify([r for r in out if isinstance(r, RunRecord)])
        return out

    def raw_key_for(self, path: Path, prefix: str = "raw/") -> str:
        return validate_key(prefix + _safe_name(path.name))

    def ingest(
        self, paths: Iterable[Path], progress: Callable[[Path, RunRecord], None] | None = None
    ) -> list[IngestItem]:
        """Copy each file into ``raw/`` (atomically) and process it.

        Two inputs that would land on the same key are refused before anything is written (the second would
        silently replace the first). Replacing an object already in ``raw/`` is allowed and noted in the run's
        warnings, because its processed output is replaced too.
        """
        paths = list(paths)
        keys = [self.raw_key_for(p) for p in paths]
        seen: dict[str, Path] = {}
        for path, key in zip(paths, keys, strict=True):
            if key in seen:
                raise InvalidInputError(f"{seen[key]} and {path} would both land on {key}; rename one of them")
            seen[key] = path
        items: list[IngestItem] = []
        for path, key in zip(paths, keys, strict=True):
            tmp = _copy_to_temp(self.store, key, path)
            # Writing the object and processing it hold the key's lock together, so the run describes
            # exactly the bytes this call wrote (not a concurrent writer's) and the watcher skips it.
            with self.key_locks.hold(key):
                replaced = self.store.exists(key)
                try:
                    self.store.upload_file(key, tmp)
                finally:
                    tmp.unlink(missing_ok=True)  # S3: the upload leaves the local copy behind
                run = self.process(key, source_name=_renamed(path.name, key))
            if replaced and run.status != "skipped":
                run.warnings.append(f"replaced the earlier {key} and its output")
            items.append(IngestItem(path, key, run))
            if progress:
                progress(path, run)
        return items

    def upload(self, filename: str, save: Callable[[Path], None]) -> tuple[str, RunRecord]:
        """Land an uploaded file in ``raw/`` under a sanitised name (``save`` writes it to the path it is
        given) and process it like any other raw object. Returns the key and the run."""
        source = Path(filename or "upload.csv")
        key = self.raw_key_for(source)
        tmp = self.store.temp_path(key)
        try:
            save(tmp)
            with self.key_locks.hold(key):  # see ingest: write and process as one step per key
                self.store.upload_file(key, tmp)
                run = self.process(key, source_name=_renamed(source.name, key))
        finally:
            tmp.unlink(missing_ok=True)
        return key, run

    def pending(self) -> list[str]:
        """Raw CSV keys whose current version has not been processed (or whose last attempt errored)."""
        return self.ledger.pending()

    def process_pending(self, progress: Callable[[str, RunRecord], None] | None = None) -> list[RunRecord]:
        runs = []
        for key in self.pending():
            run = self.process(key)
            runs.append(run)
            if progress:
                progress(key, run)
        return runs

    def crawl(self) -> list[TableDef]:
        return self.catalog_updater.crawl()

    def seed_sample(self, rows: int = 200, as_of: dt.date | None = None) -> RunRecord:
        """Write sample orders to ``raw/sample_orders.csv`` and process them (used by ``up`` on an empty lake)."""
        key = "raw/sample_orders.csv"
        tmp = self.store.temp_path(key)
        try:
            from lakebox.process.sample import write_sample  # DuckDB: not for `lakebox status`

            write_sample(tmp, rows, as_of or self.settings.reference_date())
            self.store.upload_file(key, tmp)
        finally:
            tmp.unlink(missing_ok=True)
        return self.process(key)

    def run_named(self, query: NamedQuery, params: dict[str, str] | None = None, **kw: Any) -> QueryResult:
        """Run a named (or saved) query; a result it writes becomes the query's latest, kept by the
        result retention (see :mod:`lakebox.query.retention`)."""
        result = self.engine.run_query(query.render(params), **kw)
        if result.state == "SUCCEEDED" and kw.get("write_result", True):
            mark_named_latest(self.store, query.name, result.execution_id)
        return result

    def collect_results(self, *, dry_run: bool = False) -> GcReport:
        """Apply the result retention settings to enriched/ now (``lakebox gc``)."""
        return collect_results(self.store, retention_days=self.settings.result_retention_days,
                               max_bytes=self.settings.result_max_mb * 1024 * 1024, dry_run=dry_run)

    def status(self) -> dict[str, Any]:
        return {
            "lake": self.store.url,
            "tables": [t.to_dict() for t in self.catalog.get_tables()],
            "runs": [r.to_dict() for r in self.ledger.recent(20)],
            "totals": self.ledger.totals(),
            "pending": self.pending(),
        }


    # --- the trigger -------------------------------------------------------------------------------------

    def watcher(self, **overrides: Unpack[WatchOverrides]) -> Watcher:
        """A watcher on this lake's ``raw/``; ``overrides`` take precedence over the settings.

        Raises ``WatchError`` when the lake is not a local folder."""
        from lakebox.trigger.watcher import WatchConfig, Watcher  # watchdog: not for `lakebox status`

        return Watcher(
            store=self.store,
            ledger=self.ledger,
            # The watcher's "Lambda" (handle_event / handle_batch, looked up at each call, so a wrapper that a
            # test installs is what runs), then background compaction.
            handler=self._watched_event,
            batch_handler=self._watched_batch,
            update_catalog=self.update_catalog,
            reconcile_catalog=self.crawl,
            config=WatchConfig.from_settings(self.settings, **overrides),
        )


def worker_engine(settings: Settings) -> WorkerEngine:
    """A DuckDB engine on the lake of ``settings``, built inside a query worker process: it opens the lake
    and its catalog as they are (it never creates either) and runs read-only queries. It collects no old
    results itself: the server counts what every worker writes (``Lake.result_sweeper``)."""
    from lakebox.query.engine import DuckEngine

    store = open_store(settings.lake, endpoint_url=settings.endpoint_url, region=settings.region, create=False)
    return DuckEngine(settings, store, open_catalog(settings, store), concurrency=1)  # one query at a time


def _safe_name(name: str) -> str:
    """A file name safe as the last segment of a key (see :func:`lakebox.core.names.object_name`)."""
    return object_name(name)


def _renamed(name: str, key: str) -> str | None:
    """``name`` when sanitising changed it (kept in the run record), else None."""
    return name if name != key.rsplit("/", 1)[-1] else None


def _copy_to_temp(store: Store, key: str, src: Path) -> Path:
    tmp = store.temp_path(key)
    try:
        shutil.copyfile(src, tmp)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        full = disk_full(exc, key, tmp.parent, src.stat().st_size)
        if full is not None:
            raise full from exc
        raise
    return tmp

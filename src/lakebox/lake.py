"""One lake and its pipeline stages, wired together: the object the CLI, the watcher and the web app share.

``Lake`` builds its store, catalog and engine lazily (no connections at import or construction time) and
offers the pipeline's verbs: ingest files, process pending raw objects, crawl, query, report status.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from lakebox.catalog.base import Catalog
from lakebox.catalog.crawl import CatalogUpdater, open_catalog
from lakebox.catalog.crawler import TableDef
from lakebox.config import Settings
from lakebox.core.errors import InvalidInputError
from lakebox.core.names import object_name
from lakebox.core.runs import RunRecord
from lakebox.process.handler import handle_event, process_object
from lakebox.process.runs import RunLedger
from lakebox.process.sample import write_sample
from lakebox.query.base import QueryEngine, QueryResult
from lakebox.query.named import NamedQuery, load_named_queries
from lakebox.store import open_store
from lakebox.store.base import Store, validate_key


@dataclass
class IngestItem:
    source: Path
    key: str
    run: RunRecord


class Lake:
    """A lake (folder or bucket) with its catalog and query engine."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._listeners: list[Callable[[RunRecord], None]] = []
        self._lock = threading.Lock()

    @cached_property
    def store(self) -> Store:
        return open_store(self.settings.lake, endpoint_url=self.settings.endpoint_url, region=self.settings.region)

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

        return DuckEngine(self.settings, self.store, self.catalog)

    @cached_property
    def ledger(self) -> RunLedger:
        return RunLedger(self.store)

    @cached_property
    def named_queries(self) -> dict[str, NamedQuery]:
        return load_named_queries()

    # --- events ----------------------------------------------------------------------------------------

    def on_processed(self, listener: Callable[[RunRecord], None]) -> None:
        """Call ``listener`` after every processed file (the dashboard invalidates its cache here)."""
        self._listeners.append(listener)

    def _after(self, settings: Settings, store: Store, run: RunRecord) -> None:
        self.catalog_updater.update_for_run(run)

    def notify_changed(self, run: RunRecord) -> None:
        """Tell listeners (the dashboard's cache) that a run finished and the catalog may have changed."""
        for fn in self._listeners:
            fn(run)

    def _notify(self, runs: list[RunRecord]) -> list[RunRecord]:
        for run in runs:
            if run.status in ("ok", "rejected"):
                self.notify_changed(run)
        return runs

    # --- verbs -----------------------------------------------------------------------------------------

    def is_empty(self) -> bool:
        return next(iter(self.store.list_objects_v2("raw/")), None) is None

    def process(self, key: str, *, etag: str | None = None, force: bool = False) -> RunRecord:
        """Process one raw object (the Lambda), then bring the catalog up to date."""
        run = process_object(self.settings, self.store, key, etag=etag, force=force, after=self._after)
        self._notify([run])
        return run

    def handle_event(self, event: dict[str, Any]) -> list[RunRecord]:
        """Deliver an S3 notification to the processor, exactly as Lambda would (every record)."""
        return self._notify(handle_event(event, self.settings, self.store, after=self._after))

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
            replaced = self.store.exists(key)
            tmp = _copy_to_temp(self.store, key, path)
            try:
                self.store.upload_file(key, tmp)
            finally:
                tmp.unlink(missing_ok=True)  # S3: the upload leaves the local copy behind
            run = self.process(key)
            if path.name != key.rsplit("/", 1)[-1]:
                run.source_name = path.name
            if replaced and run.status != "skipped":
                run.warnings.append(f"replaced the earlier {key} and its output")
            items.append(IngestItem(path, key, run))
            if progress:
                progress(path, run)
        return items

    def pending(self) -> list[str]:
        """Raw CSV keys whose current version has not been processed (or whose last attempt errored)."""
        states = {s.raw_key: s for s in self.ledger.states()}
        out = []
        for obj in self.store.list_objects_v2("raw/"):
            if not obj.key.endswith(".csv"):
                continue
            s = states.get(obj.key)
            if s is None or s.etag != obj.etag or s.status not in ("ok", "rejected"):
                out.append(obj.key)
        return out

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
            write_sample(tmp, rows, as_of or self.settings.reference_date())
            self.store.upload_file(key, tmp)
        finally:
            tmp.unlink(missing_ok=True)
        return self.process(key)

    def run_named(self, name: str, params: dict[str, str] | None = None, **kw: Any) -> QueryResult:
        if name not in self.named_queries:
            raise KeyError(name)
        return self.engine.run_query(self.named_queries[name].render(params), **kw)

    def status(self) -> dict[str, Any]:
        return {
            "lake": self.store.url,
            "tables": [t.to_dict() for t in self.catalog.get_tables()],
            "runs": [r.to_dict() for r in self.ledger.recent(20)],
            "totals": self.ledger.totals(),
            "pending": self.pending(),
        }


def _safe_name(name: str) -> str:
    """A file name safe as the last segment of a key (see :func:`lakebox.core.names.object_name`)."""
    return object_name(name)


def _copy_to_temp(store: Store, key: str, src: Path) -> Path:
    import shutil

    tmp = store.temp_path(key)
    shutil.copyfile(src, tmp)
    return tmp

"""The one catalog update path: crawling a lake's processed folders into its catalog, for either backend.

``CatalogUpdater.update_for_run(run)`` is what every caller uses after a file is processed (or its raw object
deleted): the CLI (``Lake.process``/``ingest``), the watcher, the dashboard's upload and the Lambda. It is
idempotent and owns its lock; ``crawl()`` is ``lakebox crawl`` (Glue's StartCrawler, run to completion).

Correctness under concurrency: a crawl lists the table's folder, then writes the table. Two crawls that
interleave could let the slower one write a listing without the other's file, so crawls of one lake are
serialised by a lock shared by every updater of that lake in the process, and each ``update_for_run`` is
satisfied only by a crawl that *started after* it was called (after the run's output was published).
Requests that arrive while a crawl runs are coalesced into the next one, so N workers finishing together
cost at most two crawls, not N.

Cost per file: when the run says what it wrote (``RunRecord.output_files``, from the writer) and every output
is still there with that ETag, the local catalog takes the file in as a delta (:meth:`Catalog.apply_files`):
no listing, no footer read, nothing rewritten per file already in the table, so the thousandth file costs
what the first did. Anything else (Glue, a schema change, a deleted raw object, an older run) crawls.

Across processes (concurrent Lambda invocations on Glue) no lock is possible: there the per-run update only
adds partitions (``prune=False``) and never deletes what its listing missed; ``lakebox crawl`` prunes.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lakebox.catalog.base import Catalog, CatalogConfigError
from lakebox.catalog.crawler import ColumnDef, FileInfo, TableDef, build_table, sanitize_table_name
from lakebox.catalog.local import LocalCatalog
from lakebox.config import Settings
from lakebox.store.base import NoSuchKeyError, Store

if TYPE_CHECKING:
    from lakebox.catalog.compact import Compacted
    from lakebox.core.runs import RunRecord

log = logging.getLogger("lakebox.catalog")

#: The local catalog's SQLite file, inside the lake.
CATALOG_KEY = "_lakebox/catalog.sqlite"

#: The name of the local catalog's one crawler (every dataset's processed folder).
LOCAL_CRAWLER = "lakebox"


def open_catalog(settings: Settings, store: Store) -> Catalog:
    """The catalog for this lake: a SQLite file inside it, or Glue when ``catalog = "glue"``."""
    if settings.catalog == "glue":
        from lakebox.catalog.glue import GlueCatalog  # here: a local lake's commands never load it

        return GlueCatalog(settings.lake if settings.is_s3 else "", region=settings.region,
                           endpoint_url=settings.endpoint_url, store=store)
    path = store.local_path(CATALOG_KEY)
    if path is None:
        raise CatalogConfigError(
            f"the local catalog needs a local lake; {store.url} needs catalog = \"glue\" (LAKEBOX_CATALOG=glue)")
    catalog = LocalCatalog(path)
    catalog.register_crawler(LOCAL_CRAWLER, lambda: CatalogUpdater(settings, store, catalog).crawl())
    return catalog


def table_location(settings: Settings, prefix: str) -> tuple[str, str]:
    """(database, table name) for a processed prefix: the dataset's explicit ``table_name`` if it has one,
    else the folder name plus the table prefix, sanitised as Glue's crawler names tables."""
    for d in settings.datasets:
        if d.processed_prefix == prefix and d.table_name:
            return settings.database, sanitize_table_name(d.table_name)
    return settings.database, sanitize_table_name(prefix, settings.table_prefix)


@dataclass
class _LakeUpdates:
    """Per lake and process: the crawl lock and, per processed prefix, update tickets issued and covered."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    #: Held by the one background compaction of this lake (``compact_when_small``).
    compacting: threading.Lock = field(default_factory=threading.Lock)
    tickets: threading.Lock = field(default_factory=threading.Lock)
    requested: Counter[str] = field(default_factory=Counter)
    covered: Counter[str] = field(default_factory=Counter)


_LAKES: dict[str, _LakeUpdates] = {}
_LAKES_LOCK = threading.Lock()


def _updates_for(url: str) -> _LakeUpdates:
    with _LAKES_LOCK:
        return _LAKES.setdefault(url, _LakeUpdates())


class CatalogUpdater:
    """Brings a lake's catalog in line with its processed folders (the crawler, for either backend).

    On Glue with ``glue_crawler`` set, :meth:`update_for_run` starts that crawler instead of writing the table
    itself (the deployed stack's "crawler" mode).
    """

    def __init__(self, settings: Settings, store: Store, catalog: Catalog) -> None:
        self.settings = settings
        self.store = store
        self.catalog = catalog
        on_glue = settings.catalog == "glue"
        self.crawler_name = (settings.glue_crawler or None) if on_glue else None
        # Concurrent Lambda invocations write Glue from separate processes: the per-run update only adds.
        self.prune_on_update = not on_glue
        self._updates = _updates_for(store.url)

    @classmethod
    def open(cls, settings: Settings, store: Store) -> CatalogUpdater:
        """An updater on this lake's catalog (the Lambda's path; ``Lake`` shares its own catalog instead)."""
        return cls(settings, store, open_catalog(settings, store))

    def crawl(self) -> list[TableDef]:
        """``lakebox crawl``: crawl every dataset's processed folder, pruning what is gone."""
        self.catalog.create_database(self.settings.database)
        out = []
        for prefix in sorted({d.processed_prefix for d in self.settings.datasets}):
            table = self.crawl_prefix(prefix)
            if table is not None:
                out.append(table)
        return out

    def crawl_prefix(self, prefix: str, *, prune: bool = True) -> TableDef | None:
        """Crawl one include path (a processed/ folder) into one table; unchanged files are not re-read.

        Returns the table as stored, or None when the folder holds no readable data (the table is deleted
        when ``prune``)."""
        with self._updates.lock:
            return self._crawl_prefix(prefix, prune)

    def update_for_run(self, run: RunRecord) -> TableDef | None:
        """After ``run`` published (or removed) its outputs: bring its dataset's table up to date.

        Idempotent, and safe from any thread: returns once a crawl that started after this call has finished
        (its own, or a concurrent caller's, which then returns None). Starts the Glue crawler instead when one
        is configured."""
        prefix = next((d.processed_prefix for d in self.settings.datasets if d.name == run.dataset), None)
        if prefix is None:
            return None
        if self.crawler_name:
            self.catalog.start_crawler(self.crawler_name)  # False (running) is fine: that run covers us
            return None
        added = self._published_files(run)
        if added:
            table = self._apply_run(prefix, run, added)
            if table is not None:
                return table
        return self._crawl_after(prefix, added)

    def _crawl_after(self, prefix: str, described: list[FileInfo]) -> TableDef | None:
        """A crawl of ``prefix`` that started after this call (its own, or a concurrent caller's, which then
        returns None); ``described`` files need no footer read."""
        updates = self._updates
        with updates.tickets:
            updates.requested[prefix] += 1
            ticket = updates.requested[prefix]
        with updates.lock:
            if updates.covered[prefix] >= ticket:
                return None  # a crawl that began after our request already finished
            with updates.tickets:
                start = updates.requested[prefix]
            table = self._crawl_prefix(prefix, self.prune_on_update, described)
            updates.covered[prefix] = start
            return table

    def update_for_runs(self, runs: list[RunRecord]) -> None:
        """After several runs published their outputs together (a batch): one catalog update per table.

        When every run of a table described what it wrote, the table takes them all in as one delta (one
        catalog transaction, one data-version change, however many files), or, when the table does not exist
        yet, one crawl creates it; otherwise, and on Glue with a crawler, each run goes through
        :meth:`update_for_run` (whose crawls coalesce)."""
        by_prefix: dict[str, list[RunRecord]] = {}
        for run in runs:
            prefix = next((d.processed_prefix for d in self.settings.datasets if d.name == run.dataset), None)
            if prefix is not None:
                by_prefix.setdefault(prefix, []).append(run)
        for prefix, group in by_prefix.items():
            described = [self._published_files(run) for run in group]
            if len(group) > 1 and not self.crawler_name and all(described):
                added = [f for files in described for f in files]
                if self._apply_runs(prefix, group, added) is not None:
                    continue
                if self.catalog.get_table(*table_location(self.settings, prefix)) is None:
                    self._crawl_after(prefix, added)  # the table's first files: one crawl creates it
                    continue
            for run in group:
                self.update_for_run(run)

    def _apply_runs(self, prefix: str, runs: list[RunRecord], added: list[FileInfo]) -> TableDef | None:
        """Several runs' outputs as one catalog delta. None (nothing written) when a run's raw object has rows
        in a compacted file, which :meth:`_apply_run` rewrites one raw object at a time, or when the
        catalog says the change needs a crawl."""
        database, name = table_location(self.settings, prefix)
        with self._updates.lock:
            for run in runs:
                skip = {*run.output_keys, *run.replaced_keys}
                if any(f.key not in skip for f in self.catalog.files_from_source(database, name, run.raw_key)):
                    return None
            return self.catalog.apply_files(database, name, added, [k for r in runs for k in r.replaced_keys])

    def _apply_run(self, prefix: str, run: RunRecord, added: list[FileInfo]) -> TableDef | None:
        """The run's outputs as a catalog delta, with the raw object's old rows taken out of any file they
        were compacted into (rewritten without them), in one catalog transaction."""
        database, name = table_location(self.settings, prefix)
        skip = {*run.output_keys, *run.replaced_keys}
        with self._updates.lock:
            holders = [f for f in self.catalog.files_from_source(database, name, run.raw_key) if f.key not in skip]
            rewritten: list[FileInfo] = []
            emptied: list[str] = []
            if holders:
                # DuckDB is imported only when a file has to be rewritten: `lakebox status` never needs it.
                from lakebox.catalog.compact import drop_source_rows

                rewritten, emptied = drop_source_rows(self.store, holders, run.raw_key, self.settings.memory_limit,
                                                     self.settings.row_group_mb)
            table = self.catalog.apply_files(database, name, [*added, *rewritten], [*run.replaced_keys, *emptied])
            for key in emptied if table is not None else [f.key for f in rewritten]:
                self.store.delete_object(key)  # after the swap: readers never see the rows twice or not at all
        return table

    def compact(self, target_bytes: int | None = None) -> list[Compacted]:
        """``lakebox compact``: merge each table's small files into files of about ``target_bytes`` (128 MB by
        default), swapping them into the catalog under the update lock (see :mod:`lakebox.catalog.compact`)."""
        from lakebox.catalog.compact import DEFAULT_TARGET_BYTES, compact_table

        if self.settings.catalog == "glue":
            raise CatalogConfigError("compaction needs the local catalog (lakebox compact on a local lake)")
        out: list[Compacted] = []
        for prefix in sorted({d.processed_prefix for d in self.settings.datasets}):
            database, name = table_location(self.settings, prefix)
            out += compact_table(self.store, self.catalog, database, name,
                                 target_bytes=target_bytes or DEFAULT_TARGET_BYTES,
                                 memory_limit=self.settings.memory_limit, swap_lock=self._updates.lock,
                                 row_group_mb=self.settings.row_group_mb)
        return out

    def compact_when_small(self, run: RunRecord, min_files: int) -> list[Compacted]:
        """Background compaction (the ``compact_min_files`` setting): once the table ``run`` wrote to has at
        least ``min_files`` small files (those :func:`~lakebox.catalog.compact.plan_bins` would merge), merge
        that table's small files as ``lakebox compact`` does. One compaction per lake at a time: a caller
        that finds one running returns at once (that one, or the next run's check, covers the new files).
        Local lakes with the local catalog only; elsewhere, and below the threshold, it does nothing."""
        from lakebox.catalog.compact import DEFAULT_TARGET_BYTES, compact_table, small_files

        prefix = next((d.processed_prefix for d in self.settings.datasets if d.name == run.dataset), None)
        if (min_files <= 0 or prefix is None or run.status != "ok" or self.settings.catalog != "local"
                or self.settings.is_s3):
            return []
        database, name = table_location(self.settings, prefix)
        if len(small_files(self.catalog.get_files(database, name).values(), DEFAULT_TARGET_BYTES)) < min_files:
            return []
        if not self._updates.compacting.acquire(blocking=False):
            return []
        import duckdb

        try:
            return compact_table(self.store, self.catalog, database, name, target_bytes=DEFAULT_TARGET_BYTES,
                                 memory_limit=self.settings.memory_limit, swap_lock=self._updates.lock,
                                 row_group_mb=self.settings.row_group_mb)
        except (duckdb.Error, OSError) as exc:
            # The run itself succeeded and is recorded: a failed merge leaves the small files in place (the
            # catalog swap is all or nothing), and the next run's check or `lakebox compact` tries again.
            log.warning("background compaction of %s.%s failed: %s", database, name, exc)
            return []
        finally:
            self._updates.compacting.release()

    def _published_files(self, run: RunRecord) -> list[FileInfo]:
        """The run's outputs as the writer described them, if each is still in place with that ETag (a file
        replaced or deleted since needs a crawl to be described); [] otherwise."""
        if run.status != "ok" or not run.output_files or len(run.output_files) != len(run.output_keys):
            return []
        files = []
        for d in run.output_files:
            try:
                if self.store.head_object(d["key"]).etag != d["etag"]:
                    return []
            except NoSuchKeyError:
                return []
            files.append(FileInfo(d["key"], int(d["size"]), d["etag"], int(d["rows"]),
                                  tuple(ColumnDef(n, t) for n, t in d["columns"]), d["format"],
                                  sources=tuple((k, int(a), int(n)) for k, a, n in d.get("sources", []))))
        return files

    def _crawl_prefix(self, prefix: str, prune: bool, described: list[FileInfo] | None = None) -> TableDef | None:
        """Crawl ``prefix``; files in ``described`` (a run's outputs, as their writer described them) need no
        footer read, and keep their provenance."""
        from lakebox.catalog.files import collect_file_infos, table_parameters

        database, name = table_location(self.settings, prefix)
        known = self.catalog.get_files(database, name) | {f.key: f for f in described or ()}
        files = collect_file_infos(self.store, prefix, known)
        table = build_table(database, name, prefix, files, parameters=table_parameters(files))
        if table is None:
            if prune:
                self.catalog.put_files(database, name, files)
                if self.catalog.get_table(database, name) is not None:
                    self.catalog.delete_table(database, name)
            return None
        return self.catalog.put_table(table, files=files, prune=prune)

"""Partitions, the Glue crawler and crawling a processed prefix, for :class:`~lakebox.catalog.glue.GlueCatalog`.

What a Glue crawler run does for one include path: read the new or changed objects' footers (keeping a
per-file cache in the lake when a store is given), write the table, and bring its partitions in line
(BatchCreatePartition / BatchDeletePartition). Or, when a crawler name is configured, start that crawler.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakebox.catalog.crawler import ColumnDef, FileInfo, PartitionDef, TableDef
from lakebox.catalog.glue_errors import GlueCatalogError, _code
from lakebox.store.base import NoSuchKeyError, Store

if TYPE_CHECKING:  # pragma: no cover - typing only
    from lakebox.config import Settings
    from lakebox.core.runs import RunRecord

#: Where the crawler's per-file cache lives in the lake (Glue has no place for it; the function may write
#: ``_lakebox/*``).
FILES_PREFIX = "_lakebox/catalog/files/"

#: Glue's BatchCreatePartition takes at most 100 partitions per call.
PARTITION_BATCH = 100


class GlueCrawlMixin:
    """The partition, crawler, file-cache and crawl methods of :class:`~lakebox.catalog.glue.GlueCatalog`.

    It relies on the catalog's client, settings and table methods (declared below for type checkers only)
    and on :class:`~lakebox.catalog.glue_convert.GlueConvertMixin`'s conversions.
    """

    store: Store | None
    crawler_name: str | None

    if TYPE_CHECKING:  # pragma: no cover - provided by GlueCatalog and GlueConvertMixin

        @property
        def client(self) -> Any: ...

        def _cid(self) -> dict[str, str]: ...

        def partition_input(self, table: TableDef, p: PartitionDef) -> dict[str, Any]: ...

        def _partition_from_glue(self, p: dict[str, Any]) -> PartitionDef: ...

        def _get_glue_table(self, database: str, name: str) -> dict[str, Any] | None: ...

        def put_table(self, table: TableDef, prune: bool = True) -> TableDef: ...

        def delete_table(self, database: str, name: str) -> None: ...

    # --- partitions ----------------------------------------------------------------------------------------

    def get_partitions(self, database: str, name: str) -> list[PartitionDef]:
        out: list[PartitionDef] = []
        try:
            pages = self.client.get_paginator("get_partitions").paginate(
                DatabaseName=database.lower(), TableName=name.lower(), **self._cid())
            for page in pages:
                out.extend(self._partition_from_glue(p) for p in page.get("Partitions", []))
        except Exception as exc:
            if _code(exc) != "EntityNotFoundException":
                raise
        return sorted(out, key=lambda p: p.values)

    def batch_create_partition(self, table: TableDef, partitions: Iterable[PartitionDef]) -> None:
        """BatchCreatePartition in chunks of 100; an already existing partition is not an error."""
        items = [self.partition_input(table, p) for p in partitions]
        for i in range(0, len(items), PARTITION_BATCH):
            resp = self.client.batch_create_partition(
                DatabaseName=table.database.lower(), TableName=table.name.lower(),
                PartitionInputList=items[i:i + PARTITION_BATCH], **self._cid())
            errors = [e for e in resp.get("Errors", [])
                      if e.get("ErrorDetail", {}).get("ErrorCode") != "AlreadyExistsException"]
            if errors:
                detail = errors[0].get("ErrorDetail", {})
                raise GlueCatalogError(
                    f"{table.database}.{table.name}: BatchCreatePartition failed for "
                    f"{errors[0].get('PartitionValues')}: {detail.get('ErrorCode')} {detail.get('ErrorMessage')}")

    def batch_delete_partition(self, table: TableDef, values: Iterable[tuple[str, ...]]) -> None:
        items = [{"Values": list(v)} for v in values]
        for i in range(0, len(items), 25):  # BatchDeletePartition's limit is 25
            self.client.batch_delete_partition(
                DatabaseName=table.database.lower(), TableName=table.name.lower(),
                PartitionsToDelete=items[i:i + 25], **self._cid())

    def sync_partitions(self, table: TableDef, prune: bool = True) -> None:
        """Create the partitions that are new and, with ``prune``, delete those whose folders are gone (Glue's
        crawler with DeleteBehavior DELETE_FROM_DATABASE for partitions; LocalCatalog replaces the list)."""
        existing = {p.values for p in self.get_partitions(table.database, table.name)}
        wanted = {p.values: p for p in table.partitions}
        new = [p for v, p in wanted.items() if v not in existing]
        if new:
            self.batch_create_partition(table, new)
        gone = [v for v in existing if v not in wanted]
        if gone and prune:
            self.batch_delete_partition(table, gone)

    # --- crawler -------------------------------------------------------------------------------------------

    def start_crawler(self, name: str | None = None) -> bool:
        """StartCrawler. Returns False when it is already running (its run will see our object too)."""
        crawler = name or self.crawler_name
        if not crawler:
            raise GlueCatalogError("no crawler name configured (LAKEBOX_GLUE_CRAWLER)")
        try:
            self.client.start_crawler(Name=crawler)
        except Exception as exc:
            if _code(exc) == "CrawlerRunningException":
                return False
            raise
        return True

    def get_crawler_state(self, name: str | None = None) -> str:
        crawler = name or self.crawler_name
        return str(self.client.get_crawler(Name=crawler)["Crawler"].get("State", "READY"))

    # --- crawler file cache (kept in the lake when a store is given) --------------------------------------

    def _files_key(self, database: str, name: str) -> str:
        return f"{FILES_PREFIX}{database.lower()}/{name.lower()}.json"

    def get_files(self, database: str, name: str) -> dict[str, FileInfo]:
        if self.store is None:
            return {}
        try:
            raw = json.loads(self.store.get_object(self._files_key(database, name)))
        except NoSuchKeyError:
            return {}
        except ValueError:
            return {}  # a corrupt cache only costs a full re-read
        return {
            f["key"]: FileInfo(f["key"], f["size"], f["etag"], f["rows"],
                               tuple(ColumnDef(c[0], c[1]) for c in f["columns"]), f["format"])
            for f in raw
        }

    def put_files(self, database: str, name: str, files: list[FileInfo]) -> None:
        if self.store is None:
            return
        body = [{"key": f.key, "size": f.size, "etag": f.etag, "rows": f.rows,
                 "columns": [[c.name, c.type] for c in f.columns], "format": f.format} for f in files]
        self.store.put_object(self._files_key(database, name), json.dumps(body).encode())


    # --- the crawler for one processed prefix, over S3 -----------------------------------------------------

    def crawl_prefix(self, settings: Settings, store: Store, prefix: str, prune: bool = True) -> TableDef | None:
        """Crawl one processed/ folder of an S3 lake into its Glue table (what a Glue crawler run does for
        one include path). Only new or changed objects are downloaded, to read their footers.

        ``prune=False`` (the per-file path in the Lambda) never deletes partitions or the table: another
        invocation's output may be missing from this listing. ``lakebox crawl`` prunes.
        """
        from lakebox.catalog import collect_file_infos, table_location, table_parameters
        from lakebox.catalog.crawler import build_table

        database, name = table_location(settings, prefix)
        work = Path(tempfile.mkdtemp(prefix="lakebox-crawl-"))
        try:
            files = collect_file_infos(store, prefix, self.get_files(database, name), download_dir=work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        params = table_parameters(files)
        table = build_table(database, name, prefix, files, parameters=params)
        if table is None:
            if prune and self._get_glue_table(database, name) is not None:
                self.delete_table(database, name)
            return None
        stored = self.put_table(table, prune=prune)
        self.put_files(database, name, files)
        return stored

    def update_for_run(self, settings: Settings, store: Store, run: RunRecord) -> TableDef | None:
        """After the handler published a processed object: update its table directly, or start the crawler
        when one is configured. Touches only the run's own table (the function's IAM role allows no more)."""
        if self.crawler_name:
            self.start_crawler()
            return None
        for d in settings.datasets:
            if d.name == run.dataset:
                return self.crawl_prefix(settings, store, d.processed_prefix, prune=False)
        return None

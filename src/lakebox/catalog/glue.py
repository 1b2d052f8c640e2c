"""GlueCatalog: the same catalog interface as :class:`~lakebox.catalog.local.LocalCatalog`, on AWS Glue.

Method names are Glue's actions (create_database, get_tables, get_table, create_table, update_table,
get_table_versions, batch_create_partition, get_partitions, start_crawler), and the public methods the crawler,
the query engine and the dashboard call on a LocalCatalog (``get_table``, ``put_table``, ``get_files``, ...)
exist here with the same signatures and return types, so either backend can be passed around.

Tables are written the way a Glue crawler writes them (section 2.12 of the AWS semantics notes):
``EXTERNAL_TABLE``, ``PartitionKeys`` at least ``[]``, the parameter block (classification, objectCount,
recordCount, sizeKey, ...) as strings, and the Parquet/CSV input formats and SerDes Athena expects.

Versions: Glue archives a version on every UpdateTable unless ``SkipArchive`` is set. To match LocalCatalog,
which writes a version only when the schema changes, a statistics-only update passes ``SkipArchive=True``.

Locations: lakebox's TableDef keeps lake-relative locations (``processed/``); Glue needs ``s3://`` URLs. The
catalog is given the lake URL and translates in both directions, so a TableDef looks the same from either
backend.

The class is split over three modules: this one keeps the client, databases, tables, versions and health;
:mod:`lakebox.catalog.glue_convert` the location translation and TableDef <-> Glue conversions;
:mod:`lakebox.catalog.glue_crawl` partitions, the crawler, the per-file cache and crawling a prefix. Every
public name stays importable from here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from lakebox.awsclient import LazyClient
from lakebox.catalog.crawler import TableDef, schema_changed
from lakebox.catalog.glue_convert import GlueConvertMixin, _iso
from lakebox.catalog.glue_crawl import FILES_PREFIX, PARTITION_BATCH, GlueCrawlMixin
from lakebox.catalog.glue_errors import GlueCatalogError, _code
from lakebox.store.base import Store

if TYPE_CHECKING:  # pragma: no cover - typing only
    from lakebox.config import Settings
    from lakebox.core.runs import RunRecord

__all__ = [
    "FILES_PREFIX",
    "PARTITION_BATCH",
    "GlueCatalog",
    "GlueCatalogError",
    "GlueConvertMixin",
    "GlueCrawlMixin",
    "update_catalog_for_run",
]


class GlueCatalog(GlueCrawlMixin, GlueConvertMixin):
    """The Glue Data Catalog, behind LocalCatalog's interface.

    ``lake_url`` (``s3://bucket[/prefix]``) turns lake-relative table locations into S3 URLs. ``store`` is
    optional; with it, the crawler's per-file cache is kept in the lake, so a re-crawl downloads only new or
    changed objects. ``crawler_name`` makes :meth:`update_for_run` start that crawler instead of writing
    the table itself.
    """

    def __init__(
        self,
        lake_url: str = "",
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        client: Any = None,
        catalog_id: str | None = None,
        store: Store | None = None,
        crawler_name: str | None = None,
    ) -> None:
        self.lake_url = lake_url.rstrip("/")
        self.region = region
        self.endpoint_url = endpoint_url
        self.catalog_id = catalog_id
        self.store = store
        self.crawler_name = crawler_name
        self._clients = LazyClient("glue", self.endpoint_url, self.region, client)

    @classmethod
    def from_settings(cls, settings: Settings, store: Store | None = None) -> GlueCatalog:
        """Build from lakebox settings. The crawler mode is chosen with ``LAKEBOX_GLUE_CRAWLER`` (a crawler
        name) until Settings grows a field for it; the stack sets it on the function when asked to."""
        crawler = settings.glue_crawler or os.environ.get("LAKEBOX_GLUE_CRAWLER") or None
        return cls(settings.lake if settings.is_s3 else "", region=settings.region,
                   endpoint_url=settings.endpoint_url, store=store, crawler_name=crawler)

    @property
    def client(self) -> Any:
        """The boto3 Glue client, built on first use."""
        return self._clients.get()

    def _cid(self) -> dict[str, str]:
        return {"CatalogId": self.catalog_id} if self.catalog_id else {}

    # --- databases -----------------------------------------------------------------------------------------

    def create_database(self, name: str) -> None:
        """CreateDatabase; an existing database is fine (as LocalCatalog's INSERT OR IGNORE).

        Roles that may not create databases (the dashboard's, the function's) get AccessDenied here even
        for the stack's existing database; that is fine too when GetDatabase finds it."""
        try:
            self.client.create_database(DatabaseInput={"Name": name.lower()}, **self._cid())
        except Exception as exc:
            code = _code(exc)
            if code == "AlreadyExistsException":
                return
            if code == "AccessDeniedException":
                self.client.get_database(Name=name.lower(), **self._cid())  # raises if it is really missing
                return
            raise

    def get_databases(self) -> list[str]:
        names: list[str] = []
        for page in self.client.get_paginator("get_databases").paginate(**self._cid()):
            names.extend(d["Name"] for d in page.get("DatabaseList", []))
        return sorted(names)

    # --- tables --------------------------------------------------------------------------------------------

    def _glue_tables(self, database: str) -> Iterator[dict[str, Any]]:
        try:
            for page in self.client.get_paginator("get_tables").paginate(DatabaseName=database.lower(),
                                                                         **self._cid()):
                yield from page.get("TableList", [])
        except Exception as exc:
            if _code(exc) != "EntityNotFoundException":
                raise

    def get_tables(self, database: str | None = None) -> list[TableDef]:
        """Every table of ``database`` (or of every database), sorted like LocalCatalog's."""
        databases = [database] if database is not None else self.get_databases()
        out = []
        for db in databases:
            for t in self._glue_tables(db):
                t.setdefault("DatabaseName", db.lower())
                out.append(self.table_from_glue(t))
        return sorted(out, key=lambda t: (t.database, t.name))

    def get_table(self, database: str, name: str) -> TableDef | None:
        raw = self._get_glue_table(database, name)
        if raw is None:
            return None
        parts = self.get_partitions(database, name) if raw.get("PartitionKeys") else []
        raw.setdefault("DatabaseName", database.lower())
        return self.table_from_glue(raw, parts)

    def _get_glue_table(self, database: str, name: str) -> dict[str, Any] | None:
        try:
            resp = self.client.get_table(DatabaseName=database.lower(), Name=name.lower(), **self._cid())
        except Exception as exc:
            if _code(exc) == "EntityNotFoundException":
                return None
            raise
        return resp["Table"]  # type: ignore[no-any-return]

    def create_table(self, table: TableDef) -> None:
        self.client.create_table(DatabaseName=table.database.lower(), TableInput=self.table_input(table),
                                 **self._cid())

    def update_table(self, table: TableDef, *, skip_archive: bool = False) -> None:
        """UpdateTable; Glue archives the previous definition as a version unless ``skip_archive``."""
        self.client.update_table(DatabaseName=table.database.lower(), TableInput=self.table_input(table),
                                 SkipArchive=skip_archive, **self._cid())

    def put_table(self, table: TableDef, prune: bool = True) -> TableDef:
        """CreateTable or UpdateTable, then bring the partitions in line. A version is archived only when
        the schema changed, as LocalCatalog does. Returns the table as stored (with Glue's version).

        ``prune=False`` only adds partitions: concurrent Lambda invocations each see a listing that may
        predate another's output, so the per-file path must never delete what it did not see.
        """
        table.database, table.name = table.database.lower(), table.name.lower()
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        table.last_crawl = now
        old_raw = self._get_glue_table(table.database, table.name)
        if old_raw is None:
            try:
                self.create_table(table)
            except Exception as exc:
                if _code(exc) != "AlreadyExistsException":
                    raise
                # Another writer (a concurrent Lambda) created it first: fall through to an update.
                self.update_table(table)
        else:
            old_raw.setdefault("DatabaseName", table.database)
            old = self.table_from_glue(old_raw)
            self.update_table(table, skip_archive=not schema_changed(old, table))
        if table.partition_keys:
            self.sync_partitions(table, prune=prune)
        stored = self.get_table(table.database, table.name)
        if stored is None:  # pragma: no cover - Glue just acknowledged the write
            raise GlueCatalogError(f"table {table.database}.{table.name} vanished after it was written")
        stored.files = list(table.files)
        return stored

    def delete_table(self, database: str, name: str) -> None:
        try:
            self.client.delete_table(DatabaseName=database.lower(), Name=name.lower(), **self._cid())
        except Exception as exc:
            if _code(exc) != "EntityNotFoundException":
                raise
        if self.store is not None:
            self.store.delete_object(self._files_key(database, name))

    def get_table_versions(self, database: str, name: str) -> list[TableDef]:
        """Every archived definition, oldest first (Glue returns them newest first)."""
        versions: list[TableDef] = []
        try:
            pages = self.client.get_paginator("get_table_versions").paginate(
                DatabaseName=database.lower(), TableName=name.lower(), **self._cid())
            for page in pages:
                for v in page.get("TableVersions", []):
                    t = dict(v["Table"])
                    t["VersionId"] = v.get("VersionId", t.get("VersionId"))
                    t.setdefault("DatabaseName", database.lower())
                    versions.append(self.table_from_glue(t))
        except Exception as exc:
            if _code(exc) != "EntityNotFoundException":
                raise
        return sorted(versions, key=lambda t: t.version)

    # --- change tracking and health ------------------------------------------------------------------------

    def data_version(self) -> int:
        """A number that changes whenever any table's definition or statistics change (dashboard cache key).
        Glue has no such counter, so it is a hash of every table's version and update time."""
        h = hashlib.sha1(usedforsecurity=False)
        for db in self.get_databases():
            for t in self._glue_tables(db):
                h.update(f"{db}.{t['Name']}:{t.get('VersionId')}:{_iso(t.get('UpdateTime'))}:"
                         f"{t.get('Parameters', {}).get('recordCount')};".encode())
        return int(h.hexdigest()[:12], 16)

    def check(self) -> str:
        """``ok`` when Glue answers."""
        self.client.get_databases(MaxResults=1, **self._cid())
        return "ok"

    def describe(self) -> dict[str, Any]:
        return {"backend": "glue", "lake": self.lake_url, "region": self.region,
                "databases": self.get_databases(), "crawler": self.crawler_name}


def update_catalog_for_run(settings: Settings, store: Store, run: RunRecord) -> TableDef | None:
    """The Glue side of ``lakebox.catalog.update_catalog_for_run`` (the handler's after-processing hook)."""
    return GlueCatalog.from_settings(settings, store=store).update_for_run(settings, store, run)

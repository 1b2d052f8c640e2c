"""GlueCatalog: :class:`~lakebox.catalog.base.Catalog` on AWS Glue.

Tables are written the way a Glue crawler writes them (section 2.12 of the AWS semantics notes; the
conversions are :class:`~lakebox.catalog.glue_convert.GlueConverter`'s). Where this differs from calling Glue
directly:

- Versions: Glue archives a version on every UpdateTable unless ``SkipArchive`` is set. To match LocalCatalog,
  which writes a version only when the schema changes, ``put_table`` passes ``SkipArchive=True`` for a
  statistics-only update.
- Locations: TableDef keeps lake-relative locations (``processed/``); Glue needs ``s3://`` URLs. The converter
  translates in both directions, so a TableDef looks the same from either backend.
- The crawler's per-file cache has no place in Glue: it is kept in the lake (``_lakebox/catalog/files/``)
  when a store is given, and is empty otherwise (every crawl reads every footer).

Glue's error codes are read once, in :func:`_glue_errors`, and raised as the catalog's error classes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from lakebox.awsclient import LazyClient
from lakebox.catalog.base import (
    ERRORS_BY_CODE,
    AlreadyExistsError,
    CatalogError,
    CrawlerInfo,
    CrawlerRunningError,
    CrawlerState,
    EntityNotFoundError,
)
from lakebox.catalog.crawler import ColumnDef, FileInfo, PartitionDef, TableDef, schema_changed
from lakebox.catalog.glue_convert import GlueConverter, iso
from lakebox.core.errors import aws_error_code
from lakebox.store.base import NoSuchKeyError, Store

#: Where the crawler's per-file cache lives in the lake (Glue has no place for it; the function may write
#: ``_lakebox/*``).
FILES_PREFIX = "_lakebox/catalog/files/"

#: Glue's BatchCreatePartition takes at most 100 partitions per call, BatchDeletePartition 25.
PARTITION_BATCH = 100
PARTITION_DELETE_BATCH = 25
#: Attempts of UpdateTable when Glue reports a concurrent modification (about 3 s of backoff in all).
UPDATE_TABLE_ATTEMPTS = 6

_CRAWLER_STATES: dict[str, CrawlerState] = {"READY": "READY", "RUNNING": "RUNNING", "STOPPING": "STOPPING"}


@contextmanager
def _glue_errors(what: str) -> Iterator[None]:
    """Raise Glue's answer as the catalog's error class for its code (CatalogError for the rest)."""
    try:
        yield
    except Exception as exc:
        code = aws_error_code(exc)
        if code is None:
            raise
        cls = ERRORS_BY_CODE.get(code, CatalogError)
        raise cls(f"{what}: {exc}", code=code) from exc


class LakeFileCache:
    """The crawler's per-file cache of each table, as one JSON object per table in the lake."""

    def __init__(self, store: Store | None) -> None:
        self.store = store

    def key(self, database: str, name: str) -> str:
        return f"{FILES_PREFIX}{database.lower()}/{name.lower()}.json"

    def get(self, database: str, name: str) -> dict[str, FileInfo]:
        if self.store is None:
            return {}
        try:
            raw = json.loads(self.store.get_object(self.key(database, name)))
        except NoSuchKeyError:
            return {}
        except ValueError:
            return {}  # a corrupt cache only costs a full re-read
        return {
            f["key"]: FileInfo(f["key"], f["size"], f["etag"], f["rows"],
                               tuple(ColumnDef(c[0], c[1]) for c in f["columns"]), f["format"],
                               f.get("delimiter", ","), bool(f.get("has_header", True)))
            for f in raw
        }

    def put(self, database: str, name: str, files: Sequence[FileInfo]) -> None:
        if self.store is None:
            return
        body = [{"key": f.key, "size": f.size, "etag": f.etag, "rows": f.rows,
                 "columns": [[c.name, c.type] for c in f.columns], "format": f.format,
                 "delimiter": f.delimiter, "has_header": f.has_header} for f in files]
        self.store.put_object(self.key(database, name), json.dumps(body).encode())

    def delete(self, database: str, name: str) -> None:
        if self.store is not None:
            self.store.delete_object(self.key(database, name))


def projection_parameters(params: Mapping[str, str]) -> dict[str, str]:
    """Athena's partition projection parameters of a Glue table (``projection.*``, ``storage.location.template``)."""
    return {k: v for k, v in params.items() if k.startswith("projection.") or k == "storage.location.template"}


class GlueCatalog:
    """The Glue Data Catalog behind the Catalog interface.

    ``lake_url`` (``s3://bucket[/prefix]``) turns lake-relative table locations into S3 URLs. ``store`` is
    optional; with it, the crawler's per-file cache is kept in the lake, so a re-crawl downloads only new or
    changed objects.
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
    ) -> None:
        self.convert = GlueConverter(lake_url)
        self.lake_url = self.convert.lake_url
        self.region = region
        self.endpoint_url = endpoint_url
        self.catalog_id = catalog_id
        self.files = LakeFileCache(store)
        self._clients = LazyClient("glue", self.endpoint_url, self.region, client)

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
            with _glue_errors(f"CreateDatabase {name.lower()}"):
                self.client.create_database(DatabaseInput={"Name": name.lower()}, **self._cid())
        except AlreadyExistsError:
            return
        except CatalogError as exc:
            if exc.code != "AccessDeniedException":
                raise
            self.get_database(name)  # raises if it is really missing

    def get_database(self, name: str) -> str:
        with _glue_errors(f"GetDatabase {name.lower()}"):
            resp = self.client.get_database(Name=name.lower(), **self._cid())
        return str(resp["Database"]["Name"])

    def get_databases(self) -> list[str]:
        return sorted(d["Name"] for d in self._pages("get_databases", "DatabaseList"))

    # --- tables --------------------------------------------------------------------------------------------

    def _pages(self, action: str, items: str, **params: str) -> list[dict[str, Any]]:
        """Every item of a paginated Glue listing; [] when the database or table does not exist."""
        try:
            with _glue_errors(f"{action} {params}"):
                pages = self.client.get_paginator(action).paginate(**params, **self._cid())
                return [item for page in pages for item in page.get(items, [])]
        except EntityNotFoundError:
            return []

    def _glue_tables(self, database: str) -> list[dict[str, Any]]:
        return self._pages("get_tables", "TableList", DatabaseName=database.lower())

    def get_tables(self, database: str | None = None) -> list[TableDef]:
        databases = [database] if database is not None else self.get_databases()
        out = []
        for db in databases:
            for t in self._glue_tables(db):
                t.setdefault("DatabaseName", db.lower())
                out.append(self.convert.table_from_glue(t))
        return sorted(out, key=lambda t: (t.database, t.name))

    def get_table(self, database: str, name: str) -> TableDef | None:
        raw = self._get_glue_table(database, name)
        if raw is None:
            return None
        parts = self.get_partitions(database, name) if raw.get("PartitionKeys") else []
        raw.setdefault("DatabaseName", database.lower())
        return self.convert.table_from_glue(raw, parts)

    def _get_glue_table(self, database: str, name: str) -> dict[str, Any] | None:
        try:
            with _glue_errors(f"GetTable {database.lower()}.{name.lower()}"):
                resp = self.client.get_table(DatabaseName=database.lower(), Name=name.lower(), **self._cid())
        except EntityNotFoundError:
            return None
        table: dict[str, Any] = resp["Table"]
        return table

    def create_table(self, table: TableDef) -> None:
        """CreateTable; the database is created first when missing (LocalCatalog does the same)."""
        with _glue_errors(f"CreateTable {table.database.lower()}.{table.name.lower()}"):
            try:
                self._create_table(table)
            except Exception as exc:
                if aws_error_code(exc) != "EntityNotFoundException":
                    raise
                self.create_database(table.database)
                self._create_table(table)

    def _create_table(self, table: TableDef) -> None:
        self.client.create_table(DatabaseName=table.database.lower(), TableInput=self.convert.table_input(table),
                                 **self._cid())

    def update_table(self, table: TableDef, *, skip_archive: bool = False) -> None:
        """UpdateTable. Concurrent writers (Lambda invocations for files landing together) collide on the
        same table and Glue answers ConcurrentModificationException; that is retried here with jittered
        backoff rather than left to Lambda's whole-event retries."""
        for attempt in range(UPDATE_TABLE_ATTEMPTS):
            try:
                with _glue_errors(f"UpdateTable {table.database.lower()}.{table.name.lower()}"):
                    self.client.update_table(DatabaseName=table.database.lower(),
                                             TableInput=self.convert.table_input(table),
                                             SkipArchive=skip_archive, **self._cid())
                return
            except CatalogError as exc:
                if exc.code != "ConcurrentModificationException" or attempt == UPDATE_TABLE_ATTEMPTS - 1:
                    raise
                time.sleep(min(2.0, 0.1 * 2 ** attempt) * (0.5 + random.random() / 2))  # noqa: S311

    def put_table(self, table: TableDef, *, files: Sequence[FileInfo] | None = None,
                  prune: bool = True) -> TableDef:
        """CreateTable or UpdateTable, then bring the partitions in line; ``files`` is written to the lake's
        file cache after the table.

        ``prune=False`` only adds partitions: concurrent Lambda invocations each see a listing that may
        predate another's output, so the per-file path must never delete what it did not see.
        """
        table.database, table.name = table.database.lower(), table.name.lower()
        table.last_crawl = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        old_raw = self._get_glue_table(table.database, table.name)
        if old_raw is None:
            try:
                self.create_table(table)
            except AlreadyExistsError:
                # Another writer (a concurrent Lambda) created it first: update it instead.
                self.update_table(table)
        else:
            old_raw.setdefault("DatabaseName", table.database)
            # Partition projection (the deployed stack's table) is the table owner's setting, not something a
            # crawl can see in the files: kept, or Athena would stop finding the partitions.
            table.parameters = {**table.parameters, **projection_parameters(old_raw.get("Parameters") or {})}
            old = self.convert.table_from_glue(old_raw)
            self.update_table(table, skip_archive=not schema_changed(old, table))
        if table.partition_keys:
            self._sync_partitions(table, prune=prune)
        if files is not None:
            self.put_files(table.database, table.name, files)
        stored = self.get_table(table.database, table.name)
        if stored is None:  # pragma: no cover - Glue just acknowledged the write
            raise EntityNotFoundError(f"table {table.database}.{table.name} vanished after it was written")
        stored.files = list(table.files)
        return stored

    def delete_table(self, database: str, name: str) -> None:
        # Already gone is fine: DeleteTable is idempotent here, as LocalCatalog's.
        with suppress(EntityNotFoundError), _glue_errors(f"DeleteTable {database.lower()}.{name.lower()}"):
            self.client.delete_table(DatabaseName=database.lower(), Name=name.lower(), **self._cid())
        self.files.delete(database, name)

    def get_table_versions(self, database: str, name: str) -> list[TableDef]:
        """Every archived definition, oldest first (Glue returns them newest first)."""
        versions: list[TableDef] = []
        raw = self._pages("get_table_versions", "TableVersions", DatabaseName=database.lower(),
                          TableName=name.lower())
        for v in raw:
            t = dict(v["Table"])
            t["VersionId"] = v.get("VersionId", t.get("VersionId"))
            t.setdefault("DatabaseName", database.lower())
            versions.append(self.convert.table_from_glue(t))
        return sorted(versions, key=lambda t: t.version)

    # --- partitions ----------------------------------------------------------------------------------------

    def get_partitions(self, database: str, name: str) -> list[PartitionDef]:
        raw = self._pages("get_partitions", "Partitions", DatabaseName=database.lower(), TableName=name.lower())
        return sorted((self.convert.partition_from_glue(p) for p in raw), key=lambda p: p.values)

    def batch_create_partition(self, table: TableDef, partitions: Iterable[PartitionDef]) -> None:
        """BatchCreatePartition in chunks of 100; an already existing partition is not an error."""
        items = [self.convert.partition_input(table, p) for p in partitions]
        for i in range(0, len(items), PARTITION_BATCH):
            with _glue_errors(f"BatchCreatePartition {table.database.lower()}.{table.name.lower()}"):
                resp = self.client.batch_create_partition(
                    DatabaseName=table.database.lower(), TableName=table.name.lower(),
                    PartitionInputList=items[i:i + PARTITION_BATCH], **self._cid())
            errors = [e for e in resp.get("Errors", [])
                      if e.get("ErrorDetail", {}).get("ErrorCode") != "AlreadyExistsException"]
            if errors:
                detail = errors[0].get("ErrorDetail", {})
                code = str(detail.get("ErrorCode") or CatalogError.code)
                raise ERRORS_BY_CODE.get(code, CatalogError)(
                    f"{table.database}.{table.name}: BatchCreatePartition failed for "
                    f"{errors[0].get('PartitionValues')}: {code} {detail.get('ErrorMessage')}", code=code)

    def batch_delete_partition(self, table: TableDef, values: Iterable[tuple[str, ...]]) -> None:
        items = [{"Values": list(v)} for v in values]
        for i in range(0, len(items), PARTITION_DELETE_BATCH):
            with _glue_errors(f"BatchDeletePartition {table.database.lower()}.{table.name.lower()}"):
                self.client.batch_delete_partition(
                    DatabaseName=table.database.lower(), TableName=table.name.lower(),
                    PartitionsToDelete=items[i:i + PARTITION_DELETE_BATCH], **self._cid())

    def _sync_partitions(self, table: TableDef, prune: bool) -> None:
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

    def start_crawler(self, name: str) -> bool:
        """StartCrawler. False when it is already running (its run will see the caller's objects too)."""
        try:
            with _glue_errors(f"StartCrawler {name}"):
                self.client.start_crawler(Name=name)
        except CrawlerRunningError:
            return False
        return True

    def get_crawler(self, name: str) -> CrawlerInfo:
        with _glue_errors(f"GetCrawler {name}"):
            crawler = self.client.get_crawler(Name=name)["Crawler"]
        state = _CRAWLER_STATES.get(str(crawler.get("State", "READY")), "READY")
        last = crawler.get("LastCrawl", {}).get("Status")
        return CrawlerInfo(name, state, str(last) if last else None)

    # --- crawler file cache --------------------------------------------------------------------------------

    def apply_files(self, database: str, name: str, added: Sequence[FileInfo],
                    removed: Sequence[str] = ()) -> TableDef | None:
        """Always None: concurrent Lambdas share no lock, so Glue tables are kept by the crawl path, which
        only adds partitions per run (see ``catalog.crawl``)."""
        return None

    def files_from_source(self, database: str, name: str, raw_key: str) -> list[FileInfo]:
        """Always []: Glue tables are never compacted by lakebox, so each raw object's rows are in its own
        outputs, which the handler replaces."""
        return []

    def get_files(self, database: str, name: str) -> dict[str, FileInfo]:
        return self.files.get(database, name)

    def put_files(self, database: str, name: str, files: Sequence[FileInfo]) -> None:
        self.files.put(database, name, files)

    # --- change tracking and health ------------------------------------------------------------------------

    def data_version(self) -> int:
        """A number that changes whenever any table's definition or statistics change (dashboard cache key).
        Glue has no such counter, so it is a hash of every table's version and update time."""
        h = hashlib.sha1(usedforsecurity=False)
        for db in self.get_databases():
            for t in self._glue_tables(db):
                h.update(f"{db}.{t['Name']}:{t.get('VersionId')}:{iso(t.get('UpdateTime'))}:"
                         f"{t.get('Parameters', {}).get('recordCount')};".encode())
        return int(h.hexdigest()[:12], 16)

    def check(self) -> str:
        """``ok`` when Glue answers."""
        with _glue_errors("GetDatabases"):
            self.client.get_databases(MaxResults=1, **self._cid())
        return "ok"

    def describe(self) -> dict[str, object]:
        return {"backend": "glue", "lake": self.lake_url, "region": self.region,
                "databases": self.get_databases()}

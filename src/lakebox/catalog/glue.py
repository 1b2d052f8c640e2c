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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakebox.catalog.crawler import ColumnDef, FileInfo, PartitionDef, TableDef, schema_changed
from lakebox.store.base import NoSuchKeyError, Store

if TYPE_CHECKING:  # pragma: no cover - typing only
    from lakebox.config import Settings
    from lakebox.process.runs import RunRecord

#: Where the crawler's per-file cache lives in the lake (Glue has no place for it; the function may write
#: ``_lakebox/*``).
FILES_PREFIX = "_lakebox/catalog/files/"

#: Glue's BatchCreatePartition takes at most 100 partitions per call.
PARTITION_BATCH = 100

_PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    },
}
_CSV = {
    "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        "Parameters": {"field.delim": ","},
    },
}


class GlueCatalogError(RuntimeError):
    """A Glue call failed in a way the caller should see (the message names the database and table)."""


def _code(exc: Exception) -> str:
    response: dict[str, Any] = getattr(exc, "response", {}) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _iso(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value) if value else None


class GlueCatalog:
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
        self._client = client
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, store: Store | None = None) -> GlueCatalog:
        """Build from lakebox settings. The crawler mode is chosen with ``LAKEBOX_GLUE_CRAWLER`` (a crawler
        name) until Settings grows a field for it; the stack sets it on the function when asked to."""
        crawler = getattr(settings, "glue_crawler", None) or os.environ.get("LAKEBOX_GLUE_CRAWLER") or None
        return cls(settings.lake if settings.is_s3 else "", region=settings.region,
                   endpoint_url=settings.endpoint_url, store=store, crawler_name=crawler)

    @property
    def client(self) -> Any:
        """The boto3 Glue client, built on first use."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3  # deferred: no clients at import time

                    self._client = boto3.session.Session().client(
                        "glue", endpoint_url=self.endpoint_url, region_name=self.region
                    )
        return self._client

    def _cid(self) -> dict[str, str]:
        return {"CatalogId": self.catalog_id} if self.catalog_id else {}

    # --- location translation -----------------------------------------------------------------------------

    def s3_location(self, location: str) -> str:
        """``processed/`` -> ``s3://bucket/prefix/processed/``; S3 URLs pass through."""
        if location.startswith("s3://") or not self.lake_url:
            return location
        return f"{self.lake_url}/{location.lstrip('/')}"

    def lake_location(self, location: str) -> str:
        """The inverse of :meth:`s3_location` for locations inside this lake."""
        if self.lake_url and location.startswith(self.lake_url + "/"):
            return location[len(self.lake_url) + 1:]
        return location

    # --- conversions ---------------------------------------------------------------------------------------

    def table_input(self, table: TableDef) -> dict[str, Any]:
        """TableDef -> Glue TableInput, shaped like a crawler's table."""
        params = {str(k): str(v) for k, v in table.parameters.items()}
        params.setdefault("classification", table.format)
        params.setdefault("typeOfData", "file")
        params["objectCount"] = str(table.file_count)
        params["recordCount"] = str(table.row_count)
        params["sizeKey"] = str(table.size_bytes)
        if table.last_crawl:
            params["lakebox.last_crawl"] = table.last_crawl
        fmt = _PARQUET if table.format == "parquet" else _CSV
        if table.format == "csv":
            params.setdefault("delimiter", str(params.get("field.delim", ",")))
        sd: dict[str, Any] = {
            "Columns": [{"Name": c.name, "Type": c.type} for c in table.columns],
            "Location": self._dir(self.s3_location(table.location)),
            "Compressed": False,
            "NumberOfBuckets": -1,
            "BucketColumns": [],
            "SortColumns": [],
            "StoredAsSubDirectories": False,
            "Parameters": dict(params),
            **json.loads(json.dumps(fmt)),  # a deep copy: the SerDe dict is shared module state
        }
        return {
            "Name": table.name.lower(),
            "Owner": "lakebox",
            "TableType": "EXTERNAL_TABLE",
            "Retention": 0,
            "PartitionKeys": [{"Name": c.name, "Type": c.type} for c in table.partition_keys],
            "StorageDescriptor": sd,
            "Parameters": params,
        }

    @staticmethod
    def _dir(location: str) -> str:
        return location if location.endswith("/") else location + "/"

    def table_from_glue(self, t: dict[str, Any], partitions: list[PartitionDef] | None = None) -> TableDef:
        """Glue Table -> TableDef (locations made lake-relative again)."""
        sd = t.get("StorageDescriptor", {})
        params = dict(t.get("Parameters", {}))
        version = t.get("VersionId")
        return TableDef(
            database=t.get("DatabaseName", ""),
            name=t["Name"],
            location=self.lake_location(sd.get("Location", "")),
            format=params.get("classification", "parquet"),
            columns=[ColumnDef(c["Name"], c["Type"]) for c in sd.get("Columns", [])],
            partition_keys=[ColumnDef(c["Name"], c["Type"]) for c in t.get("PartitionKeys", [])],
            partitions=partitions or [],
            files=[],
            file_count=int(params.get("objectCount", 0) or 0),
            row_count=int(params.get("recordCount", 0) or 0),
            size_bytes=int(params.get("sizeKey", 0) or 0),
            parameters=params,
            version=int(version) if version and str(version).isdigit() else 1,
            updated_at=_iso(t.get("UpdateTime") or t.get("CreateTime")),
            last_crawl=params.get("lakebox.last_crawl") or _iso(t.get("UpdateTime") or t.get("CreateTime")),
        )

    def partition_input(self, table: TableDef, p: PartitionDef) -> dict[str, Any]:
        sd = self.table_input(table)["StorageDescriptor"]
        sd["Location"] = self._dir(self.s3_location(p.location))
        sd["Parameters"] = {**sd["Parameters"], "objectCount": str(p.file_count),
                            "recordCount": str(p.row_count), "sizeKey": str(p.size_bytes)}
        return {"Values": list(p.values), "StorageDescriptor": sd, "Parameters": dict(sd["Parameters"])}

    def _partition_from_glue(self, p: dict[str, Any]) -> PartitionDef:
        params = p.get("Parameters") or p.get("StorageDescriptor", {}).get("Parameters", {})
        return PartitionDef(
            tuple(p.get("Values", [])),
            self.lake_location(p.get("StorageDescriptor", {}).get("Location", "")),
            int(params.get("objectCount", 0) or 0),
            int(params.get("recordCount", 0) or 0),
            int(params.get("sizeKey", 0) or 0),
        )

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

    def put_table(self, table: TableDef) -> TableDef:
        """CreateTable or UpdateTable, then bring the partitions in line. A version is archived only when
        the schema changed, as LocalCatalog does. Returns the table as stored (with Glue's version)."""
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
            self.sync_partitions(table)
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

    def sync_partitions(self, table: TableDef) -> None:
        """Create the partitions that are new, delete those whose folders are gone (Glue's crawler with
        DeleteBehavior DELETE_FROM_DATABASE for partitions; LocalCatalog simply replaces the list)."""
        existing = {p.values for p in self.get_partitions(table.database, table.name)}
        wanted = {p.values: p for p in table.partitions}
        new = [p for v, p in wanted.items() if v not in existing]
        if new:
            self.batch_create_partition(table, new)
        gone = [v for v in existing if v not in wanted]
        if gone:
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

    # --- the crawler for one processed prefix, over S3 -----------------------------------------------------

    def crawl_prefix(self, settings: Settings, store: Store, prefix: str) -> TableDef | None:
        """Crawl one processed/ folder of an S3 lake into its Glue table (what a Glue crawler run does for
        one include path). Only new or changed objects are downloaded, to read their footers."""
        from lakebox.catalog import read_file_info, table_location
        from lakebox.catalog.crawler import build_table, is_data_file

        database, name = table_location(settings, prefix)
        known = self.get_files(database, name)
        files: list[FileInfo] = []
        work = Path(tempfile.mkdtemp(prefix="lakebox-crawl-"))
        try:
            for obj in store.list_objects(prefix):
                if not is_data_file(obj.key) or not obj.key.endswith((".parquet", ".csv")):
                    continue
                prev = known.get(obj.key)
                if prev is not None and prev.etag == obj.etag:
                    files.append(prev)
                    continue
                path = store.local_path(obj.key)
                if path is None:
                    path = work / ("obj" + Path(obj.key).suffix)
                    with store.open_object(obj.key) as body, open(path, "wb") as fh:
                        shutil.copyfileobj(body, fh, 8 * 1024 * 1024)
                info = read_file_info(path, obj.key, obj.size, obj.etag)
                if info is not None:
                    files.append(info)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        params: dict[str, str] = {}
        csv_files = [f for f in files if f.format == "csv"]
        if csv_files:
            has_header = not csv_files[0].columns[0].name.startswith("col0")
            params = {"skip.header.line.count": "1" if has_header else "0", "field.delim": ","}
        table = build_table(database, name, prefix, files, parameters=params)
        if table is None:
            if self._get_glue_table(database, name) is not None:
                self.delete_table(database, name)
            return None
        stored = self.put_table(table)
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
                return self.crawl_prefix(settings, store, d.processed_prefix)
        return None


def update_catalog_for_run(settings: Settings, store: Store, run: RunRecord) -> TableDef | None:
    """The Glue side of ``lakebox.catalog.update_catalog_for_run`` (the handler's after-processing hook)."""
    return GlueCatalog.from_settings(settings, store=store).update_for_run(settings, store, run)

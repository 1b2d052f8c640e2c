"""The endpoint's one adapter to lakebox: buckets (stores), processing, the catalog, the crawler and the query
engine. Every call into ``lakebox.store``, ``lakebox.catalog``, ``lakebox.query``, ``lakebox.process`` and
``lakebox.lake`` is made here, so a rename of those APIs touches this file only.

Buckets are lakes. The configured lake answers to ``endpoint_bucket`` (default ``lakebox``); the
``endpoint_buckets`` setting maps more names to folders; CreateBucket makes a new lake under
``<lake>/_lakebox/buckets/<name>``. The Glue Data Catalog and Athena are per account, as on AWS: one
catalog (the configured lake's) holds tables over any bucket. A table in another bucket is stored with
absolute paths, which the engine reads the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from lakebox.catalog.crawler import PartitionDef, TableDef, build_table, is_data_file, sanitize_table_name
from lakebox.catalog.files import collect_file_infos, table_parameters
from lakebox.catalog.glue_convert import GlueConverter
from lakebox.config import Settings
from lakebox.core.errors import InvalidInputError
from lakebox.core.runs import RunRecord
from lakebox.events import build_event, build_record, matches_trigger
from lakebox.lake import Lake
from lakebox.process.runs import RUNS_PREFIX
from lakebox.query.statement import CATALOG_NAME
from lakebox.store.base import TMP_PREFIX, InvalidKeyError, NoSuchKeyError, validate_key
from lakebox.store.local import LocalStore
from lakebox.trigger.deadletter import record_failure

#: Objects under this prefix are lakebox's own (catalog, run ledger, endpoint state): S3 clients cannot
#: see or touch them.
INTERNAL = "_lakebox/"
ENDPOINT_STATE = "_lakebox/endpoint/"
ATHENA_CATALOG = CATALOG_NAME


class KeyRefused(InvalidInputError, code="InvalidArgument"):
    """A key that cannot be stored in a folder lake (it would escape it, or is not a valid key)."""


_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


def valid_bucket_name(name: str) -> bool:
    """S3's bucket naming rules: 3-63 lower-case letters, digits, dots and hyphens, starting and ending with a
    letter or digit, no ``..``, not an IP address."""
    return bool(_BUCKET_NAME.match(name)) and ".." not in name and not _IP.match(name) \
        and not name.startswith("xn--")


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    version: str  # the store's own ETag: changes whenever the object changes
    modified: dt.datetime


class Bucket:
    """One bucket: a lake folder, with the few operations S3 needs."""

    def __init__(self, name: str, root: Path, main: bool) -> None:
        self.name = name
        self.root = root
        self.main = main
        self._store = LocalStore(root)

    def check_key(self, key: str) -> str:
        try:
            validate_key(key)
            self._store.local_path(key)
        except InvalidKeyError as exc:
            raise KeyRefused(str(exc)) from None
        return key

    def path(self, key: str) -> Path:
        path = self._store.local_path(self.check_key(key))
        assert path is not None
        return path

    def write_stream(self, key: str, body: IO[bytes]) -> StoredObject:
        """Write an object atomically from a stream (a temp file in the destination folder, renamed)."""
        tmp = self._store.temp_path(self.check_key(key))
        try:
            with open(tmp, "wb") as fh:
                shutil.copyfileobj(body, fh, 1024 * 1024)
            info = self._store.upload_file(key, tmp)
        finally:
            tmp.unlink(missing_ok=True)
        return StoredObject(info.key, info.size, info.etag, info.modified)

    def write_bytes(self, key: str, data: bytes) -> StoredObject:
        info = self._store.put_object(self.check_key(key), data)
        return StoredObject(info.key, info.size, info.etag, info.modified)

    def write_record(self, key: str, data: bytes) -> None:
        """Write a small derived record (an object's ETag, a query's metadata) atomically but without fsync:
        losing one to a power cut costs a recomputed MD5, not data."""
        tmp = self._store.temp_path(self.check_key(key))
        try:
            tmp.write_bytes(data)
            os.replace(tmp, self.path(key))
        finally:
            tmp.unlink(missing_ok=True)

    def temp_path(self, key: str) -> Path:
        return self._store.temp_path(self.check_key(key))

    def write_file(self, key: str, path: Path) -> StoredObject:
        info = self._store.upload_file(self.check_key(key), path)
        return StoredObject(info.key, info.size, info.etag, info.modified)

    def open(self, key: str) -> IO[bytes]:
        try:
            return self._store.open_object(self.check_key(key))
        except NoSuchKeyError:
            raise KeyError(key) from None

    def read(self, key: str) -> bytes:
        with self.open(key) as fh:
            return fh.read()

    def stat(self, key: str) -> StoredObject | None:
        try:
            info = self._store.head_object(self.check_key(key))
        except NoSuchKeyError:
            return None
        return StoredObject(info.key, info.size, info.etag, info.modified)

    def listing(self, prefix: str = "") -> Iterator[StoredObject]:
        """Objects whose key starts with ``prefix``, in key order. Only the folder the prefix points into is
        walked; a listing from the top skips lakebox's own ``_lakebox/`` unless the prefix asks for it."""
        if "/" in prefix:
            start = prefix.rsplit("/", 1)[0] + "/"
            try:
                validate_key(start)
            except InvalidKeyError:
                return
            infos: Iterator[Any] = self._store.list_objects_v2(start)
        else:
            infos = self._top_level(include_internal=INTERNAL.startswith(prefix) and bool(prefix))
        for info in infos:
            if info.key.startswith(prefix):
                yield StoredObject(info.key, info.size, info.etag, info.modified)

    def _top_level(self, include_internal: bool) -> Iterator[Any]:
        # Sorting "name" for files and "name/" for folders gives S3's key order: every key under "name/"
        # sorts after "name/" and before any sibling that sorts after it.
        entries = sorted((e.name + "/" if e.is_dir() else e.name, e.is_dir()) for e in os.scandir(self.root))
        for name, is_dir in entries:
            if (name == INTERNAL and not include_internal) or name.startswith(TMP_PREFIX):
                continue
            if is_dir:
                yield from self._store.list_objects_v2(name)
            else:
                try:
                    yield self._store.head_object(name)
                except (NoSuchKeyError, InvalidKeyError):
                    continue  # a temp file or one removed since the scan: not an object

    def delete(self, key: str) -> None:
        self._store.delete_object(self.check_key(key))

    def is_empty(self) -> bool:
        return next(self.listing(""), None) is None

    def created(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.root.stat().st_mtime, dt.UTC)


@dataclass
class QueryOutcome:
    """A finished query, as the endpoint's Athena needs it."""

    state: str
    columns: list[dict[str, str]]
    rows: list[list[str | None]]
    stats: dict[str, Any]
    error_code: str | None = None
    error_message: str | None = None
    error_category: int = 2
    statement_type: str = "DML"
    csv_path: Path | None = None
    row_count: int | None = None  # when the rows stay in the result file


class Backend:
    """The lake(s) behind the endpoint."""

    def __init__(self, settings: Settings) -> None:
        if settings.is_s3:
            raise ValueError("the endpoint serves a local lake (a folder); it cannot front an s3:// lake")
        self.settings = settings
        self.lake = Lake(settings)
        self.root = Path(settings.lake).resolve()
        self.main_bucket = settings.endpoint_bucket
        #: The region the endpoint plays: the configured one, else us-east-1 (there is no profile to ask).
        self.region = settings.region or "us-east-1"
        self._buckets: dict[str, Bucket] = {}
        self._lakes: dict[str, Lake] = {self.main_bucket: self.lake}
        self._lock = threading.Lock()
        self.mapped: dict[str, Path] = {self.main_bucket: self.root}
        for pair in filter(None, (p.strip() for p in (settings.endpoint_buckets or "").split(","))):
            name, _, folder = pair.partition("=")
            self.mapped[name.strip()] = Path(folder.strip()).resolve()
        LocalStore(self.root)  # the main lake exists from the start
        self.lake.catalog  # noqa: B018 - creates the catalog and the default database

    # --- buckets -------------------------------------------------------------------------------------------

    def _created_root(self) -> Path:
        return self.root / INTERNAL / "buckets"

    def bucket_names(self) -> list[str]:
        names = set(self.mapped)
        folder = self._created_root()
        if folder.is_dir():
            names |= {p.name for p in folder.iterdir() if p.is_dir()}
        return sorted(names)

    def bucket(self, name: str) -> Bucket | None:
        """The bucket called ``name``, or None. A name that breaks S3's rules (``..``, slashes, upper case) is
        never a bucket, wherever it comes from (a request, a table location, an OutputLocation)."""
        if not valid_bucket_name(name):
            return None
        with self._lock:
            if name in self._buckets:
                return self._buckets[name]
            root = self.mapped.get(name)
            if root is None:
                candidate = self._created_root() / name
                if not candidate.is_dir():
                    return None
                root = candidate
            b = self._buckets[name] = Bucket(name, root, name == self.main_bucket)
            return b

    def create_bucket(self, name: str) -> Bucket:
        (self._created_root() / name).mkdir(parents=True, exist_ok=True)
        b = self.bucket(name)
        assert b is not None
        return b

    def delete_bucket(self, name: str) -> None:
        """Remove a bucket made by CreateBucket (mapped folders and the main lake are never deleted)."""
        with self._lock:
            self._buckets.pop(name, None)
            self._lakes.pop(name, None)
        shutil.rmtree(self._created_root() / name, ignore_errors=False)

    def is_deletable(self, name: str) -> bool:
        return name not in self.mapped

    def bucket_of_path(self, path: Path) -> tuple[str, str] | None:
        """(bucket, key) for an absolute path inside a bucket folder (the innermost one: created buckets live
        inside the main lake's ``_lakebox/``)."""
        buckets = [b for b in (self.bucket(n) for n in self.bucket_names()) if b is not None]
        for b in sorted(buckets, key=lambda b: len(b.root.parts), reverse=True):
            try:
                rel = path.relative_to(b.root)
            except ValueError:
                continue
            return b.name, rel.as_posix()
        return None

    # --- processing (the default function: lakebox's own handler) ------------------------------------------

    def _lake_for(self, bucket: str) -> Lake:
        with self._lock:
            lake = self._lakes.get(bucket)
            if lake is None:
                b = self._buckets[bucket]
                lake = self._lakes[bucket] = Lake(self.settings.replace(lake=str(b.root)))
            return lake

    def is_trigger_key(self, key: str) -> bool:
        return matches_trigger(key)

    def s3_event(self, bucket: str, key: str, event_name: str, size: int, etag: str) -> dict[str, Any]:
        return build_event(build_record(key, bucket=bucket, event_name=event_name, size=size, etag=etag,
                                        region=self.region))

    def run_builtin(self, bucket: str, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Lakebox's own processing of an S3 event (what the watcher runs), in the bucket's lake.

        The Glue catalog is per account: for a bucket other than the lake's, the processed folder is then
        crawled into the lake's catalog too, so Glue and Athena see its table."""
        runs = self._lake_for(bucket).handle_event(event)
        if bucket != self.main_bucket:
            done = {r.dataset for r in runs if r.status == "ok"}
            for prefix in sorted({d.processed_prefix for d in self.settings.datasets if d.name in done}):
                self.crawl_target(f"s3://{bucket}/{prefix}", self.settings.database, self.settings.table_prefix)
        return [r.to_dict() for r in runs]

    def dead_letter(self, bucket: str, event: dict[str, Any], error: str, attempts: int) -> None:
        b = self.bucket(bucket)
        if b is not None:
            record_failure(b._store, event, error, attempts)

    def record_run(self, bucket: str, key: str, etag: str | None, status: str, error: str | None,
                   started: str, finished: str, duration_ms: float, extra: dict[str, Any]) -> str:
        """Keep a function invocation in the run ledger, in the shape of lakebox's run records plus the
        function's logs, so ``lakebox status`` lists it."""
        b = self.bucket(bucket)
        run = RunRecord(raw_key=key, etag=etag, status=status, error=error, started_at=started,
                        finished_at=finished, duration_ms=round(duration_ms, 1))
        body = run.to_dict() | extra
        stamp = started.replace(":", "").replace("-", "")
        record_key = f"{RUNS_PREFIX}{stamp}-{run.run_id}.json"
        if b is not None:
            b._store.put_object(record_key, json.dumps(body, indent=1, default=str).encode())
        return record_key

    # --- the catalog (Glue) --------------------------------------------------------------------------------

    @property
    def catalog(self) -> Any:
        return self.lake.catalog

    def databases(self) -> list[str]:
        return list(self.catalog.get_databases())

    def create_database(self, name: str) -> None:
        self.catalog.create_database(name)

    def tables(self, database: str) -> list[TableDef]:
        return list(self.catalog.get_tables(database))

    def table(self, database: str, name: str) -> TableDef | None:
        return self.catalog.get_table(database, name)

    def table_versions(self, database: str, name: str) -> list[TableDef]:
        return list(self.catalog.get_table_versions(database, name))

    def delete_table(self, database: str, name: str) -> None:
        self.catalog.delete_table(database, name)

    def put_table(self, table: TableDef) -> TableDef:
        return self.catalog.put_table(table)

    def s3_url(self, location: str) -> str:
        """A catalog location (lake-relative, or an absolute path in another bucket) as an s3:// URL."""
        if location.startswith("s3://"):
            return location
        if location.startswith("/"):
            found = self.bucket_of_path(Path(location))
            if found:
                return f"s3://{found[0]}/{found[1].rstrip('.')}" + ("/" if location.endswith("/") else "")
            return location
        return f"s3://{self.main_bucket}/{location}"

    def catalog_location(self, url: str) -> str:
        """The inverse of :meth:`s3_url`. Raises KeyError for a bucket the endpoint does not serve, and
        KeyRefused for a location that is not ``s3://``, would leave its bucket or points into ``_lakebox/``:
        the engine reads whatever a table's location holds, so a location is never a local path."""
        if not url.startswith("s3://"):
            raise KeyRefused(f"location {url!r} is not an s3:// URL")
        bucket, _, key = url[5:].partition("/")
        b = self.bucket(bucket)
        if b is None:
            raise KeyError(bucket)
        if key:
            b.check_key(key)
            if key.startswith(INTERNAL):
                raise KeyRefused(f"location {url!r} is inside lakebox's own {INTERNAL}")
        if b.main:
            return key
        return str(b.root / key) + ("/" if key.endswith("/") or not key else "")

    def glue_table(self, t: TableDef) -> dict[str, Any]:
        """A TableDef as Glue's Table structure."""
        shapes = GlueConverter("")
        out = shapes.table_input(t)
        if t.location:  # a view has none
            out["StorageDescriptor"]["Location"] = self.s3_url(t.location)
        for key in ("lakebox.last_crawl", "lakebox.source"):
            out["Parameters"].pop(key, None)
            out["StorageDescriptor"].get("Parameters", {}).pop(key, None)
        when = _parse_time(t.updated_at)
        out.update({"DatabaseName": t.database, "CreateTime": when, "UpdateTime": when,
                    "LastAccessTime": when, "VersionId": str(t.version), "CatalogId": "000000000000",
                    "IsRegisteredWithLakeFormation": False, "CreatedBy": "arn:aws:iam::000000000000:user/lakebox"})
        if t.last_crawl:
            out["LastAnalyzedTime"] = _parse_time(t.last_crawl)
        return out

    def glue_partitions(self, t: TableDef) -> list[dict[str, Any]]:
        shapes = GlueConverter("")
        out = []
        for p in t.partitions:
            pi = shapes.partition_input(t, p)
            pi["StorageDescriptor"]["Location"] = self.s3_url(p.location)
            pi.update({"DatabaseName": t.database, "TableName": t.name, "CatalogId": "000000000000",
                       "CreationTime": _parse_time(t.updated_at)})
            out.append(pi)
        return out

    def table_from_input(self, database: str, ti: dict[str, Any], old: TableDef | None = None) -> TableDef:
        """A Glue TableInput as a TableDef, with its files listed (Athena reads whatever is at the location)."""
        shapes = GlueConverter("")
        sd = ti.get("StorageDescriptor") or {}
        t = shapes.table_from_glue({**ti, "DatabaseName": database})
        t.name = ti["Name"].lower()
        t.database = database.lower()
        location = sd.get("Location", "")
        t.location = self.catalog_location(location) if location else ""
        fmt_hint = " ".join(str(x) for x in (sd.get("InputFormat"), (sd.get("SerdeInfo") or {}).get(
            "SerializationLibrary"), (ti.get("Parameters") or {}).get("classification"))).lower()
        t.format = "parquet" if "parquet" in fmt_hint else "csv"
        params = {str(k): str(v) for k, v in (ti.get("Parameters") or {}).items()}
        serde = {str(k): str(v) for k, v in ((sd.get("SerdeInfo") or {}).get("Parameters") or {}).items()}
        if t.format == "csv":
            params.setdefault("skip.header.line.count", "0")
            params["field.delim"] = serde.get("field.delim", serde.get("separatorChar", ","))
        params["lakebox.source"] = "api"
        t.parameters = params
        t.partitions = list(old.partitions) if old else []
        self.refresh_files(t)
        return t

    def refresh_files(self, t: TableDef) -> bool:
        """List the data files under the table's location (as Athena does at query time). True if changed."""
        if not t.location:
            return False
        if t.location.startswith("/"):
            found = self.bucket_of_path(Path(t.location))
            if not found:
                return False
            bucket_name, prefix = found
            prefix = prefix + "/" if t.location.endswith("/") and not prefix.endswith("/") else prefix
            b = self.bucket(bucket_name)
            assert b is not None
            files = [str(b.root / o.key) for o in b.listing(prefix) if is_data_file(o.key[len(prefix):] or o.key)]
        else:
            files = [o.key for o in self.lake.store.list_objects_v2(t.location)
                     if is_data_file(o.key[len(t.location):] or o.key)]
        suffix = ".parquet" if t.format == "parquet" else ""
        files = sorted(f for f in files if not suffix or f.endswith(suffix))
        changed = files != t.files
        t.files = files
        t.file_count = len(files)
        return changed

    def refresh_api_tables(self) -> None:
        """Bring the file lists of tables made through the API up to date before a query."""
        for t in self.catalog.get_tables():
            if t.parameters.get("lakebox.source") == "api" and self.refresh_files(t):
                self.catalog.put_table(t)

    def add_partitions(self, t: TableDef, inputs: list[dict[str, Any]]) -> list[tuple[list[str], str]]:
        """BatchCreatePartition: add partitions; returns (values, error code) for those that already exist."""
        have = {tuple(p.values) for p in self.catalog.get_partitions(t.database, t.name)}
        errors, new = [], []
        for pi in inputs:
            values = tuple(str(v) for v in pi.get("Values", []))
            if values in have:
                errors.append((list(values), "AlreadyExistsException"))
                continue
            loc = (pi.get("StorageDescriptor") or {}).get("Location") or ""
            new.append(PartitionDef(values, self.catalog_location(loc) if loc else t.location))
            have.add(values)
        self.catalog.batch_create_partition(t, new)
        return errors

    # --- the crawler ---------------------------------------------------------------------------------------

    def crawl_target(self, url: str, database: str, table_prefix: str) -> list[tuple[str, str]]:
        """Crawl one S3 target path as a Glue crawler does; returns (table name, "created"|"updated").

        Files directly under the path make one table named after the path's last folder (plus the
        crawler's TablePrefix), sub-folders becoming partitions. A path holding only folders makes one table
        per folder, unless they are all ``k=v`` partition folders. CSV is typed by Glue's built-in classifier.
        """
        bucket, _, prefix = url[5:].partition("/") if url.startswith("s3://") else ("", "", url)
        b = self.bucket(bucket)
        if b is None:
            raise KeyError(bucket)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        self.catalog.create_database(database)
        keys = [o.key for o in b.listing(prefix) if not o.key.startswith(INTERNAL)
                and is_data_file(o.key[len(prefix):])]
        direct = any("/" not in k[len(prefix):] for k in keys)
        subfolders = sorted({k[len(prefix):].split("/", 1)[0] for k in keys if "/" in k[len(prefix):]})
        if direct or not subfolders or all("=" in s for s in subfolders):
            roots = [prefix]
        else:
            roots = [f"{prefix}{s}/" for s in subfolders]
        out = []
        for root in roots:
            folder = root.rstrip("/").rsplit("/", 1)[-1] if root else bucket
            name = sanitize_table_name(folder or bucket, table_prefix)
            existed = self.catalog.get_table(database, name) is not None
            files = collect_file_infos(b._store, root, self.catalog.get_files(database, name))
            table = build_table(database, name, root, files, parameters=table_parameters(files))
            if table is None:
                continue
            table.parameters["UPDATED_BY_CRAWLER"] = "lakebox"
            if not b.main:
                self._absolute(table, b.root)
            self.catalog.put_table(table, files=files)
            out.append((name, "updated" if existed else "created"))
        return out

    @staticmethod
    def _absolute(table: TableDef, root: Path) -> None:
        table.location = str(root / table.location) + "/"
        table.files = [str(root / f) for f in table.files]
        for p in table.partitions:
            p.location = str(root / p.location) + "/"

    # --- state files ---------------------------------------------------------------------------------------

    def load_state(self, name: str) -> Any:
        path = self.root / ENDPOINT_STATE / name
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError:
            return None  # a corrupt state file starts over empty rather than stopping the endpoint

    def save_state(self, name: str, value: Any) -> None:
        self.lake.store.put_object(ENDPOINT_STATE + name, json.dumps(value, indent=1, default=str).encode())

    def state_dir(self, name: str) -> Path:
        path = self.root / ENDPOINT_STATE / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    # --- queries (Athena) ----------------------------------------------------------------------------------

    def start_query(self, sql: str, database: str) -> str:
        """StartQueryExecution on lakebox's engine (Trino SQL on DuckDB); returns the engine's execution id.
        SQL that is not read-only raises ``AthenaError`` here."""
        self.refresh_api_tables()
        return str(self.lake.engine.start_query_execution(sql, database))

    def stop_query(self, engine_id: str) -> None:
        """StopQueryExecution: the engine interrupts the running statement."""
        self.lake.engine.stop_query_execution(engine_id)

    def query_outcome(self, engine_id: str, sql: str) -> QueryOutcome | None:
        """The engine's execution once it is final (None while it runs). Rows stay in the result CSV, whose
        local path is returned; the engine's own metadata record is dropped, as the endpoint writes its
        own at the OutputLocation."""
        ex = self.lake.engine.get_query_execution(engine_id)
        status = ex.get("Status", {})
        state = str(status.get("State", "RUNNING"))
        if state not in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return None
        stats = dict(ex.get("Statistics", {}))
        self.lake.store.delete_object(f"enriched/{engine_id}.csv.metadata")
        if state != "SUCCEEDED":
            err = status.get("AthenaError", {})
            return QueryOutcome(state, [], [], stats, str(err.get("ErrorType", "GENERIC_INTERNAL_ERROR")),
                                str(status.get("StateChangeReason", "")), int(err.get("ErrorCategory", 2)))
        kind = str(ex.get("StatementType") or "DML")
        if kind == "DML" and sql.lstrip().split(None, 1)[0].upper() in ("SHOW", "DESCRIBE", "EXPLAIN"):
            kind = "UTILITY"
        columns = [{"name": c["Name"], "type": c["Type"]} for c in ex.get("ResultSetMetadata", {}).get(
            "ColumnInfo", [])]
        csv_path = self.lake.store.local_path(f"enriched/{engine_id}.csv")
        return QueryOutcome("SUCCEEDED", columns, [], stats, statement_type=kind, csv_path=csv_path,
                            row_count=int(ex.get("RowCount", 0)))

    def move_result(self, src: Path, bucket: str, key: str) -> None:
        """Put a result file at its OutputLocation (a rename inside one file system)."""
        b = self.bucket(bucket)
        if b is None:
            raise KeyError(bucket)
        dest = b.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(src, dest)
        except OSError:
            shutil.copyfile(src, dest)
            src.unlink(missing_ok=True)

    def close(self) -> None:
        engine = self.lake.__dict__.get("engine")
        if engine is not None:
            engine.close()


def _parse_time(value: str | None) -> dt.datetime:
    if not value:
        return dt.datetime.now(dt.UTC)
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return dt.datetime.now(dt.UTC)


__all__ = ["ATHENA_CATALOG", "Backend", "Bucket", "KeyRefused", "QueryOutcome", "StoredObject"]

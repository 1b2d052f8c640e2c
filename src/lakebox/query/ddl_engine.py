"""The embedded engine's side of Athena DDL: locations in the lake, SELECTs analysed and written by DuckDB.

:class:`DuckDdlHost` implements :class:`lakebox.query.ddl.DdlHost` for :class:`~lakebox.query.engine.DuckEngine`.
Locations are ``s3://<endpoint_bucket>/<prefix>`` (the bucket under which the endpoint serves the lake), never a
local path, a ``..`` segment or lakebox's own ``_lakebox/``. CTAS files are written by DuckDB into the
engine's staging folder (the only place its locked-down connection may write) and moved into the lake.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import duckdb

from lakebox.core.sql import quote_ident, quote_literal
from lakebox.query.ddl import DdlCatalog
from lakebox.query.dialect import translate
from lakebox.query.duck_errors import from_duckdb
from lakebox.query.errors import AthenaError
from lakebox.query.results import athena_type
from lakebox.store.base import Store

_INTERNAL = "_lakebox/"


class LakeLocations:
    """``s3://bucket/prefix`` <-> lake keys for one bucket name."""

    def __init__(self, store: Store, bucket: str) -> None:
        self.store = store
        self.bucket = bucket

    def locate(self, url: str) -> str:
        if not url.startswith("s3://"):
            raise AthenaError("INVALID_TABLE_PROPERTY", f"location {url!r} is not an s3:// URL")
        bucket, _, key = url[5:].partition("/")
        if bucket != self.bucket:
            raise AthenaError("INVALID_TABLE_PROPERTY", f"The bucket of {url} is not this lake's "
                              f"(s3://{self.bucket}/)")
        segments = key.rstrip("/").split("/") if key else []
        if any(s in ("", ".", "..") for s in segments):
            raise AthenaError("INVALID_TABLE_PROPERTY", f"location {url!r} has an empty, '.' or '..' segment")
        if (key.rstrip("/") + "/").startswith(_INTERNAL):
            raise AthenaError("INVALID_TABLE_PROPERTY", f"location {url!r} is inside lakebox's own {_INTERNAL}")
        return key

    def s3_url(self, location: str) -> str:
        return f"s3://{self.bucket}/{location}"

    def list_keys(self, location: str) -> list[str]:
        return [o.key for o in self.store.list_objects_v2(location)]


class DuckSide(Protocol):
    """What DDL uses of :class:`~lakebox.query.engine.DuckEngine`."""

    store: Store

    def cursor(self) -> duckdb.DuckDBPyConnection: ...

    def staging_dir(self) -> Path: ...

    def resolve(self, database: str | None, name: str) -> tuple[str, str] | None: ...

    def catalog_columns(self) -> dict[tuple[str, str], list[tuple[str, str]]]: ...


class DuckDdlHost:
    """DDL's I/O on the embedded engine."""

    def __init__(self, engine: DuckSide, catalog: DdlCatalog, locations: LakeLocations) -> None:
        self.engine = engine
        self.catalog = catalog
        self.locations = locations

    def locate(self, url: str) -> str:
        return self.locations.locate(url)

    def s3_url(self, location: str) -> str:
        return self.locations.s3_url(location)

    def list_keys(self, location: str) -> list[str]:
        return self.locations.list_keys(location)

    def _translated(self, sql: str, database: str) -> str:
        cur = self.engine.cursor()
        try:
            tr = translate(sql, self.engine.resolve, database, self.engine.catalog_columns())
        finally:
            cur.close()
        if tr.kind != "select":
            raise AthenaError("NOT_SUPPORTED", "a view or CTAS needs a query (SELECT, WITH, VALUES)")
        return tr.sql

    def select_columns(self, sql: str, database: str) -> list[tuple[str, str]]:
        body = self._translated(sql, database)
        cur = self.engine.cursor()
        try:
            rel = cur.execute(f"SELECT * FROM ({body}) LIMIT 0")
            desc = rel.description or []
        except duckdb.Error as exc:
            raise from_duckdb(exc, sql) from None
        finally:
            cur.close()
        tr = translate(sql, self.engine.resolve, database, self.engine.catalog_columns())
        names = tr.output_names if tr.output_names and len(tr.output_names) == len(desc) else [d[0] for d in desc]
        return [(n, athena_type(str(d[1]))) for n, d in zip(names, desc, strict=True)]

    def write_select(self, sql: str, database: str, location: str, fmt: str, partitioned_by: Sequence[str],
                     delimiter: str) -> None:
        body = self._translated(sql, database)
        columns = self.select_columns(sql, database)
        names = [n.lower() for n, _ in columns]
        staging = self.engine.staging_dir() / f".lakebox-ctas-{uuid.uuid4().hex}"
        # Positional names for the query's columns: its own may repeat or differ from Athena's labels.
        aliases = ", ".join(quote_ident(n) for n in names)
        options = ["FORMAT parquet"] if fmt == "parquet" else [
            "FORMAT csv", "HEADER false", f"DELIMITER {quote_literal(delimiter)}", "QUOTE ''", "ESCAPE ''",
            "NULLSTR '\\N'"]
        if partitioned_by:
            options.append("PARTITION_BY (" + ", ".join(quote_ident(p) for p in partitioned_by) + ")")
            options.append("FILENAME_PATTERN 'part_{i}'")
        target = staging if partitioned_by else staging / ("part_0.parquet" if fmt == "parquet" else "part_0")
        if not partitioned_by:
            staging.mkdir(parents=True)
        cur = self.engine.cursor()
        try:
            cur.execute(f"COPY (SELECT * FROM ({body}) AS _ctas({aliases})) TO {quote_literal(str(target))} "
                        f"({', '.join(options)})")
        except duckdb.Error as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise from_duckdb(exc, sql) from None
        finally:
            cur.close()
        try:
            for path in sorted(p for p in staging.rglob("*") if p.is_file()):
                rel = path.relative_to(staging).as_posix()
                if fmt != "parquet" and rel.endswith(".csv"):
                    rel = rel[:-len(".csv")]
                self.engine.store.upload_file(location + rel, path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

"""The "Glue" stage: the crawler and the catalog.

``crawl`` lists a table's folder, reads only the footers (or CSV samples) of new or changed files, and writes
the table, its partitions and, when the schema changed, a new version. ``update_catalog_for_run`` does the
same for the one table a processed file belongs to, so no manual crawl is ever needed.
"""

from __future__ import annotations

import csv
import io
import shutil
import threading
from pathlib import Path

import duckdb

from lakebox.catalog.crawler import (
    ColumnDef,
    FileInfo,
    TableDef,
    build_table,
    detect_delimiter,
    hive_type,
    infer_csv_schema,
    is_data_file,
    sanitize_table_name,
)
from lakebox.catalog.local import LocalCatalog
from lakebox.config import Settings
from lakebox.core.runs import RunRecord
from lakebox.core.sql import quote_literal
from lakebox.store.base import Store

__all__ = ["LocalCatalog", "TableDef", "crawl", "open_catalog", "table_location", "update_catalog_for_run"]

CATALOG_KEY = "_lakebox/catalog.sqlite"
# One crawl of a table at a time: listing, footers and the write form one consistent snapshot.
_crawl_lock = threading.RLock()


def open_catalog(settings: Settings, store: Store) -> LocalCatalog:
    """The catalog for this lake: a SQLite file inside it (or Glue, when ``catalog = "glue"``)."""
    if settings.catalog == "glue":
        from lakebox.catalog.glue import GlueCatalog

        return GlueCatalog.from_settings(settings, store=store)  # type: ignore[return-value]
    path = store.local_path(CATALOG_KEY)
    if path is None:
        raise ValueError("the local catalog needs a local lake; use catalog = \"glue\" with s3:// lakes")
    return LocalCatalog(path)


def table_location(settings: Settings, prefix: str) -> tuple[str, str]:
    """(database, table name) for a processed prefix: the dataset's explicit ``table_name`` if it has one,
    else the folder name plus the table prefix, sanitised as Glue's crawler names tables."""
    for d in settings.datasets:
        if d.processed_prefix == prefix and d.table_name:
            return settings.database, sanitize_table_name(d.table_name)
    return settings.database, sanitize_table_name(prefix, settings.table_prefix)


def _sample_csv(path: Path) -> tuple[list[list[str]], str]:
    with open(path, "rb") as fh:
        head = fh.read(1024 * 1024).decode("utf-8-sig", errors="replace")
    delim = detect_delimiter(head)
    # Like Glue, sample the first 1000 records or 1 MB. A record cut by the 1 MB boundary can end the sample
    # with a csv.Error; the rows read before it are the sample.
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(head, newline=""), delimiter=delim)
    while len(rows) <= 1000:
        try:
            row = next(reader, None)
        except csv.Error:
            break
        if row is None:
            break
        rows.append(row)
    return rows, delim


def read_file_info(path: Path, key: str, size: int, etag: str) -> FileInfo | None:
    """Schema and row count of one data file: the Parquet footer, or Glue's CSV classifier on a sample."""
    con = duckdb.connect(":memory:")
    try:
        if key.endswith(".parquet"):
            rows = con.execute(f"SELECT num_rows FROM parquet_file_metadata({quote_literal(str(path))})").fetchone()
            # hive_partitioning off: partition folders are the crawler's business, not columns of the file.
            desc = con.execute(
                f"DESCRIBE SELECT * FROM read_parquet({quote_literal(str(path))}, hive_partitioning=false)"
            ).fetchall()
            cols = tuple(ColumnDef(r[0].lower(), hive_type(r[1])) for r in desc)
            return FileInfo(key, size, etag, int(rows[0]) if rows else 0, cols, "parquet")
        if key.endswith(".csv"):
            sample, delim = _sample_csv(path)
            columns, has_header = infer_csv_schema(sample)
            n = con.execute(
                f"SELECT count(*) FROM read_csv({quote_literal(str(path))}, hive_partitioning=false, "
                f"header={str(has_header).lower()}, "
                f"all_varchar=true, delim={quote_literal(delim)}, strict_mode=false, ignore_errors=true)"
            ).fetchone()
            return FileInfo(key, size, etag, int(n[0]) if n else 0, tuple(columns), "csv", delim, has_header)
    except duckdb.Error:
        return None  # unreadable file: Glue logs and skips it; so do we
    finally:
        con.close()
    return None


def crawl_prefix(settings: Settings, store: Store, catalog: LocalCatalog, prefix: str) -> TableDef | None:
    """Crawl one include path (a processed/ folder) into one table. Unchanged files are not re-read."""
    with _crawl_lock:
        return _crawl_prefix(settings, store, catalog, prefix)


def collect_file_infos(
    store: Store, prefix: str, known: dict[str, FileInfo], download_dir: Path | None = None
) -> list[FileInfo]:
    """The data files under ``prefix`` with their schemas: cached infos for unchanged ETags, footers (or CSV
    samples) read for the rest. Objects without a local path are downloaded to ``download_dir`` (S3), or
    skipped when it is None."""
    files: list[FileInfo] = []
    for obj in store.list_objects_v2(prefix):
        if not is_data_file(obj.key) or not obj.key.endswith((".parquet", ".csv")):
            continue
        prev = known.get(obj.key)
        if prev is not None and prev.etag == obj.etag:
            files.append(prev)
            continue
        path = store.local_path(obj.key)
        if path is None:
            if download_dir is None:
                continue
            path = download_dir / ("obj" + Path(obj.key).suffix)
            with store.open_object(obj.key) as body, open(path, "wb") as fh:
                shutil.copyfileobj(body, fh, 8 * 1024 * 1024)
        info = read_file_info(path, obj.key, obj.size, obj.etag)
        if info is not None:
            files.append(info)
    return files


def table_parameters(files: list[FileInfo]) -> dict[str, str]:
    """Table parameters a crawler sets from the files: the CSV delimiter and header of the first CSV file."""
    csv_files = [f for f in files if f.format == "csv"]
    if not csv_files:
        return {}
    first = csv_files[0]
    return {"skip.header.line.count": "1" if first.has_header else "0", "field.delim": first.delimiter}


def _crawl_prefix(settings: Settings, store: Store, catalog: LocalCatalog, prefix: str) -> TableDef | None:
    database, name = table_location(settings, prefix)
    files = collect_file_infos(store, prefix, catalog.get_files(database, name))
    params = table_parameters(files)
    table = build_table(database, name, prefix, files, parameters=params)
    if table is None:
        catalog.put_files(database, name, files)
        if catalog.get_table(database, name) is not None:
            catalog.delete_table(database, name)
        return None
    return catalog.put_table(table, files=files)


def crawl(settings: Settings, store: Store, catalog: LocalCatalog | None = None) -> list[TableDef]:
    """``lakebox crawl``: crawl every dataset's processed folder (Glue's StartCrawler, run to completion)."""
    catalog = catalog or open_catalog(settings, store)
    catalog.create_database(settings.database)
    prefixes = sorted({d.processed_prefix for d in settings.datasets})
    out = []
    for prefix in prefixes:
        if settings.catalog == "glue":  # files live in S3: the Glue backend reads them through the store
            t = catalog.crawl_prefix(settings, store, prefix)
        else:
            t = crawl_prefix(settings, store, catalog, prefix)
        if t is not None:
            out.append(t)
    return out


start_crawler = crawl  # Glue's action name


def update_catalog_for_run(settings: Settings, store: Store, run: RunRecord) -> None:
    """After a file is processed, bring its table up to date (no manual crawl)."""
    if settings.catalog == "glue":
        from lakebox.catalog import glue

        glue.update_catalog_for_run(settings, store, run)
        return
    if store.local_path(CATALOG_KEY) is None:
        raise ValueError("an s3:// lake needs catalog = \"glue\" (LAKEBOX_CATALOG=glue)")
    catalog = open_catalog(settings, store)
    for d in settings.datasets:
        if d.name == run.dataset:
            crawl_prefix(settings, store, catalog, d.processed_prefix)

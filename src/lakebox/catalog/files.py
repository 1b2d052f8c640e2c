"""What the crawler reads from the data files themselves: Parquet footers, and CSV samples classified as
Glue's CSV classifier does. DuckDB reads them, locally or after a download from S3."""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import duckdb

from lakebox.catalog.crawler import (
    ColumnDef,
    FileInfo,
    detect_delimiter,
    hive_type,
    infer_csv_schema,
    is_data_file,
)
from lakebox.core.sql import quote_literal
from lakebox.store.base import Store


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


def collect_file_infos(store: Store, prefix: str, known: Mapping[str, FileInfo]) -> list[FileInfo]:
    """The data files under ``prefix`` with their schemas: cached infos for unchanged ETags, footers (or CSV
    samples) read for the rest. Objects without a local path (S3) are downloaded to a temp folder first,
    created only when one is needed and removed before returning."""
    files: list[FileInfo] = []
    work: Path | None = None
    try:
        for obj in store.list_objects_v2(prefix):
            if not is_data_file(obj.key) or not obj.key.endswith((".parquet", ".csv")):
                continue
            prev = known.get(obj.key)
            if prev is not None and prev.etag == obj.etag:
                files.append(prev)
                continue
            path = store.local_path(obj.key)
            if path is None:
                work = work or Path(tempfile.mkdtemp(prefix="lakebox-crawl-"))
                path = work / ("obj" + Path(obj.key).suffix)
                with store.open_object(obj.key) as body, open(path, "wb") as fh:
                    shutil.copyfileobj(body, fh, 8 * 1024 * 1024)
            info = read_file_info(path, obj.key, obj.size, obj.etag)
            if info is not None:
                files.append(info)
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    return files


def table_parameters(files: list[FileInfo]) -> dict[str, str]:
    """Table parameters a crawler sets from the files: the CSV delimiter and header of the first CSV file."""
    csv_files = [f for f in files if f.format == "csv"]
    if not csv_files:
        return {}
    first = csv_files[0]
    return {"skip.header.line.count": "1" if first.has_header else "0", "field.delim": first.delimiter}

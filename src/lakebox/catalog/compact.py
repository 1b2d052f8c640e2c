"""Compaction: many small Parquet files of a table merged into few target-size ones, without losing where
each row came from.

A table fed by many small uploads is slow to query (every file is opened, every footer read). Compaction
merges the small files of each folder (each partition) into files of about ``target_bytes``. Readers never
see a half-done state: the merged file is written under a new name, then one catalog transaction swaps it in
for the files it replaces (the engine reads the catalog's file list, never a listing), and only then are the
old objects deleted.

Provenance: each file's catalog entry lists its sources (raw key, first row, row count). Merged files are
written in the order of their sources, so their entries say which rows came from which raw object. When a
raw object is processed again, :func:`drop_source_rows` rewrites the files holding its old rows without
them (and drops files that held nothing else), so reprocessing still replaces exactly that file's rows.

Local lakes only: on S3 the update path cannot hold one lock across concurrent Lambdas.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from lakebox.catalog.base import Catalog
from lakebox.catalog.crawler import FileInfo
from lakebox.core.sql import quote_ident, quote_literal
from lakebox.store.base import NoSuchKeyError, Store

#: Athena's guidance for Parquet: files of roughly 128 MB.
DEFAULT_TARGET_BYTES = 128 * 1024 * 1024

#: Rows per row group in compacted files when ``row_group_mb`` is 0: DuckDB's default. DuckDB parallelises a
#: Parquet scan by row group, so a merged file of a million rows in one group was read by one thread (1.5x
#: slower than the same rows written by processing, measured by bench_compact); Athena prefers larger groups,
#: which the ``row_group_mb`` setting asks for.
COMPACT_ROW_GROUP_ROWS = 122_880

Sources = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Compacted:
    """One merged file and the files it replaced."""

    key: str
    rows: int
    size: int
    replaced: tuple[str, ...]


def small_files(files: Iterable[FileInfo], target_bytes: int) -> list[FileInfo]:
    """The files compaction may merge: Parquet, with known provenance, under half of ``target_bytes``. Pure."""
    return [f for f in files if f.format == "parquet" and f.sources and f.size < target_bytes // 2]


def plan_bins(files: Sequence[FileInfo], target_bytes: int) -> list[list[FileInfo]]:
    """Groups of small files (same folder, Parquet, known provenance) to merge, each up to ``target_bytes``;
    only groups of two or more files are worth a rewrite. Pure."""
    by_folder: dict[str, list[FileInfo]] = {}
    for f in small_files(sorted(files, key=lambda f: f.key), target_bytes):
        by_folder.setdefault(f.key.rpartition("/")[0], []).append(f)
    bins: list[list[FileInfo]] = []
    for group in by_folder.values():
        current: list[FileInfo] = []
        size = 0
        for f in group:
            if current and size + f.size > target_bytes:
                bins.append(current)
                current, size = [], 0
            current.append(f)
            size += f.size
        bins.append(current)
    return [b for b in bins if len(b) > 1]


def group_rows(files: Sequence[FileInfo], row_group_mb: int) -> int:
    """Rows per row group for a file merged from ``files``: about ``row_group_mb`` MiB of their Parquet
    (compressed) bytes, never fewer than DuckDB's 122,880 rows. Rows, not bytes: a byte limit on row groups
    needs row order off, and compaction keeps rows in provenance order. Pure."""
    rows, size = sum(f.rows for f in files), sum(f.size for f in files)
    if row_group_mb <= 0 or rows <= 0 or size <= 0:
        return COMPACT_ROW_GROUP_ROWS
    return max(COMPACT_ROW_GROUP_ROWS, int(row_group_mb * 2**20 * rows / size))


def merged_sources(files: Sequence[FileInfo]) -> Sources:
    """The provenance of the files concatenated in this order. Pure."""
    out: list[tuple[str, int, int]] = []
    offset = 0
    for f in files:
        out += [(raw, offset + start, n) for raw, start, n in f.sources]
        offset += f.rows
    return tuple(out)


def _connect(memory_limit: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = {quote_literal(memory_limit)}")
    con.execute("SET preserve_insertion_order = true")  # rows stay in source order: provenance is by position
    return con


def _write(con: duckdb.DuckDBPyConnection, store: Store, select: str, folder: str, rows: int,
           template: FileInfo, sources: Sources, row_group_rows: int) -> FileInfo:
    key = f"{folder}/compacted-{uuid.uuid4().hex[:16]}.parquet"
    tmp = store.temp_path(key)
    try:
        # preserve_insertion_order keeps rows in provenance order (a byte limit on row groups would need it
        # off), so row groups are cut by rows.
        con.execute(f"COPY ({select}) TO {quote_literal(str(tmp))} "
                    f"(FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE {int(row_group_rows)})")
        info = store.upload_file(key, tmp)
    finally:
        tmp.unlink(missing_ok=True)
    return FileInfo(key, info.size, info.etag, rows, template.columns, "parquet", sources=sources)


def _paths(store: Store, files: Sequence[FileInfo]) -> list[Path]:
    paths = []
    for f in files:
        path = store.local_path(f.key)
        if path is None:
            raise ValueError("compaction needs a local lake")
        paths.append(path)
    return paths


def _unchanged(store: Store, files: Sequence[FileInfo]) -> bool:
    for f in files:
        try:
            if store.head_object(f.key).etag != f.etag:
                return False
        except NoSuchKeyError:
            return False
    return True


def compact_table(store: Store, catalog: Catalog, database: str, name: str, *, target_bytes: int,
                  memory_limit: str, swap_lock: AbstractContextManager[object],
                  row_group_mb: int = 0) -> list[Compacted]:
    """Merge the table's small files; each merge is swapped into the catalog under ``swap_lock`` (the
    update path's lock) after checking that none of its inputs changed meanwhile. Merged files have row
    groups of about ``row_group_mb`` MiB (:func:`group_rows`)."""
    out: list[Compacted] = []
    con = _connect(memory_limit)
    try:
        for group in plan_bins(list(catalog.get_files(database, name).values()), target_bytes):
            listing = "[" + ", ".join(quote_literal(str(p)) for p in _paths(store, group)) + "]"
            rows = sum(f.rows for f in group)
            new = _write(con, store, f"SELECT * FROM read_parquet({listing}, hive_partitioning=false)",
                         group[0].key.rpartition("/")[0], rows, group[0], merged_sources(group),
                         group_rows(group, row_group_mb))
            with swap_lock:
                if not _unchanged(store, group) or catalog.apply_files(
                        database, name, [new], [f.key for f in group]) is None:
                    store.delete_object(new.key)  # an input changed: leave this group for the next run
                    continue
            for f in group:
                store.delete_object(f.key)
            out.append(Compacted(new.key, rows, new.size, tuple(f.key for f in group)))
    finally:
        con.close()
    return out


def drop_source_rows(store: Store, holders: Sequence[FileInfo], raw_key: str,
                     memory_limit: str, row_group_mb: int = 0) -> tuple[list[FileInfo], list[str]]:
    """Files rewritten without ``raw_key``'s rows, and the keys they (or emptied files) replace. A holder
    whose rows all came from ``raw_key`` is just removed. The caller swaps them in the catalog, then deletes
    the replaced objects."""
    added: list[FileInfo] = []
    removed: list[str] = []
    con: duckdb.DuckDBPyConnection | None = None
    try:
        for f in holders:
            removed.append(f.key)
            keep = [s for s in f.sources if s[0] != raw_key]
            if not keep:
                continue
            con = con or _connect(memory_limit)
            (path,) = _paths(store, [f])
            ranges = " OR ".join(f"(file_row_number >= {start} AND file_row_number < {start + n})"
                                 for _, start, n in keep)
            rows = sum(n for _, _, n in keep)
            sources, offset = [], 0
            for raw, _, n in keep:
                sources.append((raw, offset, n))
                offset += n
            cols = ", ".join(quote_ident(c.name) for c in f.columns)
            select = (f"SELECT {cols} FROM read_parquet({quote_literal(str(path))}, hive_partitioning=false, "
                      f"file_row_number=true) WHERE {ranges} ORDER BY file_row_number")
            added.append(_write(con, store, select, f.key.rpartition("/")[0], rows, f, tuple(sources),
                                group_rows([f], row_group_mb)))
    finally:
        if con is not None:
            con.close()
    return added, removed

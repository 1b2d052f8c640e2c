"""Publishing one run's kept rows: the one output object, or one object per partition, each described for the
catalog from the writer's own counts (``RunRecord.output_files``), and the previous run's outputs that this
run no longer has removed (a reprocessed file whose rows moved out of a month leaves no stale month behind).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from lakebox.catalog.crawler import hive_type
from lakebox.core.dataset import Dataset
from lakebox.core.runs import RunRecord
from lakebox.core.sql import quote_literal
from lakebox.process.partition import write_partitioned
from lakebox.process.stream import parquet_options
from lakebox.store.base import ObjectInfo, Store


def output_file(obj: ObjectInfo, rows: int, dataset: Dataset, raw_key: str) -> dict[str, Any]:
    """What the catalog needs about a Parquet output, from the writer rather than its footer: the dataset's
    columns with the Glue types a crawler reads from such a footer, and which raw object its rows came from."""
    return {"key": obj.key, "size": obj.size, "etag": obj.etag, "rows": rows, "format": "parquet",
            "columns": [[c.name.lower(), hive_type(c.type.upper())] for c in dataset.columns],
            "sources": [[raw_key, 0, rows]]}


def publish_outputs(con: duckdb.DuckDBPyConnection, store: Store, dataset: Dataset, raw_key: str, out_tmp: Path,
                    fmt: str, rows_kept: int, work: Path, run: RunRecord, *, row_group_mb: int = 0) -> None:
    """Put the run's outputs in place (each atomically) and record them on ``run``; partition files are
    written with ``row_group_mb`` row groups, as the unpartitioned output is."""
    if dataset.partition is None or fmt != "parquet":
        out_key = dataset.output_key(raw_key, fmt)
        published = store.upload_file(out_key, out_tmp)
        run.output_keys = [out_key]
        if fmt == "parquet":
            run.output_files = [output_file(published, rows_kept, dataset, raw_key)]
        return
    folder = work / f".lakebox-parts-{run.run_id}"
    try:
        parts = write_partitioned(con, f"SELECT * FROM read_parquet({quote_literal(str(out_tmp))})",
                                  dataset.partition, folder, parquet_options(row_group_mb))
        for part in parts:
            key = dataset.partition_output_key(raw_key, part.value)
            published = store.upload_file(key, part.path)
            run.output_keys.append(key)
            run.output_files.append(output_file(published, part.rows, dataset, raw_key))
    finally:
        for path in sorted(folder.rglob("*"), reverse=True) if folder.exists() else []:
            path.rmdir() if path.is_dir() else path.unlink()
        folder.rmdir() if folder.exists() else None


def remove_stale(store: Store, previous: RunRecord | None, run: RunRecord) -> None:
    """Delete the previous run's outputs that ``run`` did not write again; they are listed on the run
    (``replaced_keys``) so the catalog forgets them in the same update that adds the new ones."""
    if previous is None:
        return
    keep = set(run.output_keys)
    for key in previous.output_keys:
        if key not in keep:
            store.delete_object(key)
            run.replaced_keys.append(key)

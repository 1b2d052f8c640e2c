"""The flat-cost catalog update: a processed file is taken into the local catalog as a delta (no listing, no
footer read, no rewrite of the other files), and the result is exactly what a full crawl of the folder says."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

from lakebox.catalog import files as catalog_files
from lakebox.catalog.crawl import CatalogUpdater
from lakebox.catalog.crawler import FileInfo
from lakebox.config import Settings
from lakebox.lake import Lake
from lakebox.process.sample import write_sample

TABLE = ("orders_db", "orders_processed")


def _land(lake: Lake, tmp: Path, name: str, rows: int, seed: int) -> None:
    src = tmp / name
    write_sample(src, rows, lake.settings.reference_date(), seed=seed)
    run = lake.ingest([src])[0].run
    assert run.status == "ok", run.error


def test_delta_matches_a_full_crawl_and_reads_no_footer(make_settings: Callable[..., Settings], tmp_path: Path,
                                                        monkeypatch) -> None:
    lake = Lake(make_settings())
    _land(lake, tmp_path, "a.csv", 300, 1)  # first file: the table is created by a crawl
    reads: list[str] = []
    real = catalog_files.read_file_info

    def counting(path: Path, key: str, size: int, etag: str) -> FileInfo | None:
        reads.append(key)
        return real(path, key, size, etag)

    monkeypatch.setattr(catalog_files, "read_file_info", counting)
    for i in range(5):
        _land(lake, tmp_path, f"b{i}.csv", 200 + i, 10 + i)
    _land(lake, tmp_path, "b2.csv", 50, 99)  # the same raw key again: its file is replaced, not added
    assert reads == []  # every later file came from the writer's own description
    incremental = lake.catalog.get_table(*TABLE)
    files = lake.catalog.get_files(*TABLE)
    assert incremental is not None

    # A full crawl from scratch, with footers re-read, must agree on every count and column.
    lake.catalog.put_files(*TABLE, [])
    crawled = CatalogUpdater(lake.settings, lake.store, lake.catalog).crawl_prefix("processed/")
    assert crawled is not None
    assert len(reads) == 6
    for field in ("files", "file_count", "row_count", "size_bytes", "columns", "partition_keys", "partitions"):
        assert getattr(incremental, field) == getattr(crawled, field), field
    assert {k: v for k, v in incremental.parameters.items()} == crawled.parameters
    recrawled = lake.catalog.get_files(*TABLE)
    assert {k: dataclasses.replace(f, sources=()) for k, f in files.items()} == recrawled
    # The incremental path also kept which raw file each output's rows came from.
    assert files["processed/b2.parquet"].sources == (("raw/b2.csv", 0, files["processed/b2.parquet"].rows),)
    rows = lake.engine.run_query("SELECT count(*) FROM orders_processed").rows
    assert rows[0][0] == crawled.row_count


def test_a_replaced_output_falls_back_to_a_crawl(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    """The writer's description is trusted only while the object still has the ETag it wrote."""
    lake = Lake(make_settings())
    _land(lake, tmp_path, "a.csv", 100, 1)
    _land(lake, tmp_path, "b.csv", 100, 2)
    run = lake.ledger.latest("raw/b.csv")
    assert run is not None and run.output_files
    path = lake.store.local_path(run.output_keys[0])
    assert path is not None
    other = lake.store.local_path(lake.ledger.latest("raw/a.csv").output_keys[0])  # type: ignore[union-attr]
    assert other is not None
    path.write_bytes(other.read_bytes())  # someone replaced the file behind the run's back
    os.utime(path, (1, 1))
    table = lake.catalog_updater.update_for_run(run)
    assert table is not None and table.row_count == lake.catalog.get_files(*TABLE)[run.output_keys[0]].rows * 2

"""Compaction: small files merged into few, the same answers before and after, and reprocessing one raw file
afterwards still replaces exactly its rows (provenance kept through the merge)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lakebox.catalog.compact import merged_sources, plan_bins
from lakebox.catalog.crawler import ColumnDef, FileInfo
from lakebox.config import Settings, load_settings
from lakebox.lake import Lake

H = b"OrderID,Customer,Amount,Status,OrderDate\n"
TABLE = ("orders_db", "orders_processed")
ALL = "SELECT order_id, customer_id, order_amount, order_date FROM orders_processed ORDER BY order_id"


def _ingest(lake: Lake, tmp: Path, name: str, ids: range, month: int = 2) -> None:
    path = tmp / name
    path.write_bytes(H + "".join(f"{name[0]}{i},c{i % 3},{i}.25,shipped,2025-{month:02d}-{1 + i % 28:02d}\n"
                                 for i in ids).encode())
    assert lake.ingest([path])[0].run.status == "ok"


def _f(key: str, size: int, rows: int, sources: tuple[tuple[str, int, int], ...]) -> FileInfo:
    return FileInfo(key, size, "e", rows, (ColumnDef("a", "int"),), "parquet", sources=sources)


def test_plan_groups_small_files_per_folder_and_skips_unknown_provenance() -> None:
    files = [_f("p/m=1/a", 10, 1, (("raw/a", 0, 1),)), _f("p/m=1/b", 10, 2, (("raw/b", 0, 2),)),
             _f("p/m=2/c", 10, 1, (("raw/c", 0, 1),)), _f("p/m=1/d", 10, 1, ()), _f("p/m=1/big", 90, 1, (("x", 0, 1),))]
    assert [[f.key for f in b] for b in plan_bins(files, 100)] == [["p/m=1/a", "p/m=1/b"]]
    assert merged_sources(files[:2]) == (("raw/a", 0, 1), ("raw/b", 1, 2))


@pytest.mark.parametrize("partition_by", [None, "order_month"])
def test_compaction_keeps_answers_and_reprocessing_replaces_exactly_its_rows(
        tmp_path: Path, make_settings: Callable[..., Settings], partition_by: str | None) -> None:
    cfg = tmp_path / "lakebox.toml"
    cfg.write_text(f'[datasets.orders]\npartition_by = "{partition_by}"\n' if partition_by else "")
    lake = Lake(load_settings({"lake": str(tmp_path / "lake"), "as_of": "2025-05-01"}, env={}, config_file=cfg))
    for n in range(8):
        _ingest(lake, tmp_path, f"{'abcdefgh'[n]}.csv", range(n * 10, n * 10 + 10), month=2 + n % 2)
    before = lake.engine.run_query(ALL).rows
    assert len(before) == 80
    done = lake.catalog_updater.compact(target_bytes=1024 * 1024)
    assert done and sum(len(c.replaced) for c in done) == 8
    table = lake.catalog.get_table(*TABLE)
    assert table is not None and table.file_count == (2 if partition_by else 1) and table.row_count == 80
    assert lake.engine.run_query(ALL).rows == before
    processed = [p for p in (tmp_path / "lake" / "processed").rglob("*.parquet")]
    assert sorted(str(p.relative_to(tmp_path / "lake")) for p in processed) == sorted(table.files)

    # c.csv again with other rows: its old ten rows leave the compacted file, the new ones arrive.
    _ingest(lake, tmp_path, "c.csv", range(500, 503), month=3)
    after = lake.engine.run_query(ALL).rows
    expected = sorted([r for r in before if not r[0].startswith("c")] +
                      [[f"c{i}", f"c{i % 3}"] + r[2:] for i, r in zip(range(500, 503), before, strict=False)],
                      key=lambda r: r[0])
    assert [r[:2] for r in after] == [r[:2] for r in expected]
    assert len(after) == 73
    table = lake.catalog.get_table(*TABLE)
    assert table is not None and table.row_count == 73
    # And the catalog still matches the folder: nothing stale left behind.
    processed = [p for p in (tmp_path / "lake" / "processed").rglob("*.parquet")]
    assert sorted(str(p.relative_to(tmp_path / "lake")) for p in processed) == sorted(table.files)

"""Compaction: small files merged into few, the same answers before and after, and reprocessing one raw file
afterwards still replaces exactly its rows (provenance kept through the merge)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from lakebox.catalog.compact import group_rows, merged_sources, plan_bins
from lakebox.catalog.crawler import ColumnDef, FileInfo
from lakebox.config import Settings, load_settings
from lakebox.lake import Lake

H = b"OrderID,Customer,Amount,Status,OrderDate\n"
TABLE = ("orders_db", "orders_processed")
AS_OF = dt.date(2025, 5, 1)
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


def _row_groups(path: Path) -> int:
    import duckdb

    with duckdb.connect() as con:
        (n,) = con.execute("SELECT count(DISTINCT row_group_id) FROM parquet_metadata(?)", [str(path)]).fetchone() or (0,)
    return int(n)


def test_group_rows_follows_the_inputs_bytes_per_row() -> None:
    files = [_f("p/a", 1024 * 1024, 100_000, (("raw/a", 0, 1),)), _f("p/b", 1024 * 1024, 100_000, (("raw/b", 0, 1),))]
    assert group_rows(files, 0) == 122_880  # DuckDB's default
    assert group_rows(files, 64) == 6_400_000  # 64 MiB at 100,000 rows a MiB
    assert group_rows(files, 1) == 122_880  # never below DuckDB's default


@pytest.mark.parametrize("row_group_mb", [0, 64])
def test_row_group_mb_sizes_processed_and_compacted_row_groups(
        tmp_path: Path, make_settings: Callable[..., Settings], row_group_mb: int) -> None:
    from lakebox.process.sample import write_sample

    lake = Lake(make_settings(row_group_mb=row_group_mb))
    for name, seed in (("a.csv", 1), ("b.csv", 2)):
        write_sample(tmp_path / name, 170_000, AS_OF, seed=seed)
        assert lake.ingest([tmp_path / name])[0].run.status == "ok"
    before = lake.engine.run_query(ALL).rows
    rows = len(before)
    assert rows > 2 * 122_880
    for path in sorted((tmp_path / "lake" / "processed").glob("*.parquet")):
        kept = _rows(path)
        # 0: DuckDB's 122,880-row groups; 64 MiB: one group holds a whole file.
        assert _row_groups(path) == (1 if row_group_mb else -(-kept // 122_880)) and kept > 122_880
    done = lake.catalog_updater.compact(target_bytes=1024 * 1024 * 1024)
    assert len(done) == 1
    (merged,) = (tmp_path / "lake" / "processed").glob("compacted-*.parquet")
    assert _row_groups(merged) == (1 if row_group_mb else -(-rows // 122_880))
    # The two samples share order ids, so the rows are compared whole.
    assert sorted(map(tuple, lake.engine.run_query(ALL).rows)) == sorted(map(tuple, before))


def _rows(path: Path) -> int:
    import duckdb

    with duckdb.connect() as con:
        (n,) = con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone() or (0,)
    return int(n)


def test_watcher_compacts_a_table_once_it_has_compact_min_files(
        tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    lake = Lake(make_settings(compact_min_files=3))
    raw = tmp_path / "lake" / "raw"
    raw.mkdir(parents=True)
    for n, name in enumerate(("a", "b")):
        (raw / f"{name}.csv").write_bytes(H + "".join(f"{name}{i},c1,{i}.25,shipped,2025-02-03\n"
                                                      for i in range(n * 10, n * 10 + 10)).encode())
    watcher = lake.watcher(workers=1, observe=False)
    assert not watcher.run_once(60).failed
    table = lake.catalog.get_table(*TABLE)
    assert table is not None and table.file_count == 2  # below the threshold: left alone

    (raw / "c.csv").write_bytes(H + b"c1,c1,1.25,shipped,2025-02-03\nc2,c2,2.50,pending,2025-02-04\n")
    assert not watcher.run_once(60).failed
    table = lake.catalog.get_table(*TABLE)
    assert table is not None and table.file_count == 1 and table.row_count == 21  # c2: old pending
    (merged,) = table.files
    assert "compacted-" in merged
    info = lake.catalog.get_files(*TABLE)[merged]
    assert [s[0] for s in info.sources] == ["raw/a.csv", "raw/b.csv", "raw/c.csv"]
    assert [r[0] for r in lake.engine.run_query(ALL).rows] == sorted(
        [f"a{i}" for i in range(10)] + [f"b{i}" for i in range(10, 20)] + ["c1"])
    assert sorted(p.name for p in (tmp_path / "lake" / "processed").glob("*.parquet")) == [merged.split("/")[-1]]

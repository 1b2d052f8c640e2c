"""Monthly partitions: ``partition_by = "order_month"`` writes Hive-style folders, the catalog records the
partitions (incrementally, from the writer's counts), the engine answers the same rows as an unpartitioned
lake, and reprocessing a raw file replaces exactly its rows, even when its rows move to other months."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakebox.config import load_settings
from lakebox.core.dataset import Partition, default_dataset, parse_partition
from lakebox.lake import Lake

H = b"OrderID,Customer,Amount,Status,OrderDate\n"
TOP_FEB = "SELECT order_id, order_amount FROM orders_processed WHERE order_date >= DATE '2025-02-01' " \
          "AND order_date < DATE '2025-03-01' ORDER BY order_amount DESC, order_id LIMIT 10"


def _lake(tmp_path: Path, name: str, partition_by: str | None) -> Lake:
    cfg = tmp_path / f"{name}.toml"
    cfg.write_text(f'[datasets.orders]\npartition_by = "{partition_by}"\n' if partition_by else "")
    return Lake(load_settings({"lake": str(tmp_path / name), "as_of": "2025-05-01"}, env={}, config_file=cfg))


def _csv(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_bytes(H + "".join(r + "\n" for r in rows).encode())
    return path


def test_parse_partition_forms() -> None:
    cols = default_dataset().columns
    assert parse_partition("order_month", cols, "order_date") == Partition("order_month", "order_date", "month")
    assert parse_partition("y=year(order_date)", cols, None) == Partition("y", "order_date", "year")
    assert parse_partition("order_status", cols, None) == Partition("order_status", "order_status", "value")
    for bad in ("order_month=month(customer_id)", "whatever", "order_date=day(order_date)", "a b"):
        with pytest.raises(ValueError, match="partition_by"):
            parse_partition(bad, cols, "order_date")


def test_partitioned_lake_answers_like_a_flat_one(tmp_path: Path) -> None:
    rows = [f"O{i},C{i % 7},{i}.50,shipped,2025-{1 + i % 4:02d}-{1 + i % 27:02d}" for i in range(200)]
    flat, parts = _lake(tmp_path, "flat", None), _lake(tmp_path, "parts", "order_month")
    for lake in (flat, parts):
        assert lake.ingest([_csv(tmp_path, "a.csv", rows[:120])])[0].run.status == "ok"
        assert lake.ingest([_csv(tmp_path, "b.csv", rows[120:])])[0].run.status == "ok"
    run = parts.ledger.latest("raw/b.csv")
    assert run is not None
    assert run.output_keys == [f"processed/order_month=2025-0{m}/b.parquet" for m in range(1, 5)]
    table = parts.catalog.get_table("orders_db", "orders_processed")
    assert table is not None
    assert [c.name for c in table.partition_keys] == ["order_month"]
    assert [(p.values, p.file_count, p.row_count) for p in table.partitions] == [
        ((f"2025-0{m}",), 2, 50) for m in range(1, 5)]
    assert table.row_count == 200 and table.file_count == 8
    for sql in (TOP_FEB, "SELECT count(*), sum(order_amount) FROM orders_processed",
                "SELECT customer_id, count(*) FROM orders_processed GROUP BY 1 ORDER BY 1"):
        a, b = flat.engine.run_query(sql), parts.engine.run_query(sql)
        assert a.state == b.state == "SUCCEEDED", (a.error, b.error)
        assert a.rows == b.rows, sql
    feb = parts.engine.run_query("SELECT count(*) FROM orders_processed WHERE order_month = '2025-02'")
    assert feb.rows == [[50]]


def test_reprocessing_replaces_exactly_its_rows_across_months(tmp_path: Path) -> None:
    lake = _lake(tmp_path, "parts", "order_month")
    lake.ingest([_csv(tmp_path, "a.csv", ["A1,x,1.00,shipped,2025-01-05", "A2,x,2.00,shipped,2025-02-05"])])
    lake.ingest([_csv(tmp_path, "b.csv", ["B1,y,5.00,shipped,2025-02-06"])])
    # a.csv again, now with rows only in March: its January and February files must go, b's must stay.
    run = lake.ingest([_csv(tmp_path, "a.csv", ["A3,x,3.00,shipped,2025-03-01"])])[0].run
    assert run.replaced_keys == ["processed/order_month=2025-01/a.parquet", "processed/order_month=2025-02/a.parquet"]
    got = lake.engine.run_query("SELECT order_id, order_month FROM orders_processed ORDER BY 1").rows
    assert got == [["A3", "2025-03"], ["B1", "2025-02"]]
    table = lake.catalog.get_table("orders_db", "orders_processed")
    assert table is not None
    assert [p.values for p in table.partitions] == [("2025-02",), ("2025-03",)]
    assert sorted(table.files) == ["processed/order_month=2025-02/b.parquet", "processed/order_month=2025-03/a.parquet"]
    assert not (tmp_path / "parts" / "processed" / "order_month=2025-01").exists() or not any(
        (tmp_path / "parts" / "processed" / "order_month=2025-01").iterdir())


def test_pruning_shows_in_bytes_scanned(tmp_path: Path) -> None:
    """A month's filter on a partitioned table reads that month's files only; the statistic says so."""
    rows = [f"O{i},C{i % 7},{i}.50,shipped,2025-{1 + i % 4:02d}-{1 + i % 27:02d}" for i in range(4000)]
    flat, parts = _lake(tmp_path, "flat", None), _lake(tmp_path, "parts", "order_month")
    for lake in (flat, parts):
        assert lake.ingest([_csv(tmp_path, "a.csv", rows)])[0].run.status == "ok"
    month = "SELECT sum(order_amount) FROM orders_processed WHERE order_month = '2025-02'"
    by_date = TOP_FEB.replace("order_id, order_amount", "sum(order_amount)").split(" ORDER BY")[0]
    whole = flat.engine.run_query(by_date)
    pruned = parts.engine.run_query(month)
    assert whole.rows == pruned.rows == parts.engine.run_query(by_date).rows
    scanned_whole = int(whole.stats["DataScannedInBytes"])
    scanned_month = int(pruned.stats["DataScannedInBytes"])
    assert 0 < scanned_month * 3 < scanned_whole


def test_concurrent_queries_beyond_the_profiled_cursors(tmp_path: Path) -> None:
    """More queries at once than the engine has profiled cursors: all succeed (the rest on plain cursors)."""
    import threading

    lake = _lake(tmp_path, "parts", "order_month")
    lake.ingest([_csv(tmp_path, "a.csv", ["A1,x,1.00,shipped,2025-01-05", "A2,x,2.00,shipped,2025-02-05"])])
    results: list[object] = []
    barrier = threading.Barrier(12)

    def one() -> None:
        barrier.wait()
        r = lake.engine.run_query("SELECT count(*) FROM orders_processed", write_result=False)
        results.append((r.state, r.rows))

    threads = [threading.Thread(target=one) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [("SUCCEEDED", [[2]])] * 12

"""Monthly partitions: the same 12 months of orders in an unpartitioned lake and in one with
``partition_by = "order_month"``; the named query ``top_orders_february_2025`` on both, side by side.

The named query filters ``DATE_FORMAT(order_date, '%Y-%m') = :month``; the translation adds the
``order_date`` range that implies (``lakebox.query.pruning``), so DuckDB skips the other months' files by
their statistics. The second query filters on the partition column itself, as one would on Athena.

Bytes scanned are the engine's ``DataScannedInBytes`` (DuckDB's profiler: compressed column data read after
partition pruning and row groups skipped by their statistics). Times are medians of interleaved runs.

    python benchmarks/bench_partitions.py [--rows 1200000] [--files 4] [--repeat 9] [--out benchmarks/results/partitions.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from _common import bench_lake, machine, publish

AS_OF = dt.date(2026, 1, 1)  # the sample's dates run from 2025-01-01 to here: twelve months
HERE = Path(__file__).resolve().parent
QUERIES = {
    "top_orders_february_2025 (named query; filters order_date)": None,
    "the same month by its partition column": (
        "SELECT order_id, customer_id, order_date, order_amount, order_status FROM orders_processed "
        "WHERE order_month = '2025-02' ORDER BY order_amount DESC, order_id LIMIT 10"),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_200_000)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "partitions.md")
    args = ap.parse_args()

    from lakebox.lake import Lake
    from lakebox.process.sample import write_sample

    work = Path(tempfile.mkdtemp(prefix="lakebox-bench-parts-"))
    try:
        cfg = work / "parts.toml"
        cfg.write_text('[datasets.orders]\npartition_by = "order_month"\n')
        flat = bench_lake(work / "flat", AS_OF)
        parts = bench_lake(work / "parts", AS_OF, config_file=cfg)
        inputs = []
        for i in range(args.files):
            path = work / f"orders_{i}.csv"
            write_sample(path, args.rows // args.files, AS_OF, seed=i)
            inputs.append(path)
        for lake in (flat, parts):
            assert all(item.run.status == "ok" for item in lake.ingest(inputs))
        table = parts.catalog.get_table("orders_db", "orders_processed")
        assert table is not None
        flat_table = flat.catalog.get_table("orders_db", "orders_processed")
        assert flat_table is not None
        results = []
        for label, sql in QUERIES.items():
            def run(lake: Lake, sql: str | None = sql) -> tuple[list, int]:
                r = (lake.run_named(lake.named_queries["top_orders_february_2025"], write_result=False) if sql is None
                     else lake.engine.run_query(sql, write_result=False))
                assert r.state == "SUCCEEDED", r.error
                return r.rows, int(r.stats["DataScannedInBytes"])

            # The unpartitioned lake has no order_month column: it always answers with the named query.
            base_rows, base_bytes = run(flat, None)
            rows, scanned = run(parts)
            assert rows == base_rows, (label, rows, base_rows)
            times: dict[str, list[float]] = {"flat": [], "parts": []}
            for _ in range(args.repeat):
                for name, lake in (("flat", flat), ("parts", parts)):
                    t = time.perf_counter()
                    run(lake, None if name == "flat" else sql)
                    times[name].append(time.perf_counter() - t)
            results.append((label, base_bytes, scanned, statistics.median(times["flat"]),
                            statistics.median(times["parts"])))
            print(f"  {label}: {base_bytes:,} vs {scanned:,} bytes", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    load = os.getloadavg()[0]
    lines = [
        "# Monthly partitions",
        "",
        f"{args.rows:,} orders from 2025-01-01 to 2025-12-31 in {args.files} uploads; unpartitioned: "
        f"{flat_table.file_count} files, {flat_table.size_bytes / 1e6:.1f} MB; partitioned by `order_month`: "
        f"{table.file_count} files in {len(table.partitions)} partitions, {table.size_bytes / 1e6:.1f} MB. "
        f"Both return the same rows. Medians of {args.repeat} interleaved runs; {machine(f'{load:.1f}')}.",
        "",
        "| query | bytes scanned, unpartitioned | bytes scanned, partitioned | fraction | time, unpartitioned "
        "| time, partitioned | target |",
        "|---|--:|--:|--:|--:|--:|---|",
    ]
    for label, base_bytes, scanned, t_flat, t_parts in results:
        lines.append(f"| {label} | {base_bytes:,} | {scanned:,} | **1/{base_bytes / max(scanned, 1):.0f}** | "
                     f"{t_flat * 1000:.1f} ms | {t_parts * 1000:.1f} ms | <= 1/10 of the bytes, same rows |")
    text = "\n".join(lines) + "\n"
    publish(text, args.out)


if __name__ == "__main__":
    main()

"""Compaction: the five named queries over a table of 1,000 small files, the same table after
``CatalogUpdater.compact`` (what ``lakebox compact`` runs), and the same rows ingested as one file.

Query times are medians of interleaved runs (many files, compacted, one file, then rotated), each query
through the embedded engine without a result file (the dashboard's call).

    python benchmarks/bench_compact.py [--files 1000] [--rows 1000] [--repeat 7] [--out benchmarks/results/compact.md]
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

AS_OF = dt.date(2025, 5, 1)
HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "compact.md")
    args = ap.parse_args()

    from lakebox.lake import Lake
    from lakebox.process.sample import write_sample

    work = Path(tempfile.mkdtemp(prefix="lakebox-bench-compact-"))
    try:
        def lake_at(name: str) -> Lake:
            return bench_lake(work / name, AS_OF)

        many, compacted, single = lake_at("many"), lake_at("compacted"), lake_at("single")
        inputs = work / "inputs"
        inputs.mkdir()
        for i in range(args.files):
            write_sample(inputs / f"orders_{i:05d}.csv", args.rows, AS_OF, seed=i)
        with open(work / "all.csv", "wb") as out:
            for i, f in enumerate(sorted(inputs.iterdir())):
                lines = f.read_bytes().splitlines(keepends=True)
                out.writelines(lines if i == 0 else lines[1:])
        for name, lake in (("many", many), ("compacted", compacted)):
            raw = work / name / "raw"
            raw.mkdir(parents=True, exist_ok=True)
            for f in sorted(inputs.iterdir()):
                shutil.copyfile(f, raw / f.name)
            outcome = lake.watcher().run_once(1800)
            assert not getattr(outcome, "failed", None), outcome
        assert single.ingest([work / "all.csv"])[0].run.status == "ok"
        t = time.perf_counter()
        merged = compacted.catalog_updater.compact()
        compact_s = time.perf_counter() - t
        tables = {name: lake.catalog.get_table("orders_db", "orders_processed")
                  for name, lake in (("many", many), ("compacted", compacted), ("single", single))}
        assert all(t is not None and t.row_count == tables["single"].row_count for t in tables.values()), tables
        lakes = {"many": many, "compacted": compacted, "single": single}
        import duckdb

        layout = {}
        with duckdb.connect() as con:
            for name in lakes:
                files = [str(work / name / f) for f in tables[name].files]
                groups, size = con.execute(
                    "SELECT count(DISTINCT (file_name, row_group_id)), sum(total_compressed_size) "
                    "FROM parquet_metadata(?)", [files]).fetchone() or (0, 0)
                layout[name] = (len(files), int(groups), int(size or 0))
        rows = []
        for q in sorted(many.named_queries):
            answers = {}
            times: dict[str, list[float]] = {k: [] for k in lakes}
            for i in range(args.repeat + 1):
                # The order rotates each round: with a fixed order the compacted table always ran right after the
                # 1,000-file one and measured up to 1.47x the single file although both files have the same
                # layout (and read in the same time by DuckDB directly); rotated, that went away.
                order = list(lakes.items())
                for name, lake in order[i % 3:] + order[:i % 3]:
                    t = time.perf_counter()
                    r = lake.run_named(lake.named_queries[q], write_result=False)
                    times[name].append(time.perf_counter() - t)
                    assert r.state == "SUCCEEDED", r.error
                    answers[name] = r.rows
            assert answers["many"] == answers["compacted"] == answers["single"], q
            med = {k: statistics.median(v[1:]) for k, v in times.items()}  # the first round warms up
            rows.append((q, med))
            print(f"  {q}: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in med.items()), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    load = os.getloadavg()[0]
    t_many, t_comp = tables["many"], tables["compacted"]
    lines = [
        "# Compaction",
        "",
        f"{args.files:,} files of {args.rows:,} rows through the watcher, then `compact` (target 128 MB): "
        f"{t_many.file_count:,} files became {t_comp.file_count} in {compact_s:.1f} s; all three tables answer "
        f"every query with the same rows. Medians of {args.repeat} interleaved runs; {machine(f'{load:.1f}')}. "
        f"({len(merged)} merged files written.)",
    ]
    lines += ["", "| table | files | row groups | compressed column bytes |", "|---|--:|--:|--:|"]
    lines += [f"| {name} | {n:,} | {g:,} | {b:,} |" for name, (n, g, b) in layout.items()]
    lines += ["", f"| query | {t_many.file_count:,} files | compacted | one file | compacted / one file | target |",
              "|---|--:|--:|--:|--:|---|"]
    for q, med in rows:
        lines.append(f"| `{q}` | {med['many'] * 1000:.1f} ms | {med['compacted'] * 1000:.1f} ms | "
                     f"{med['single'] * 1000:.1f} ms | **{med['compacted'] / med['single']:.2f}x** | <= 1.2x |")
    text = "\n".join(lines) + "\n"
    publish(text, args.out)


if __name__ == "__main__":
    main()

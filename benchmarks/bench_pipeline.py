"""Pipeline benchmark: process, crawl and the five named queries over N orders (default 5M), side by side
with the original Lambda's approach (whole file in memory, csv.DictReader, strptime per row).

Each measured step runs in its own child process so peak RSS (from wait4) belongs to that step alone.

    python benchmarks/bench_pipeline.py [--rows 5000000] [--repeat 5] [--out benchmarks/results/pipeline.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
AS_OF = dt.date(2025, 5, 1)


def child(argv: list[str]) -> tuple[dict, float]:
    """Run this script in worker mode; return its JSON result and its peak RSS in MiB."""
    proc = subprocess.Popen([sys.executable, __file__, "--worker", *argv], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"worker {argv} failed with status {status}")
    return json.loads(out), usage.ru_maxrss / 1024


def worker(argv: list[str]) -> None:
    kind = argv[0]
    if kind == "naive":
        sys.path.insert(0, str(HERE))
        from naive_lambda import naive_process

        t = time.perf_counter()
        read, kept = naive_process(Path(argv[1]), Path(argv[2]), AS_OF)
        print(json.dumps({"seconds": time.perf_counter() - t, "rows": read, "kept": kept}))
        return
    from lakebox.config import load_settings
    from lakebox.lake import Lake

    lake = Lake(load_settings({"lake": argv[1], "as_of": AS_OF.isoformat()}, env={}))
    if kind == "process":
        t = time.perf_counter()
        run = lake.process("raw/orders.csv", force=True)
        print(json.dumps({"seconds": time.perf_counter() - t, "rows": run.rows_read, "kept": run.rows_kept,
                          "status": run.status}))
    elif kind == "crawl":
        lake.catalog.put_files(lake.settings.database, "orders_processed", [])  # force footers to be re-read
        t = time.perf_counter()
        tables = lake.crawl()
        print(json.dumps({"seconds": time.perf_counter() - t, "rows": tables[0].row_count}))
    elif kind == "queries":
        repeat = int(argv[2])
        out = {}
        lake.engine.run_query("SELECT 1")  # build the connection and views once
        for name in lake.named_queries:
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                r = lake.run_named(lake.named_queries[name])
                times.append(time.perf_counter() - t)
                assert r.state == "SUCCEEDED", r.error
            out[name] = {"median": statistics.median(times), "max": max(times), "rows": r.row_count}
        print(json.dumps(out))
    elif kind == "sample":
        from lakebox.process.sample import write_sample

        t = time.perf_counter()
        write_sample(Path(argv[2]), int(argv[3]), AS_OF)
        print(json.dumps({"seconds": time.perf_counter() - t}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--work", type=Path, default=HERE / "_work")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "pipeline.md")
    ap.add_argument("--skip-naive", action="store_true")
    args = ap.parse_args()

    # The parent stays small (no DuckDB, no data): a child's peak RSS counts the parent's memory at fork.
    args.work.mkdir(parents=True, exist_ok=True)
    src = args.work / f"orders_{args.rows}.csv"
    if not src.exists():
        print(f"generating {args.rows:,} rows ...", file=sys.stderr)
        gen, _ = child(["sample", "-", str(src), str(args.rows)])
        print(f"  {gen['seconds']:.1f} s, {src.stat().st_size / 1e6:.0f} MB", file=sys.stderr)
    lake_dir = args.work / "lake"
    shutil.rmtree(lake_dir, ignore_errors=True)
    (lake_dir / "raw").mkdir(parents=True)
    shutil.copyfile(src, lake_dir / "raw" / "orders.csv")

    print("process (lakebox), median of 3 ...", file=sys.stderr)
    trials = [child(["process", str(lake_dir)]) for _ in range(3)]
    proc = sorted((t[0] for t in trials), key=lambda r: r["seconds"])[1]
    proc_rss = max(t[1] for t in trials)
    print("crawl ...", file=sys.stderr)
    crawl, crawl_rss = child(["crawl", str(lake_dir)])
    print("queries ...", file=sys.stderr)
    queries, q_rss = child(["queries", str(lake_dir), str(args.repeat)])
    naive = naive_rss = None
    if not args.skip_naive:
        print("process (naive csv module) ...", file=sys.stderr)
        naive, naive_rss = child(["naive", str(src), str(args.work / "naive_out.csv")])

    rows = proc["rows"]
    mb = src.stat().st_size / 1e6
    lines = [
        f"Pipeline benchmark: {rows:,} orders ({mb:.0f} MB CSV), as of {AS_OF}; "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}.",
        "",
        "| step | lakebox | naive (original Lambda style) | ratio | target |",
        "|---|---|---|---|---|",
    ]
    lk_rate = rows / proc["seconds"]
    if naive:
        nv_rate = naive["rows"] / naive["seconds"]
        lines.append(f"| process: rows/s | {lk_rate:,.0f} ({proc['seconds']:.2f} s) | {nv_rate:,.0f} "
                     f"({naive['seconds']:.2f} s) | **{lk_rate / nv_rate:.1f}x** | >= 20x |")
        lines.append(f"| process: peak RSS | {proc_rss:,.0f} MiB | {naive_rss:,.0f} MiB | | < 1024 MiB |")
        assert naive["kept"] == proc["kept"], (naive["kept"], proc["kept"])
    else:
        lines.append(f"| process: rows/s | {lk_rate:,.0f} ({proc['seconds']:.2f} s) | - | | |")
        lines.append(f"| process: peak RSS | {proc_rss:,.0f} MiB | - | | < 1024 MiB |")
    lines.append(f"| crawl (footers re-read) | {crawl['seconds'] * 1000:.0f} ms, {crawl_rss:,.0f} MiB | "
                 "manual console step | | |")
    for name, q in queries.items():
        lines.append(f"| query `{name}` median (max) | {q['median'] * 1000:.0f} ms ({q['max'] * 1000:.0f} ms) | "
                     f"| | < 500 ms |")
    lines.append(f"| queries: peak RSS | {q_rss:,.0f} MiB | | | |")
    table = "\n".join(lines)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2:])
    else:
        main()

"""Many small files through the watcher: 1,000 files of 1,000 rows landed in raw/ at once, drained by the real
watcher (``lakebox watch --once``'s path), side by side with the simplest alternatives: one DuckDB
``COPY`` per file in one process (a bare loop, no catalog, no records), and one DuckDB ``COPY`` over a glob.

Runs are interleaved (lakebox, loop, glob, lakebox, ...), each in a fresh child process; the table shows
medians. The watcher's rate is also given for the first and the last 250 files, from the completion times:
a per-file cost that grows with the table shows as a slower last quarter.

    python benchmarks/bench_files.py [--files 1000] [--rows 1000] [--repeat 3] [--out benchmarks/results/files.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import bench_lake, machine, publish

AS_OF = dt.date(2025, 5, 1)
HERE = Path(__file__).resolve().parent


def _make_inputs(folder: Path, files: int, rows: int) -> None:
    from lakebox.process.sample import write_sample

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        write_sample(folder / f"orders_{i:05d}.csv", rows, AS_OF, seed=i)


def _land(inputs: Path, raw: Path) -> None:
    raw.mkdir(parents=True, exist_ok=True)
    for f in sorted(inputs.iterdir()):
        shutil.copyfile(f, raw / f.name)


def run_lakebox(inputs: Path, work: Path) -> dict:

    lake = bench_lake(work / "lake", AS_OF)
    lake.store  # noqa: B018 - create the layout before the clock starts
    _land(inputs, work / "lake" / "raw")
    done: list[float] = []
    watcher = lake.watcher()
    watcher.on_result(lambda r: done.append(time.perf_counter()) if r.status == "ok" else None)
    t0 = time.perf_counter()
    outcome = watcher.run_once(600)
    total = time.perf_counter() - t0
    table = lake.catalog.get_table("orders_db", "orders_processed")
    count = lake.engine.run_query("SELECT count(*) FROM orders_processed").rows[0][0]
    done.sort()
    quarter = len(done) // 4
    first = quarter / (done[quarter - 1] - t0) if quarter else 0.0
    last = quarter / (done[-1] - done[-quarter - 1]) if quarter else 0.0
    return {"seconds": total, "files": len(done), "first_rate": first, "last_rate": last,
            "failed": len(outcome.failed) if hasattr(outcome, "failed") else 0,
            "table_files": table.file_count if table else 0, "rows": int(count)}


def run_loop(inputs: Path, work: Path) -> dict:
    import duckdb

    out = work / "loop"
    out.mkdir(parents=True)
    files = sorted(inputs.iterdir())
    t0 = time.perf_counter()
    con = duckdb.connect()
    for f in files:
        con.execute(f"COPY (SELECT * FROM read_csv('{f}') WHERE NOT (lower(Status) IN ('pending', 'cancelled') "
                    f"AND OrderDate <= DATE '{AS_OF}' - INTERVAL 30 DAY)) TO '{out / f.stem}.parquet' (FORMAT parquet)")
    return {"seconds": time.perf_counter() - t0, "files": len(files)}


def run_glob(inputs: Path, work: Path) -> dict:
    import duckdb

    t0 = time.perf_counter()
    duckdb.connect().execute(
        f"COPY (SELECT * FROM read_csv('{inputs}/*.csv') WHERE NOT (lower(Status) IN ('pending', 'cancelled') "
        f"AND OrderDate <= DATE '{AS_OF}' - INTERVAL 30 DAY)) TO '{work / 'all.parquet'}' (FORMAT parquet)")
    return {"seconds": time.perf_counter() - t0, "files": len(list(inputs.iterdir()))}


KINDS = {"lakebox": run_lakebox, "loop": run_loop, "glob": run_glob}


def child(kind: str, inputs: Path) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"lakebox-bench-{kind}-"))
    try:
        out = subprocess.run([sys.executable, __file__, "--worker", kind, str(inputs), str(work)],
                             check=True, stdout=subprocess.PIPE, text=True).stdout
        return json.loads(out.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "files.md")
    ap.add_argument("--worker", nargs=3)
    args = ap.parse_args()
    if args.worker:
        kind, inputs, work = args.worker
        print(json.dumps(KINDS[kind](Path(inputs), Path(work))))
        return
    inputs = Path(tempfile.mkdtemp(prefix="lakebox-bench-inputs-"))
    try:
        _make_inputs(inputs, args.files, args.rows)
        runs: dict[str, list[dict]] = {k: [] for k in KINDS}
        for i in range(args.repeat):
            for kind in KINDS:
                runs[kind].append(r := child(kind, inputs))
                print(f"  run {i + 1} {kind}: {r['seconds']:.2f} s", file=sys.stderr)
    finally:
        shutil.rmtree(inputs, ignore_errors=True)

    def med(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[kind])

    lb = runs["lakebox"]
    assert all(r["files"] == args.files and r["table_files"] == args.files for r in lb), lb
    files_s = args.files / med("lakebox", "seconds")
    first, last = med("lakebox", "first_rate"), med("lakebox", "last_rate")
    load = os.getloadavg()[0]
    lines = [
        "# Many small files through the watcher",
        "",
        f"{args.files:,} files of {args.rows:,} rows landed in raw/ at once; medians of {args.repeat} interleaved "
        f"runs, each in a fresh process. {machine(f'{load:.1f} at the end')}.",
        "",
        "| | lakebox `watch --once` (watcher, catalog, run records) | one DuckDB COPY per file, one process | "
        "one DuckDB COPY over a glob | target |",
        "|---|--:|--:|--:|---|",
        f"| wall time | {med('lakebox', 'seconds'):.2f} s | {med('loop', 'seconds'):.2f} s | "
        f"{med('glob', 'seconds'):.2f} s | |",
        f"| files/s | **{files_s:.0f}** | {args.files / med('loop', 'seconds'):.0f} | "
        f"{args.files / med('glob', 'seconds'):.0f} | >= 100 |",
        f"| files/s, first {args.files // 4} | {first:.0f} | | | |",
        f"| files/s, last {args.files // 4} | {last:.0f} (**{last / first:.2f}x** the first) | | | >= 1.0x |",
        "",
        f"Every run's table held all {args.files:,} files and their rows.",
    ]
    text = "\n".join(lines) + "\n"
    publish(text, args.out)


if __name__ == "__main__":
    main()

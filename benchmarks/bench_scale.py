"""Processing at scale: ``lakebox`` processing one raw CSV end to end (read, validate, rule, Parquet, quarantine,
run record, catalog) against the bare DuckDB one-liner (one ``COPY ... WHERE ...`` of the same file, no
validation, no records), at several sizes.

Each measurement runs in its own child process, so peak RSS (from ``wait4``) is that run's alone. Both sides
start the clock with DuckDB imported and a connection open (lakebox's from its per-process pool). Runs are
interleaved (lakebox, DuckDB, DuckDB, lakebox, ...) and the table shows medians; the time per row shows whether the
cost is linear in the rows. Both sides get the same DuckDB memory limit (``--memory-limit``).

    python benchmarks/bench_scale.py [--sizes 1,5,20,50] [--repeat 3] [--memory-limit 256MB] [--out ...]
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
BARE = """COPY (SELECT OrderID AS order_id, Customer AS customer_id, CAST(Amount AS DECIMAL(12,2)) AS order_amount,
  lower(Status) AS order_status, CAST(OrderDate AS DATE) AS order_date FROM read_csv('{src}', header=true)
  WHERE NOT (lower(Status) IN ('pending', 'cancelled') AND CAST(OrderDate AS DATE) <= DATE '{cutoff}'))
  TO '{out}' (FORMAT parquet, COMPRESSION snappy)"""


def worker(kind: str, src: Path, work: Path, memory_limit: str) -> dict:
    if kind == "bare":
        import duckdb

        con = duckdb.connect()
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute(f"SET temp_directory = '{work / 'spill'}'")
        con.execute("SET preserve_insertion_order = false")
        t, cpu = time.perf_counter(), time.process_time()
        n = con.execute(BARE.format(src=src, out=work / "bare.parquet",
                                    cutoff=AS_OF - dt.timedelta(days=30))).fetchone()
        return {"seconds": time.perf_counter() - t, "cpu": time.process_time() - cpu, "kept": int(n[0]) if n else 0}
    import lakebox.process.handler  # noqa: F401 - imported before the clock, as in a watcher or a warm Lambda
    from lakebox.process.pool import POOL

    lake = bench_lake(work / "lake", AS_OF, memory_limit=memory_limit)
    raw = work / "lake" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    # Both sides start with DuckDB imported and a connection open, as the bare side does before its clock
    # starts (and a watcher or a warm Lambda does after its first file): a fresh process pays 0.1-0.5 s for
    # the import and the first connection, depending on load. lakebox's connection is its pool's, for this
    # lake's spill folder, and the processing modules are imported (`lakebox.lake` imports them when a verb
    # first processes); the catalog, run records and everything else stay inside the measured section.
    spill = work / "lake" / "_lakebox" / "tmp"
    spill.mkdir(parents=True, exist_ok=True)
    with POOL.connection(memory_limit, lake.settings.threads, spill_dir=spill):
        pass
    os.link(src, raw / "orders.csv")  # landed without a copy; processing is what is timed
    t, cpu = time.perf_counter(), time.process_time()
    run = lake.process("raw/orders.csv")
    assert run.status == "ok" and run.balanced, run
    return {"seconds": time.perf_counter() - t, "cpu": time.process_time() - cpu, "kept": run.rows_kept,
            "read": run.rows_read}


def child(kind: str, src: Path, memory_limit: str) -> tuple[dict, float]:
    work = Path(tempfile.mkdtemp(prefix=f"lakebox-bench-scale-{kind}-", dir=src.parent))
    try:
        proc = subprocess.Popen([sys.executable, __file__, "--worker", kind, str(src), str(work), memory_limit],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        if status != 0:
            raise SystemExit(f"{kind} worker failed ({status})")
        return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss / 1024
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,5,20,50", help="millions of rows")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--memory-limit", default="256MB")
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "lakebox-bench-scale")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "scale.md")
    ap.add_argument("--worker", nargs=4)
    args = ap.parse_args()
    if args.worker:
        kind, src, work, mem = args.worker
        print(json.dumps(worker(kind, Path(src), Path(work), mem)))
        return
    args.data.mkdir(parents=True, exist_ok=True)
    rows_out = []
    for m in (float(x) for x in args.sizes.split(",")):
        n = int(m * 1_000_000)
        src = args.data / f"orders_{n}.csv"
        if not src.exists():
            # In a child: a child process inherits its parent's peak RSS, so the parent stays small.
            subprocess.run([sys.executable, "-m", "lakebox", "sample", "--rows", str(n), "--as-of",
                            AS_OF.isoformat(), "--out", str(src)], check=True, stdout=subprocess.DEVNULL)
        runs: dict[str, list[tuple[dict, float]]] = {"lakebox": [], "bare": []}
        for i in range(args.repeat):
            # ABBA order: on a machine whose load drifts, always running one side first would bias it.
            for kind in (("lakebox", "bare") if i % 2 == 0 else ("bare", "lakebox")):
                runs[kind].append(child(kind, src, args.memory_limit))
                r, rss = runs[kind][-1]
                print(f"  {n:,} {kind}: {r['seconds']:.2f} s, cpu {r['cpu']:.2f} s, {rss:.0f} MiB", file=sys.stderr,
                      flush=True)
        assert len({r["kept"] for rs in runs.values() for r, _ in rs}) == 1, "lakebox and DuckDB kept different rows"
        med = {k: statistics.median(r["seconds"] for r, _ in v) for k, v in runs.items()}
        med |= {f"{k}_cpu": statistics.median(r["cpu"] for r, _ in v) for k, v in runs.items()}
        rss = {k: max(x for _, x in v) for k, v in runs.items()}
        rows_out.append((n, src.stat().st_size, med, rss))
    load = os.getloadavg()[0]
    lines = [
        "# Processing at scale",
        "",
        f"One raw CSV of N orders processed end to end (`Lake.process`: read, validate, rule, Parquet, run record, "
        f"catalog) against the bare DuckDB one-liner (`COPY (SELECT ... FROM read_csv(...) WHERE NOT ...) TO "
        f"... (FORMAT parquet)`); same memory limit ({args.memory_limit}) on both sides. Medians of "
        f"{args.repeat} interleaved runs, each in a fresh process with DuckDB imported and a connection open before "
        f"the clock starts (lakebox's from its pool); peak RSS is the largest of the runs. "
        f"{machine(f'{load:.1f} at the end')}. CPU seconds (all threads of the "
        f"measured section) are the load-independent comparison: on a machine shared with other work, wall time "
        f"depends on what else runs.",
        "",
        "| rows | CSV | lakebox | DuckDB one-liner | ratio (target <= 1.1x) | CPU s, lakebox / DuckDB (ratio) "
        "| lakebox µs/row | lakebox peak RSS (target < 512 MiB) | DuckDB peak RSS |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for n, size, med, rss in rows_out:
        lines.append(f"| {n:,} | {size / 2**20:,.0f} MiB | {med['lakebox']:.2f} s | {med['bare']:.2f} s | "
                     f"**{med['lakebox'] / med['bare']:.2f}x** | {med['lakebox_cpu']:.2f} / {med['bare_cpu']:.2f} "
                     f"({med['lakebox_cpu'] / med['bare_cpu']:.2f}x) | {med['lakebox'] / n * 1e6:.3f} | "
                     f"{rss['lakebox']:.0f} MiB | {rss['bare']:.0f} MiB |")
    text = "\n".join(lines) + "\n"
    publish(text, args.out)


if __name__ == "__main__":
    main()

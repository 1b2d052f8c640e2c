"""Fixed costs of a query, side by side with DuckDB doing the same thing by hand.

* in-process ``SELECT 1``: ``engine.run_query`` (the dashboard's call, no result file; and with Athena's result
  file and metadata) against ``duckdb`` ``execute().fetchall()``;
* a 50,000-row result: the same comparison over the same Parquet file;
* the CLI: ``lakebox query --name order_status_summary`` (wall time of the whole process) against a plain
  Python script that imports duckdb and runs the same SQL on the same file; ``lakebox --help``.

Every pair is measured interleaved (A, B, A, B, ...) so load from other work on the machine hits both sides
alike; the table shows medians.

The CLI runs as users run it: the ``lakebox`` command pip installs next to the interpreter (its console
script; ``python -m lakebox`` where there is none, which also imports runpy), with its bytecode cached (pip compiles every module at install
time). This checkout's shell sets PYTHONDONTWRITEBYTECODE=1, so the subprocesses get a bytecode cache of
their own under the work folder (PYTHONPYCACHEPREFIX), filled by the warm-up run; one more row shows
``--help`` without it. ``lakebox --help`` prints its text from the cache the warm-up run filled
(``lakebox.launcher``), as every ``--help`` after the first one after an install or upgrade does. ``lakebox query --name`` runs a query whose translation the lake has cached (the
warm-up run made it); one more row runs SQL it has never seen (a new comment each time), so it translates.

    python benchmarks/bench_query.py [--rows 300000] [--repeat 15] [--out benchmarks/results/query.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import bench_lake, machine, publish

AS_OF = dt.date(2025, 5, 1)
HERE = Path(__file__).resolve().parent
ROWS_50K = ("SELECT order_id, customer_id, order_amount, order_status, order_date FROM {src} "
            "ORDER BY order_id LIMIT 50000")
STATUS = ("SELECT order_status, COUNT(*) AS order_count, SUM(order_amount) AS total_amount FROM {src} "
          "GROUP BY order_status ORDER BY order_count DESC, order_status")


def cpu_seconds() -> float:
    """CPU time of this process (every thread) and of its finished child processes."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def interleaved(a: Callable[[], object], b: Callable[[], object],
                repeat: int) -> tuple[float, float, float, float]:
    """Median wall seconds of ``a`` and of ``b``, run alternately after one warm-up each, then their median
    CPU seconds (which waiting for a busy machine's cores does not inflate)."""
    a()
    b()
    ta: list[float] = []
    tb: list[float] = []
    ca: list[float] = []
    cb: list[float] = []
    for _ in range(repeat):
        for fn, out, cpu in ((a, ta, ca), (b, tb, cb)):
            c = cpu_seconds()
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
            cpu.append(cpu_seconds() - c)
    return statistics.median(ta), statistics.median(tb), statistics.median(ca), statistics.median(cb)


def run(cmd: list[str], env: dict[str, str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "query.md")
    args = ap.parse_args()
    load_at_start = os.getloadavg()[0]

    import duckdb

    from lakebox.process.sample import write_sample

    work = Path(tempfile.mkdtemp(prefix="lakebox-bench-query-"))
    try:
        lake_dir = work / "lake"
        lake = bench_lake(lake_dir, AS_OF)
        write_sample(work / "orders.csv", args.rows, AS_OF)
        assert lake.ingest([work / "orders.csv"])[0].run.status == "ok"
        parquet = str(lake_dir / "processed" / "orders.parquet")
        src = f"read_parquet('{parquet}')"
        con = duckdb.connect()
        engine = lake.engine
        rows: list[tuple[str, float, float, float, float, str]] = []

        def pair(label: str, ours: Callable[[], object], theirs: Callable[[], object], target: str,
                 repeat: int = args.repeat) -> None:
            a, b, ca, cb = interleaved(ours, theirs, repeat)
            rows.append((label, a, b, ca, cb, target))
            print(f"  {label}: {a * 1000:.2f} ms vs {b * 1000:.2f} ms (cpu {ca * 1000:.2f} vs {cb * 1000:.2f})",
                  file=sys.stderr)

        def ok(r: object) -> object:
            assert getattr(r, "state", "SUCCEEDED") == "SUCCEEDED", getattr(r, "error", None)
            return r

        pair("in-process `SELECT 1` (no result file)",
             lambda: ok(engine.run_query("SELECT 1", write_result=False)),
             lambda: con.execute("SELECT 1").fetchall(), "< 1 ms", repeat=args.repeat * 20)
        pair("in-process `SELECT 1` with Athena's result file + metadata",
             lambda: ok(engine.run_query("SELECT 1")),
             lambda: con.execute("SELECT 1").fetchall(), "", repeat=args.repeat * 4)
        pair("50,000-row result (no result file)",
             lambda: ok(engine.run_query(ROWS_50K.format(src="orders_processed"), write_result=False)),
             lambda: con.execute(ROWS_50K.format(src=src)).fetchall(), "<= 1.15x")
        csv_out = work / "duck.csv"
        pair("50,000-row result with the result CSV",
             lambda: ok(engine.run_query(ROWS_50K.format(src="orders_processed"))),
             lambda: (con.execute(ROWS_50K.format(src=src)).fetchall(),
                      con.execute(f"COPY ({ROWS_50K.format(src=src)}) TO '{csv_out}' (FORMAT csv, FORCE_QUOTE *)")),
             "")

        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        # `lakebox --help` keeps its text under $XDG_CACHE_HOME (lakebox.launcher): here, not in the user's.
        env["XDG_CACHE_HOME"] = str(work / "cache")
        no_cache_env = {**env, "PYTHONDONTWRITEBYTECODE": "1"}
        no_cache_env.pop("PYTHONPYCACHEPREFIX")
        command = Path(sys.executable).with_name("lakebox")
        program = [str(command)] if command.exists() else [sys.executable, "-m", "lakebox"]
        lakebox = [*program, "--lake", str(lake_dir), "--as-of", AS_OF.isoformat()]
        script = work / "plain.py"
        script.write_text(f"import duckdb\nprint(duckdb.connect().execute({STATUS.format(src=src)!r}).fetchall())\n")
        cli_repeat = max(5, args.repeat // 2)
        pair("CLI `lakebox query --name order_status_summary` (wall)",
             lambda: run([*lakebox, "query", "--name", "order_status_summary"], env),
             lambda: run([sys.executable, str(script)], env), "<= 1.5x", repeat=cli_repeat)
        fresh = iter(range(10**6))
        pair("CLI `lakebox query SQL` never seen before (translated; wall)",
             lambda: run([*lakebox, "query", f"{STATUS.format(src='orders_processed')} -- run {next(fresh)}"], env),
             lambda: run([sys.executable, str(script)], env), "", repeat=cli_repeat)
        pair("CLI `lakebox --help` (wall) vs `python -c pass`",
             lambda: run([*program, "--help"], env),
             lambda: run([sys.executable, "-c", "pass"], env), "< 100 ms", repeat=cli_repeat)
        pair("CLI `lakebox --help` without a bytecode cache (wall) vs `python -c pass`",
             lambda: run([*program, "--help"], no_cache_env),
             lambda: run([sys.executable, "-c", "pass"], no_cache_env), "", repeat=cli_repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    load = os.getloadavg()[0]
    lines = [
        "# Query fixed costs",
        "",
        f"Medians of interleaved runs; {args.rows:,}-row table in one Parquet file. "
        f"{machine(f'{load_at_start:.1f} at the start, {load:.1f} at the end')}.",
        "",
        "Wall time is the targets' measure; CPU time (this process's threads and the CLI's processes) is shown "
        "beside it because waiting for a busy machine's cores inflates wall time, and both sides' alike only "
        "on average.",
        "",
        "| measurement | lakebox | DuckDB by hand | ratio | CPU lakebox | CPU DuckDB | CPU ratio | target |",
        "|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    for label, a, b, ca, cb, target in rows:
        lines.append(f"| {label} | {a * 1000:.2f} ms | {b * 1000:.2f} ms | {a / b:.2f}x | {ca * 1000:.2f} ms | "
                     f"{cb * 1000:.2f} ms | {ca / cb if cb else float('nan'):.2f}x | {target} |")
    text = "\n".join(lines) + "\n"
    publish(text, args.out)


if __name__ == "__main__":
    main()

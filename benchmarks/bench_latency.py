"""Latency from a file landing in raw/ to its rows being queryable, through the real watcher.

For each trial: a CSV is written under a temporary name in raw/ (not timed), then renamed to ``*.csv``
(the clock starts at the rename: the moment the upload "lands"), and we poll until a query through
``lake.engine`` (the embedded Athena) returns the table's new total, which includes the file's rows.
The watcher runs with the lake's default settings (settle 0.3 s, which a renamed-in file skips; a third row
measures files written in place, which must wait it out).

Usage: ``python benchmarks/bench_latency.py [--trials-small 30] [--trials-large 5]``. Prints a markdown
table and writes it to ``benchmarks/results/latency.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from lakebox.config import load_settings
from lakebox.lake import Lake
from lakebox.process.sample import write_sample

AS_OF = dt.date(2025, 5, 1)
TABLE = "orders_db.orders_processed"
RESULTS = Path(__file__).resolve().parent / "results" / "latency.md"


def _count(lake: Lake) -> int | None:
    res = lake.engine.run_query(f"SELECT count(*) FROM {TABLE}")
    return int(res.rows[0][0]) if res.state == "SUCCEEDED" else None


def _percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (no interpolation: with few trials it reports a latency that happened)."""
    ordered = sorted(values)
    rank = max(1, round(p / 100 * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]


def measure(lake: Lake, raw: Path, rows: int, trials: int, label: str, timeout: float = 120.0,
            rename: bool = True) -> list[float]:
    """Land ``trials`` files of ``rows`` rows one after another; return each one's landing->queryable time.

    ``rename=False`` writes the file in place instead (the clock starts when the write finishes): the
    watcher then has to wait out ``settle_seconds`` before it trusts the file is complete.
    """
    latencies: list[float] = []
    for i in range(trials):
        key = f"raw/{label}_{i:03d}.csv"
        before = _count(lake) or 0
        if rename:
            part = raw / f"{label}_{i:03d}.csv.part"
            write_sample(part, rows, AS_OF, seed=1000 + i)
            t0 = time.perf_counter()
            os.replace(part, raw / f"{label}_{i:03d}.csv")
        else:
            write_sample(raw / f"{label}_{i:03d}.csv", rows, AS_OF, seed=1000 + i)
            t0 = time.perf_counter()
        deadline = t0 + timeout
        # Wait for the ledger (cheap to poll) to learn how many rows the file keeps, then for the query.
        while (state := lake.ledger.latest(key)) is None or state.status != "ok":
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{key} not processed within {timeout} s")
            time.sleep(0.002)
        expected = before + state.rows_kept
        while _count(lake) != expected:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{key} not queryable within {timeout} s")
            time.sleep(0.002)
        latencies.append(time.perf_counter() - t0)
    return latencies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials-small", type=int, default=30, help="trials with 1K-row files")
    ap.add_argument("--trials-large", type=int, default=5, help="trials with 1M-row files")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="lakebox-bench-") as d:
        settings = load_settings({"lake": str(Path(d) / "lake"), "as_of": AS_OF.isoformat()}, env={})
        lake = Lake(settings)
        raw = Path(lake.store.local_path("raw/"))  # type: ignore[arg-type]
        watcher = lake.watcher()
        watcher.start()
        try:
            measure(lake, raw, 1_000, 2, "warmup")  # imports, first DuckDB connection, catalog creation
            rows = [("1K rows, renamed in", 1_000, measure(lake, raw, 1_000, args.trials_small, "k1")),
                    ("1M rows, renamed in", 1_000_000, measure(lake, raw, 1_000_000, args.trials_large, "m1")),
                    ("1K rows, written in place", 1_000,
                     measure(lake, raw, 1_000, args.trials_small, "k1p", rename=False))]
        finally:
            watcher.stop()

    lines = [
        "| file | rows | trials | p50 (s) | p95 (s) | min (s) | max (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, n, lat in rows:
        lines.append(f"| {label} | {n:,} | {len(lat)} | {statistics.median(lat):.3f} | "
                     f"{_percentile(lat, 95):.3f} | {min(lat):.3f} | {max(lat):.3f} |")
    note = (f"\nLanding (rename into raw/) to rows queryable through `lake.engine`; watcher defaults "
            f"(workers {settings.workers}, settle {settings.settle_seconds} s, skipped for renamed-in files). "
            f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPU(s), "
            f"{dt.date.today().isoformat()}.\n")
    table = "\n".join(lines) + "\n" + note
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()

"""Replay a day of uploads against the embedded pipeline, compressed in time, and estimate what the same day
costs on AWS.

Files arrive as a Poisson process whose rate follows a daily curve (quiet nights, a busier afternoon), each
landing in raw/ by rename, as an S3 PUT would; the real watcher processes them and updates the catalog. The
script measures throughput and landing-to-queryable latency, runs the dashboard's five named queries once
the day is in (bytes scanned from the engine's statistics, with and without monthly partitions if asked),
and scales the measured costs up to the daily volume given (``--daily-gb``) for the AWS estimate: Lambda
(GB-seconds scaled from the embedded processing time per MB), S3 requests and storage, Athena ($5 per TB
scanned, 10 MB minimum per query), Glue catalog requests.

    python benchmarks/simulate_day.py [--files 500] [--rows 2000] [--seconds 60] [--daily-gb 10]
        [--queries-per-day 3000] [--partition-by order_month]

Prices: us-east-1 list prices (2025): Lambda $0.0000166667 per GB-second + $0.20 per million requests;
S3 Standard $0.005 per 1,000 PUT/COPY/LIST, $0.0004 per 1,000 GET, $0.023 per GB-month; Athena $5 per TB
scanned (10 MB minimum); Glue Data Catalog: first million requests a month free, then $1 per million.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import random
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

AS_OF = dt.date(2025, 12, 31)
LAMBDA_GB_S = 0.0000166667
LAMBDA_REQ = 0.20 / 1e6
S3_PUT = 0.005 / 1000
S3_GET = 0.0004 / 1000
S3_GB_MONTH = 0.023
ATHENA_TB = 5.0
ATHENA_MIN_BYTES = 10 * 1024 * 1024
GLUE_REQ = 1.0 / 1e6
LAMBDA_MEMORY_GB = 1.0


def daily_weight(fraction_of_day: float) -> float:
    """Relative arrival rate over the day: a night trough and an afternoon peak about 3x the mean."""
    return 1.0 + 0.9 * math.sin(2 * math.pi * (fraction_of_day - 0.3))


def arrival_times(n: int, seconds: float, rnd: random.Random) -> list[float]:
    """n arrival offsets in [0, seconds), thinned from the daily curve (a non-homogeneous Poisson process)."""
    out: list[float] = []
    while len(out) < n:
        t = rnd.random()
        if rnd.random() * 1.9 <= daily_weight(t):
            out.append(t * seconds)
    return sorted(out)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=500, help="uploads in the simulated day")
    ap.add_argument("--rows", type=int, default=2000, help="mean rows per upload (sizes vary +-50%%)")
    ap.add_argument("--seconds", type=float, default=60.0, help="wall seconds the day is compressed into")
    ap.add_argument("--daily-gb", type=float, default=10.0, help="raw CSV volume per day to estimate AWS cost for")
    ap.add_argument("--queries-per-day", type=int, default=3000, help="dashboard/Athena queries per day")
    ap.add_argument("--partition-by", default=None, help='e.g. "order_month": the dataset\'s partition_by')
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    from lakebox.config import load_settings
    from lakebox.lake import Lake
    from lakebox.process.sample import write_sample

    rnd = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="lakebox-simulate-"))
    try:
        cfg = work / "lakebox.toml"
        cfg.write_text(f'[datasets.orders]\npartition_by = "{args.partition_by}"\n' if args.partition_by else "")
        lake = Lake(load_settings({"lake": str(work / "lake"), "as_of": AS_OF.isoformat()}, env={},
                                  config_file=cfg))
        raw = work / "lake" / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        staging = work / "staging"
        staging.mkdir()
        sizes = [max(1, int(args.rows * rnd.uniform(0.5, 1.5))) for _ in range(args.files)]
        for i, n in enumerate(sizes):
            write_sample(staging / f"upload_{i:06d}.csv", n, AS_OF, seed=args.seed * 100_000 + i)
        raw_bytes = sum(f.stat().st_size for f in staging.iterdir())

        landed: dict[str, float] = {}
        done: dict[str, float] = {}
        durations: list[float] = []
        all_done = threading.Event()

        def on_result(result: object) -> None:
            key = getattr(result, "key", "")
            done[key] = time.perf_counter()
            run = getattr(result, "run", None)
            if run is not None and run.duration_ms:
                durations.append(run.duration_ms / 1000)
            if len(done) >= args.files:
                all_done.set()

        watcher = lake.watcher()
        watcher.on_result(on_result)
        watcher.start()
        t0 = time.perf_counter()
        try:
            for i, at in enumerate(arrival_times(args.files, args.seconds, rnd)):
                delay = t0 + at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)  # the replay's clock: uploads arrive on schedule
                name = f"upload_{i:06d}.csv"
                landed[f"raw/{name}"] = time.perf_counter()
                os.replace(staging / name, raw / name)
            all_done.wait(args.seconds * 20 + 600)
        finally:
            watcher.stop()
        wall = time.perf_counter() - t0
        latencies = [done[k] - landed[k] for k in landed if k in done]
        table = lake.catalog.get_table("orders_db", "orders_processed")
        assert table is not None
        scanned: dict[str, int] = {}
        for name in sorted(lake.named_queries):
            r = lake.run_named(lake.named_queries[name], write_result=False)
            assert r.state == "SUCCEEDED", r.error
            scanned[name] = int(r.stats["DataScannedInBytes"])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # --- the AWS estimate, scaled from this sample of a day to --daily-gb ---------------------------------
    scale = args.daily_gb * 1e9 / raw_bytes
    files_day = args.files * scale
    lambda_s = sum(durations) * scale
    lambda_cost = lambda_s * LAMBDA_MEMORY_GB * LAMBDA_GB_S + files_day * LAMBDA_REQ
    parquet_ratio = table.size_bytes / raw_bytes
    outputs_per_file = table.file_count / args.files
    s3_puts = files_day * (1 + outputs_per_file + 1)  # raw upload, processed outputs, run record
    s3_cost = s3_puts * S3_PUT + files_day * 2 * S3_GET
    stored_gb_month = args.daily_gb * (1 + parquet_ratio) * 30 / 2  # a month's accumulation, on average half full
    storage_cost = stored_gb_month * S3_GB_MONTH
    mean_scan = statistics.mean(scanned.values()) * scale  # the table grows with the day; queries scan it
    athena_cost = args.queries_per_day * max(mean_scan, ATHENA_MIN_BYTES) / 1e12 * ATHENA_TB
    glue_cost = files_day * 2 * GLUE_REQ  # GetTable + UpdateTable/BatchCreatePartition per file
    load = os.getloadavg()[0]
    print(f"# One day replayed ({platform.machine()}, {os.cpu_count()} cores, load {load:.1f}, "
          f"Python {platform.python_version()}, {dt.date.today()})\n")
    print(f"{args.files:,} uploads ({raw_bytes / 1e6:.1f} MB of CSV, {sum(sizes):,} rows) over {args.seconds:g} s; "
          f"partitioned by {args.partition_by or 'nothing'}; the table ended with {table.file_count:,} files, "
          f"{table.row_count:,} rows.\n")
    print("| measured | value |\n|---|--:|")
    print(f"| throughput | {args.files / wall:.1f} files/s, {raw_bytes / 1e6 / wall:.2f} MB/s |")
    for p in (50, 95, 99):
        print(f"| landing to processed and cataloged, p{p} | {pct(latencies, p) * 1000:.0f} ms |")
    print(f"| processing time per MB of CSV | {sum(durations) / (raw_bytes / 1e6) * 1000:.0f} ms |")
    for name, b in scanned.items():
        print(f"| `{name}` bytes scanned | {b:,} |")
    print(f"\n## AWS estimate for {args.daily_gb:g} GB/day ({files_day:,.0f} uploads/day of the same size), "
          f"{args.queries_per_day:,} queries/day\n")
    print("| service | per day | per month |\n|---|--:|--:|")
    for name, cost in (("Lambda (1 GB, measured time per MB)", lambda_cost), ("S3 requests", s3_cost),
                       ("S3 storage (raw + Parquet, growing)", storage_cost / 30),
                       ("Athena (bytes scanned as measured, 10 MB minimum)", athena_cost),
                       ("Glue Data Catalog requests (above the free million)", glue_cost)):
        print(f"| {name} | ${cost:,.2f} | ${cost * 30:,.2f} |")
    total = lambda_cost + s3_cost + storage_cost / 30 + athena_cost + glue_cost
    print(f"| **total** | **${total:,.2f}** | **${total * 30:,.2f}** |")
    print(f"\nLambda concurrency needed at the afternoon peak (1.9x the mean rate, measured duration): "
          f"{files_day / 86400 * 1.9 * (sum(durations) / max(len(durations), 1)):.1f}")


if __name__ == "__main__":
    main()

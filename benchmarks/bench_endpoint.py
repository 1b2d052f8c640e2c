"""The local AWS endpoint against the same work in-process and against moto's server, on this machine.

- Athena: one query round trip through boto3 (StartQueryExecution -> poll GetQueryExecution every 5 ms ->
  GetQueryResults), p50 and p95, for the named query ``total_sales_by_customer`` over sample orders; the
  same SQL run in-process through ``lake.engine`` (no HTTP); and the same round trip against moto's
  ThreadedMotoServer (which executes no SQL: it answers with canned empty results, so it is the floor of
  the HTTP and boto3 overhead).
- S3: PUT and GET throughput through boto3 for 1 KB and 10 MB objects, against the endpoint and moto.

Usage: ``python benchmarks/bench_endpoint.py [--rows 100000] [--trials 40]``. Prints a markdown table and
writes it to ``benchmarks/results/endpoint.md``; ``python benchmarks/update_readme.py`` copies it into the
README.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import platform
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from lakebox.config import load_settings
from lakebox.endpoint.server import make_server, stop_server
from lakebox.lake import Lake
from lakebox.process.sample import write_sample

AS_OF = dt.date(2025, 5, 1)
RESULTS = Path(__file__).resolve().parent / "results" / "endpoint.md"
CREDS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}


def _percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (a latency that happened)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def _client(service: str, url: str) -> Any:
    return boto3.client(service, endpoint_url=url, config=Config(retries={"max_attempts": 1}), **CREDS)


def athena_round_trip(url: str, sql: str, output: str) -> float:
    athena = _client("athena", url)

    def once() -> float:
        t0 = time.perf_counter()
        qid = athena.start_query_execution(QueryString=sql, QueryExecutionContext={"Database": "orders_db"},
                                           ResultConfiguration={"OutputLocation": output})["QueryExecutionId"]
        while athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]["State"] in (
                "QUEUED", "RUNNING"):
            time.sleep(0.005)
        athena.get_query_results(QueryExecutionId=qid)
        return time.perf_counter() - t0

    once()  # connection and first-query warm-up
    return once()


def interleaved(fns: list[Callable[[], float]], trials: int) -> list[list[float]]:
    """Each function ``trials`` times after a warm-up, taking turns, so that the load of a shared machine
    falls on all of them alike."""
    for fn in fns:
        fn()
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(trials):
        for i, fn in enumerate(fns):
            out[i].append(fn())
    return out


def s3_throughput(url: str, bucket: str, size: int, count: int) -> tuple[float, float]:
    """(PUT MB/s, GET MB/s) for ``count`` objects of ``size`` bytes."""
    s3 = _client("s3", url)
    body = os.urandom(size)
    s3.put_object(Bucket=bucket, Key="bench/warm", Body=body)
    t0 = time.perf_counter()
    for i in range(count):
        s3.put_object(Bucket=bucket, Key=f"bench/o{i}", Body=body)
    put = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(count):
        s3.get_object(Bucket=bucket, Key=f"bench/o{i}")["Body"].read()
    get = time.perf_counter() - t0
    mb = size * count / 1e6
    return mb / put, mb / get


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings({"lake": f"{tmp}/lake", "as_of": AS_OF.isoformat()}, env={})
        csv = Path(tmp) / "orders.csv"
        write_sample(csv, args.rows, AS_OF)
        Lake(settings).ingest([csv])
        sql = Lake(settings).named_queries["total_sales_by_customer"].render({})

        server = make_server(settings, "127.0.0.1", 0, threads=8)
        threading.Thread(target=server.run, daemon=True).start()
        url = server.endpoint_app.base_url
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        moto_host, moto_port = moto.get_host_and_port()
        moto_url = f"http://{moto_host}:{moto_port}"
        try:
            _client("s3", moto_url).create_bucket(Bucket="bench")
            lake = Lake(settings)

            def in_process() -> float:
                t0 = time.perf_counter()
                res = lake.engine.run_query(sql, "orders_db")
                assert res.state == "SUCCEEDED"
                return time.perf_counter() - t0

            names = ["lakebox endpoint (boto3 over HTTP)", "lakebox in-process (`lake.engine`)",
                     "moto server (canned results, no SQL)"]
            series = interleaved([
                lambda: athena_round_trip(url, sql, f"s3://{settings.endpoint_bucket}/bench-results/"),
                in_process,
                lambda: athena_round_trip(moto_url, sql, "s3://bench/results/"),
            ], args.trials)
            rows = list(zip(names, series, strict=True))
            s3_rows = []
            for label, size, count in (("1 KB", 1024, 200), ("10 MB", 10 * 1024 * 1024, 10)):
                ours = s3_throughput(url, settings.endpoint_bucket, size, count)
                theirs = s3_throughput(moto_url, "bench", size, count)
                s3_rows.append((label, count, ours, theirs, size))
        finally:
            stop_server(server)
            moto.stop()

    lines = [
        "# Local AWS endpoint",
        "",
        f"Athena round trip: `total_sales_by_customer` over {args.rows:,} sample orders, {args.trials} trials of each "
        "(taking turns) after a warm-up; start -> poll GetQueryExecution every 5 ms -> GetQueryResults, one boto3 client; "
        "in-process is `lake.engine.run_query`.",
        "",
        "| Athena query | p50 (ms) | p95 (ms) | min (ms) | max (ms) |",
        "|---|--:|--:|--:|--:|",
    ]
    for name, ts in rows:
        ms = [t * 1000 for t in ts]
        lines.append(f"| {name} | {statistics.median(ms):.1f} | {_percentile(ms, 95):.1f} | {min(ms):.1f} | "
                     f"{max(ms):.1f} |")
    lines += ["", "| S3 through boto3 | objects | lakebox PUT | lakebox GET | moto PUT | moto GET |",
              "|---|--:|--:|--:|--:|--:|"]
    for label, count, (op, og), (mp, mg), size in s3_rows:
        def rate(mbps: float, size: int = size) -> str:
            return f"{mbps:,.1f} MB/s ({mbps * 1e6 / size:,.0f}/s)"

        lines.append(f"| {label} | {count} | {rate(op)} | {rate(og)} | {rate(mp)} | {rate(mg)} |")
    load = os.getloadavg()[0]
    lines += ["", f"{platform.machine()}, {os.cpu_count()} CPU(s), {platform.python_implementation()} "
              f"{platform.python_version()}, {dt.date.today().isoformat()}, load average {load:.1f} while it ran "
              "(the machine is shared); `python benchmarks/bench_endpoint.py`. The endpoint's round trip is the "
              "same engine plus three HTTP calls, two thread handoffs and reading the first result page back "
              "from the CSV (the query returns one row per customer); moto's executes no SQL."]
    table = "\n".join(lines) + "\n"
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()

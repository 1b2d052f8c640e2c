"""Dashboard benchmark: latency and throughput of ``GET /`` and each ``/api/queries/<name>`` on a lake with
5M processed orders (not a test; it prints a markdown table and writes benchmarks/results/web.md).

Three measurements per endpoint, against the real server (waitress, in its own process, as ``lakebox serve``
runs it) over HTTP keep-alive connections:

- **warm**: repeated requests at an unchanged data version (answers come from the per-version cache);
- **after new data**: a small CSV is uploaded through ``POST /api/upload`` (processed, catalog updated, cache
  invalidated), then the endpoint is requested at once; the time of that first request is measured;
- **50 clients**: 50 concurrent clients request every endpoint in turn for 30 s, while new data arrives
  every 5 s; errors are any non-200 answer or failed connection.

    python benchmarks/bench_web.py [--rows 5000000] [--seconds 30] [--clients 50] [--fresh]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
AS_OF = dt.date(2025, 5, 1)
NAMES = ["total_sales_by_customer", "monthly_order_volume", "order_status_summary",
         "average_order_value_by_customer", "top_orders_february_2025"]
ENDPOINTS = ["/"] + [f"/api/queries/{n}" for n in NAMES] + ["/api/dashboard"]


def _settings(lake_dir: Path) -> Any:
    from lakebox.config import load_settings

    return load_settings({"lake": str(lake_dir), "as_of": AS_OF.isoformat()}, env={})


def build_lake(lake_dir: Path, rows: int, fresh: bool) -> float:
    """A lake with ``rows`` sample orders ingested (reused when it already holds them). Returns seconds."""
    from lakebox.lake import Lake
    from lakebox.process.sample import write_sample

    marker = lake_dir / "_lakebox" / f"bench-web-{rows}.ok"
    if marker.exists() and not fresh:
        return 0.0
    shutil.rmtree(lake_dir, ignore_errors=True)
    lake_dir.mkdir(parents=True)
    t0 = time.perf_counter()
    src = lake_dir.parent / "orders_5m.csv"
    write_sample(src, rows, AS_OF)
    lake = Lake(_settings(lake_dir))
    item = lake.ingest([src])[0]
    if item.run.status != "ok":
        raise SystemExit(f"ingest failed: {item.run.error}")
    src.unlink()
    marker.write_text(json.dumps(item.run.to_dict(), default=str))
    return time.perf_counter() - t0


def serve(lake_dir: str, port_out: Any) -> None:
    """The server process: the dashboard under waitress, as ``lakebox serve`` runs it."""
    import logging

    from lakebox.cli import dashboard_services
    from lakebox.lake import Lake
    from lakebox.web.server import make_server

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" notes are expected here
    server = make_server(dashboard_services(Lake(_settings(Path(lake_dir)))), "127.0.0.1", 0)
    port_out.put(int(server.effective_port))
    server.run()


class Client:
    """One keep-alive HTTP connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.csrf: str | None = None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def timed_get(self, path: str) -> tuple[float, int]:
        t0 = time.perf_counter()
        status, _ = self.request("GET", path)
        return (time.perf_counter() - t0) * 1000, status

    def upload_new_data(self, i: int) -> None:
        """POST a small CSV (a fixed set of names, fresh content) so the data version changes."""
        if self.csrf is None:
            self.csrf = json.loads(self.request("GET", "/api/csrf")[1])["csrf_token"]
        oid = uuid.uuid4().hex[:10]
        csv = (f"OrderID,Customer,Amount,Status,OrderDate\nB{oid},Bench Customer {i % 7},"
               f"{10 + i % 90}.25,shipped,2025-04-{1 + i % 28:02d}\n").encode()
        boundary = "lakebox" + uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bench_new_{i % 8}.csv\"\r\n"
                f"Content-Type: text/csv\r\n\r\n").encode() + csv + f"\r\n--{boundary}--\r\n".encode()
        status, data = self.request("POST", "/api/upload", body, {
            "Content-Type": f"multipart/form-data; boundary={boundary}", "X-CSRF-Token": self.csrf})
        if status != 201:
            raise SystemExit(f"upload failed: {status} {data[:200]!r}")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def warm(port: int, n: int) -> dict[str, dict[str, float]]:
    c = Client(port)
    out = {}
    for ep in ENDPOINTS:
        c.timed_get(ep)  # prime
        times = []
        t0 = time.perf_counter()
        for _ in range(n):
            ms, status = c.timed_get(ep)
            assert status == 200, (ep, status)
            times.append(ms)
        elapsed = time.perf_counter() - t0
        out[ep] = {"p50": pct(times, 50), "p99": pct(times, 99), "rps": n / elapsed}
    return out


def after_new_data(port: int, n: int) -> dict[str, dict[str, float]]:
    c = Client(port)
    out = {}
    i = 0
    for ep in ENDPOINTS:
        times = []
        for _ in range(n):
            c.upload_new_data(i)
            i += 1
            ms, status = c.timed_get(ep)
            assert status == 200, (ep, status)
            times.append(ms)
        out[ep] = {"p50": pct(times, 50), "p99": pct(times, 99)}
    return out


def concurrent(port: int, clients: int, seconds: float, upload_every: float) -> dict[str, Any]:
    stop = time.perf_counter() + seconds
    lock = threading.Lock()
    times: dict[str, list[float]] = {ep: [] for ep in ENDPOINTS}
    errors: list[str] = []
    uploads = 0

    def worker(k: int) -> None:
        c = Client(port)
        j = k
        while time.perf_counter() < stop:
            ep = ENDPOINTS[j % len(ENDPOINTS)]
            j += 1
            try:
                ms, status = c.timed_get(ep)
            except OSError as exc:
                with lock:
                    errors.append(f"{ep}: {exc}")
                continue
            with lock:
                if status == 200:
                    times[ep].append(ms)
                else:
                    errors.append(f"{ep}: HTTP {status}")

    def uploader() -> None:
        nonlocal uploads
        c = Client(port)
        nxt = time.perf_counter() + upload_every
        while time.perf_counter() < stop:
            if time.perf_counter() >= nxt:
                c.upload_new_data(1000 + uploads)
                uploads += 1
                nxt += upload_every
            time.sleep(0.05)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    threads.append(threading.Thread(target=uploader))
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    per = {ep: {"p50": pct(v, 50), "p99": pct(v, 99), "rps": len(v) / elapsed, "n": len(v)} for ep, v in times.items()}
    total = sum(len(v) for v in times.values())
    return {"per": per, "errors": errors, "total_rps": total / elapsed, "requests": total, "uploads": uploads,
            "seconds": elapsed}


def render(rows: int, build_s: float, w: dict, a: dict, c: dict, clients: int) -> str:
    lines = [
        f"# Dashboard benchmark ({rows:,} processed orders)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"server: waitress (16 threads) in its own process; clients: keep-alive HTTP/1.1.",
        f"Generated {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `python benchmarks/bench_web.py`"
        + (f" (lake built in {build_s:.1f} s)." if build_s else " (lake reused)."),
        "",
        "| endpoint | warm p50 | warm p99 | warm req/s | after new data p50 | after new data p99 "
        f"| {clients} clients p50 | {clients} clients p99 | {clients} clients req/s |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for ep in ENDPOINTS:
        cw, ca, cc = w[ep], a[ep], c["per"][ep]
        lines.append(f"| `GET {ep}` | {cw['p50']:.1f} ms | {cw['p99']:.1f} ms | {cw['rps']:,.0f} "
                     f"| {ca['p50']:.0f} ms | {ca['p99']:.0f} ms | {cc['p50']:.1f} ms | {cc['p99']:.0f} ms "
                     f"| {cc['rps']:,.0f} |")
    lines += [
        "",
        f"Under load: {c['requests']:,} requests in {c['seconds']:.0f} s from {clients} concurrent clients "
        f"({c['total_rps']:,.0f} req/s in total) while {c['uploads']} uploads changed the data; "
        f"**errors: {len(c['errors'])}**.",
        "",
        "Targets: warm median < 50 ms; first request after new data < 1 s; zero errors under load. "
        "\"After new data\" is the first request right after `POST /api/upload` returned (the upload processed "
        "the file and invalidated the cache; the server starts recomputing the page's views in the background "
        "at once, a request for a view joins that computation instead of repeating it, and background work "
        "yields to requests). `GET /` never waits for a query: it embeds the views already computed at the "
        "current version and the page fetches the others from the API. `GET /api/dashboard` waits for every "
        "view, so its row is the time until the whole page shows the new data.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--warm-requests", type=int, default=200)
    ap.add_argument("--after-samples", type=int, default=10)
    ap.add_argument("--upload-every", type=float, default=5.0)
    ap.add_argument("--workdir", type=Path, default=HERE / "_work" / "web")
    ap.add_argument("--fresh", action="store_true", help="rebuild the lake even if a previous run left one")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "web.md")
    args = ap.parse_args()

    lake_dir = args.workdir / "lake"
    print(f"building a lake with {args.rows:,} orders in {lake_dir} ...", file=sys.stderr)
    build_s = build_lake(lake_dir, args.rows, args.fresh)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=serve, args=(str(lake_dir), q), daemon=True)
    proc.start()
    try:
        port = q.get(timeout=120)
        print(f"server on 127.0.0.1:{port}; warm ...", file=sys.stderr)
        Client(port).timed_get("/api/dashboard")  # computes every view once (GET / alone would not wait)
        w = warm(port, args.warm_requests)
        print("after new data ...", file=sys.stderr)
        a = after_new_data(port, args.after_samples)
        print(f"{args.clients} clients for {args.seconds:.0f} s ...", file=sys.stderr)
        c = concurrent(port, args.clients, args.seconds, args.upload_every)
    finally:
        proc.terminate()
        proc.join(10)
    table = render(args.rows, build_s, w, a, c, args.clients)
    if c["errors"]:
        print("errors (first 10):", *statistics.multimode(c["errors"])[:10], sep="\n  ", file=sys.stderr)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()

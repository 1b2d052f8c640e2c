"""Soak: many clients for minutes against the real server, mixing the five named queries, ad-hoc SQL (light
queries and the attacker's heavy ones) and uploads, while /healthz is probed from another process.

What it shows (issue #12): no errors other than deliberate answers (429 when every query slot and queue place is
taken; QUERY_TIMEOUT / EXCEEDED_MEMORY_LIMIT for the heavy queries), /healthz fast throughout (p99), the server's
memory bounded (its peak RSS, and the query workers' peak, printed), and the size of enriched/ at start, peak
and end (result retention is another change; this only measures it).

    python benchmarks/bench_soak.py [--clients 50] [--seconds 300] [--rows 200000] [--heavy-clients 2]
                                    [--upload-every 2]

The server runs in its own process as ``lakebox serve`` runs it (waitress, query workers), the /healthz prober
in a third one, so neither the clients' threads nor the prober share a GIL with the server.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import multiprocessing as mp
import os
import platform
import random
import shutil
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
AS_OF = dt.date(2025, 5, 1)
NAMES = ["total_sales_by_customer", "monthly_order_volume", "order_status_summary",
         "average_order_value_by_customer", "top_orders_february_2025"]
HEAVY = ["SELECT length(lpad('', 1000000000, 'x'))",
         "SELECT cardinality(array_agg(a * 10000 + b)) FROM UNNEST(sequence(1, 10000)) t1(a), "
         "UNNEST(sequence(1, 10000)) t2(b)"]
LIGHT = ["SELECT order_status, count(*) AS n FROM orders_processed GROUP BY 1 ORDER BY 1",
         "SELECT customer_id, sum(order_amount) AS total FROM orders_processed GROUP BY 1 ORDER BY 2 DESC LIMIT 20",
         "SELECT count(*) FROM orders_processed WHERE order_date >= DATE '2025-02-01'"]
#: Answers that are the server doing its job, not errors.
DELIBERATE = {"QUERY_TIMEOUT", "EXCEEDED_MEMORY_LIMIT"}


def _settings(lake_dir: Path, timeout: float) -> Any:
    from lakebox.config import load_settings

    return load_settings({"lake": str(lake_dir), "as_of": AS_OF.isoformat(), "query_timeout": str(timeout)},
                         env={})


def build_lake(lake_dir: Path, rows: int) -> None:
    from lakebox.lake import Lake
    from lakebox.process.sample import write_sample

    shutil.rmtree(lake_dir, ignore_errors=True)
    lake_dir.mkdir(parents=True)
    src = lake_dir.parent / "orders_soak.csv"
    write_sample(src, rows, AS_OF)
    item = Lake(_settings(lake_dir, 5)).ingest([src])[0]
    if item.run.status != "ok":
        raise SystemExit(f"ingest failed: {item.run.error}")
    src.unlink()


def serve(lake_dir: str, timeout: float, port_out: Any) -> None:
    """The server process: the dashboard under waitress with its query workers, as ``lakebox serve`` runs it."""
    import logging

    from lakebox.cli import dashboard_services
    from lakebox.lake import Lake
    from lakebox.web.server import make_server, tune_serving_process

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    tune_serving_process()
    server = make_server(dashboard_services(Lake(_settings(Path(lake_dir), timeout))), "127.0.0.1", 0)
    dash = server.lakebox_app.extensions["lakebox"]
    dash.workers.wait_ready()

    def stop(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    port_out.put((int(server.effective_port), os.getpid()))
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        dash.close()


def probe(port: int, seconds: float, every: float, out: Any) -> None:
    """The /healthz prober (its own process): one request every ``every`` s, its latency in ms."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    lat: list[float] = []
    bad = 0
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        t0 = time.perf_counter()
        try:
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            resp.read()
            ok = resp.status == 200
        except OSError:
            ok = False
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        lat.append((time.perf_counter() - t0) * 1000)
        bad += not ok
        time.sleep(max(0.0, every - (time.perf_counter() - t0)))
    out.put((lat, bad))


class Client:
    """One keep-alive HTTP connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.csrf = ""
        self.csrf = json.loads(self.request("GET", "/api/csrf")[1])["csrf_token"]

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                return resp.status, resp.read(), dict(resp.headers)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def sql(self, sql: str) -> tuple[int, bytes, dict[str, str]]:
        return self.request("POST", "/api/sql", json.dumps({"sql": sql}).encode(),
                            {"Content-Type": "application/json", "X-CSRF-Token": self.csrf})

    def upload(self, i: int) -> tuple[int, bytes, dict[str, str]]:
        oid = uuid.uuid4().hex[:10]
        csv = (f"OrderID,Customer,Amount,Status,OrderDate\nS{oid},Soak Customer {i % 7},"
               f"{10 + i % 90}.25,shipped,2025-04-{1 + i % 28:02d}\n").encode()
        boundary = "lakebox" + uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"soak_{i % 8}.csv\"\r\n"
                f"Content-Type: text/csv\r\n\r\n").encode() + csv + f"\r\n--{boundary}--\r\n".encode()
        return self.request("POST", "/api/upload", body, {
            "Content-Type": f"multipart/form-data; boundary={boundary}", "X-CSRF-Token": self.csrf})


def _kind(status: int, body: bytes, heavy: bool) -> str:
    """``ok``, ``429``, ``deliberate`` (a heavy query stopped; any other query stopped is an error) or
    ``error``."""
    if status in (200, 201):
        return "ok"
    if status == 429:
        return "429"
    try:
        err = json.loads(body)["error"]["type"]
    except (ValueError, KeyError, TypeError):
        err = ""
    return "deliberate" if heavy and err in DELIBERATE else "error"


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:  # the process just ended
        return 0
    return 0


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            out += [int(p) for p in task.read_text().split()]
        except OSError:  # a thread that just ended
            continue
    return out


def _dir_bytes(path: Path) -> tuple[int, int]:
    size = files = 0
    for p in path.glob("*"):
        try:
            size += p.stat().st_size
            files += 1
        except OSError:  # a staging file renamed under us
            continue
    return size, files


def soak(port: int, server_pid: int, lake_dir: Path, clients: int, heavy_clients: int,
         seconds: float, upload_every: float) -> dict[str, Any]:
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    counts: dict[str, Counter[str]] = {k: Counter() for k in ("named", "light", "heavy", "upload")}
    times: dict[str, list[float]] = {k: [] for k in counts}
    errors: list[str] = []
    retry_after: list[int] = []
    mem = {"server_peak": 0, "workers_peak": 0, "total_peak": 0, "server_start": _rss(server_pid)}
    enriched = lake_dir / "enriched"
    start_size = _dir_bytes(enriched)
    peak_size = [start_size]

    def record(kind: str, status: int, body: bytes, headers: dict[str, str], ms: float) -> None:
        k = _kind(status, body, kind == "heavy")
        with lock:
            counts[kind][k] += 1
            if k == "ok":
                times[kind].append(ms)
            elif k == "429":
                retry_after.append(int(headers.get("Retry-After", "-1")))
            elif k == "error":
                errors.append(f"{kind}: HTTP {status} {body[:160]!r}")

    def client(k: int) -> None:
        rnd = random.Random(k)
        c = Client(port)
        i = 0
        while time.monotonic() < stop:
            i += 1
            t0 = time.perf_counter()
            try:
                if k < heavy_clients:
                    kind, (status, body, headers) = "heavy", c.sql(HEAVY[i % len(HEAVY)])
                else:
                    if rnd.random() < 0.8:
                        kind, (status, body, headers) = "named", c.request("GET", f"/api/queries/{rnd.choice(NAMES)}")
                    else:
                        kind, (status, body, headers) = "light", c.sql(rnd.choice(LIGHT))
            except OSError as exc:
                with lock:
                    errors.append(f"client {k}: {exc}")
                continue
            record(kind, status, body, headers, (time.perf_counter() - t0) * 1000)
            if status == 429:  # a well-behaved client waits as told
                time.sleep(min(int(headers.get("Retry-After", "1")), 10))

    def uploader() -> None:
        c = Client(port)
        i = 0
        nxt = time.monotonic()
        while time.monotonic() < stop:
            if time.monotonic() >= nxt:
                t0 = time.perf_counter()
                try:
                    status, body, headers = c.upload(i)
                except OSError as exc:
                    with lock:
                        errors.append(f"upload: {exc}")
                    continue
                record("upload", status, body, headers, (time.perf_counter() - t0) * 1000)
                i += 1
                nxt += upload_every
            time.sleep(0.05)

    def monitor() -> None:
        while time.monotonic() < stop:
            server = _rss(server_pid)
            workers = sum(_rss(p) for p in _children(server_pid))
            size = _dir_bytes(enriched)
            with lock:
                mem["server_peak"] = max(mem["server_peak"], server)
                mem["workers_peak"] = max(mem["workers_peak"], workers)
                mem["total_peak"] = max(mem["total_peak"], server + workers)
                peak_size[0] = max(peak_size[0], size)
            time.sleep(0.25)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    threads.append(threading.Thread(target=monitor))
    threads.append(threading.Thread(target=uploader))
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    mem["server_end"] = _rss(server_pid)
    return {"counts": counts, "times": times, "errors": errors, "retry_after": retry_after, "mem": mem,
            "enriched": (start_size, peak_size[0], _dir_bytes(enriched)), "seconds": elapsed}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def render(args: argparse.Namespace, r: dict[str, Any], health: tuple[list[float], int]) -> str:
    mib = 2 ** 20
    lat, health_bad = health
    c, t, m = r["counts"], r["times"], r["mem"]
    (s0, n0), (s1, n1), (s2, n2) = r["enriched"]
    lines = [
        f"# Soak: {args.clients} clients for {r['seconds']:.0f} s",
        "",
        f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores; "
        f"{args.rows:,} orders; query_timeout {args.timeout:g} s, query_workers 2, query_queue 8, "
        f"query_worker_memory 2GB; {args.heavy_clients} clients send only heavy queries "
        f"(`lpad('', 1e9, 'x')`, a 10^8-element array_agg), the others 80% named queries (the data version "
        f"changes with every upload, so they are recomputed), 20% light ad-hoc SQL; every client waits Retry-After "
        f"after a 429, and nothing else; one upload every "
        f"{args.upload_every:g} s. /healthz is served on its own 2 threads. Command: `python benchmarks/bench_soak.py "
        f"--clients {args.clients} --seconds {args.seconds:g} --upload-every {args.upload_every:g}`.",
        "",
        "| requests | ok | deliberate 429 | stopped (timeout/memory) | errors | p50 ms (ok) | p99 ms (ok) |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind in ("named", "light", "heavy", "upload"):
        k = c[kind]
        lines.append(f"| {kind} | {k['ok']} | {k['429']} | {k['deliberate']} | {k['error']} | "
                     f"{pct(t[kind], 50):.0f} | {pct(t[kind], 99):.0f} |")
    ra = r["retry_after"]
    lines += [
        "",
        "| measure | value |",
        "|---|---|",
        f"| errors (other than deliberate 429s and stopped heavy queries) | {len(r['errors'])} |",
        f"| Retry-After on 429 (s) | {min(ra) if ra else '-'}..{max(ra) if ra else '-'} |",
        f"| /healthz probes (every 50 ms, own process) | {len(lat)} ({health_bad} not 200) |",
        f"| /healthz p50 / p99 / max ms | {pct(lat, 50):.1f} / {pct(lat, 99):.1f} / {max(lat) if lat else 0:.1f} |",
        f"| server RSS start / peak / end MiB | {m['server_start'] / mib:.0f} / {m['server_peak'] / mib:.0f} / "
        f"{m['server_end'] / mib:.0f} |",
        f"| query workers' RSS peak (sum) MiB | {m['workers_peak'] / mib:.0f} |",
        f"| server + workers RSS peak MiB | {m['total_peak'] / mib:.0f} |",
        f"| enriched/ start / peak / end | {s0 / mib:.1f} / {s1 / mib:.1f} / {s2 / mib:.1f} MiB "
        f"({n0} / {n1} / {n2} files) |",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=300.0)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--heavy-clients", type=int, default=2)
    ap.add_argument("--upload-every", type=float, default=2.0, help="seconds between uploads (one uploader)")
    ap.add_argument("--timeout", type=float, default=5.0, help="the server's query_timeout")
    ap.add_argument("--workdir", type=Path, default=HERE / "_work" / "soak")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "soak.md")
    args = ap.parse_args()

    lake_dir = args.workdir / "lake"
    print(f"building a lake with {args.rows:,} orders in {lake_dir} ...", file=sys.stderr)
    build_lake(lake_dir, args.rows)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    # Not a daemon: the server starts query worker processes of its own.
    proc = ctx.Process(target=serve, args=(str(lake_dir), args.timeout, q))
    proc.start()
    health_q = ctx.Queue()
    try:
        port, pid = q.get(timeout=180)
        print(f"server on 127.0.0.1:{port} (pid {pid}); warming the named queries ...", file=sys.stderr)
        Client(port).request("GET", "/api/dashboard")
        prober = ctx.Process(target=probe, args=(port, args.seconds, 0.05, health_q), daemon=True)
        prober.start()
        print(f"{args.clients} clients for {args.seconds:.0f} s ...", file=sys.stderr)
        r = soak(port, pid, lake_dir, args.clients, args.heavy_clients, args.seconds, args.upload_every)
        health = health_q.get(timeout=120)
        prober.join(10)
    finally:
        proc.terminate()
        proc.join(30)
    table = render(args, r, health)
    if r["errors"]:
        print("errors (first 10):", *r["errors"][:10], sep="\n  ", file=sys.stderr)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()

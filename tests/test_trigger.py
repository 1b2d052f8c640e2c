"""The watcher: drop a file into raw/, see it processed exactly once, with retries and dead letters.

Real folders, real watchdog, real DuckDB. Expected row counts come from an *oracle*: the same CSV processed
sequentially by ``Lake.ingest`` in a separate lake, with no watcher involved. Tests never sleep for timing:
they wait on a condition with a deadline (``wait_until``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from lakebox.cli import main
from lakebox.config import Settings, load_settings
from lakebox.events import build_event, build_record, parse_event
from lakebox.lake import Lake
from lakebox.process.sample import write_sample
from lakebox.trigger.deadletter import failed_key, list_failed
from lakebox.trigger.landing import can_detect_writers
from lakebox.trigger.locks import LockedError
from lakebox.trigger.watcher import Watcher

AS_OF = dt.date(2025, 5, 1)
TABLE = "orders_db.orders_processed"
FAST = {"settle_seconds": 0.1, "rescan_seconds": 0.5, "retry_delays": "0.05,0.1", "workers": 4}


# --- helpers --------------------------------------------------------------------------------------------


def wait_until(pred: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``pred`` until it is truthy or the deadline passes (then fail, naming what we waited for)."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def land(raw: Path, name: str, src: Path) -> Path:
    """Upload the recommended way: copy under a temporary name, then rename into place."""
    part = raw / (name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, part)
    dest = raw / name
    os.replace(part, dest)
    return dest


def states(lake: Lake) -> dict[str, Any]:
    return {s.raw_key: s for s in lake.ledger.states()}


def ok_keys(lake: Lake) -> set[str]:
    return {k for k, s in states(lake).items() if s.status == "ok"}


def count_rows(lake: Lake) -> int:
    res = lake.engine.start_query_execution(f"SELECT count(*) FROM {TABLE}")
    assert res.state == "SUCCEEDED", res.error
    return int(res.rows[0][0])


def queryable_rows(lake: Lake) -> int | None:
    """Rows a query sees now, or None while the table does not exist yet (for wait predicates)."""
    res = lake.engine.start_query_execution(f"SELECT count(*) FROM {TABLE}")
    return int(res.rows[0][0]) if res.state == "SUCCEEDED" else None


def run_records(lake: Lake, key: str | None = None) -> list[Any]:
    return [r for r in lake.ledger.recent(0) if key is None or r.raw_key == key]


class Oracle:
    """Row counts from processing a CSV alone, sequentially, in a separate lake (no watcher)."""

    def __init__(self, root: Path) -> None:
        self.lake = Lake(load_settings({"lake": str(root), "as_of": AS_OF.isoformat()}, env={}))
        self._cache: dict[Path, Any] = {}

    def run(self, csv: Path) -> Any:
        if csv not in self._cache:
            self._cache[csv] = self.lake.ingest([csv])[0].run
        return self._cache[csv]

    def kept(self, csv: Path) -> int:
        return int(self.run(csv).rows_kept)


class Spy:
    """Wraps ``lake.handle_event``: counts calls and concurrency per key, optionally fails or blocks."""

    def __init__(self, lake: Lake, fail: Callable[[str, int], BaseException | None] | None = None,
                 gate: threading.Event | None = None) -> None:
        self.inner = lake.handle_event
        self.fail = fail
        self.gate = gate
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.active: Counter[str] = Counter()
        self.max_active: Counter[str] = Counter()
        self.total = 0
        self.max_total = 0
        lake.handle_event = self  # type: ignore[method-assign]

    def __call__(self, event: dict[str, Any]) -> Any:
        key = next(parse_event(event)).key
        with self.lock:
            self.calls[key] += 1
            n = self.calls[key]
            self.times[key].append(time.monotonic())
            self.active[key] += 1
            self.max_active[key] = max(self.max_active[key], self.active[key])
            self.total += 1
            self.max_total = max(self.max_total, self.total)
        try:
            if self.gate is not None:
                self.gate.wait(30)
            exc = self.fail(key, n) if self.fail else None
            if exc is not None:
                raise exc
            return self.inner(event)
        finally:
            with self.lock:
                self.active[key] -= 1
                self.total -= 1


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture
def oracle(tmp_path: Path) -> Oracle:
    return Oracle(tmp_path / "oracle-lake")


@pytest.fixture
def samples(tmp_path: Path) -> Callable[..., Path]:
    """``samples(rows, seed)`` -> a CSV of sample orders outside the lake (cached per rows/seed)."""
    folder = tmp_path / "samples"
    folder.mkdir()

    def make(rows: int, seed: int = 1) -> Path:
        path = folder / f"orders_{rows}_{seed}.csv"
        if not path.exists():
            write_sample(path, rows, AS_OF, seed=seed)
        return path

    return make


@pytest.fixture
def wlake(make_settings: Callable[..., Settings]) -> Lake:
    lake = Lake(make_settings(**FAST))
    _ = lake.store  # create the layout
    return lake


@pytest.fixture
def raw(wlake: Lake) -> Path:
    return Path(wlake.store.local_path("raw/"))  # type: ignore[arg-type]


@pytest.fixture
def watchers() -> Iterator[Callable[..., Watcher]]:
    """``watchers(lake, **kw)`` -> a started Watcher, stopped at teardown."""
    made: list[Watcher] = []

    def start(lake: Lake, **kw: Any) -> Watcher:
        w = Watcher(lake, **kw)
        w.start()
        made.append(w)
        return w

    yield start
    for w in made:
        w.stop()


# --- Must show ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_200_files_dropped_at_once_are_all_processed_with_exact_totals(
    wlake: Lake, raw: Path, watchers: Callable[..., Watcher], samples: Callable[..., Path], oracle: Oracle,
    tmp_path: Path,
) -> None:
    bases = [samples(rows, seed) for rows, seed in ((40, 1), (75, 2), (120, 3), (9, 4))]
    staging = raw / "incoming"
    staging.mkdir()
    names = []
    for i in range(200):
        src = bases[i % len(bases)]
        part = raw / f"f{i:03d}.csv.part"  # the temp name of the upload convention: never triggers
        shutil.copyfile(src, part)
        names.append((part, raw / f"f{i:03d}.csv", src))
    w = watchers(wlake)
    for part, dest, _ in names:  # all 200 land within a few milliseconds
        os.replace(part, dest)
    staging.rmdir()

    # Poll the watcher's counters (cheap), not the ledger: reading 200 state files every 10 ms would
    # compete with the workers for the GIL.
    wait_until(lambda: w.stats()["ok"] >= 200, 120, "200 files processed")
    assert w.drain(60)
    expected_read = sum(sum(1 for _ in open(src, encoding="utf-8")) - 1 for _, _, src in names)
    expected_kept = sum(oracle.kept(src) for _, _, src in names)
    totals = wlake.ledger.totals()
    assert totals["files"] == 200
    assert totals["rows_read"] == expected_read
    assert totals["rows_kept"] == expected_kept
    assert totals["rows_read"] == totals["rows_kept"] + totals["rows_dropped"] + totals["rows_quarantined"]
    assert len(run_records(wlake)) == 200  # one run per file: nothing was processed twice
    assert count_rows(wlake) == expected_kept
    table = wlake.catalog.get_table("orders_db", "orders_processed")
    assert table is not None and table.file_count == 200 and table.row_count == expected_kept
    stats = w.stats()
    assert stats["failed"] == 0 and stats["errors"] == 0 and stats["ok"] == 200


def test_same_file_delivered_five_times_is_counted_once(
    wlake: Lake, raw: Path, watchers: Callable[..., Watcher], samples: Callable[..., Path], oracle: Oracle
) -> None:
    spy = Spy(wlake)
    w = watchers(wlake, deliveries=5)  # every dispatch hands the handler the event five times
    src = samples(500, 7)
    land(raw, "dup.csv", src)
    wait_until(lambda: "raw/dup.csv" in ok_keys(wlake), what="dup.csv processed")
    etag = wlake.store.head_object("raw/dup.csv").etag
    event = build_event(build_record("raw/dup.csv", size=1, etag=etag))
    threads = [threading.Thread(target=w.deliver, args=(event,)) for _ in range(5)]  # and 5 more, at once
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert w.drain(30)
    for _ in range(5):  # and straight into the handler, bypassing the watcher
        wlake.handle_event(event)

    assert spy.calls["raw/dup.csv"] >= 5
    assert spy.max_active["raw/dup.csv"] == 1
    assert len(run_records(wlake, "raw/dup.csv")) == 1
    totals = wlake.ledger.totals()
    assert totals["files"] == 1 and totals["rows_read"] == 500 and totals["rows_kept"] == oracle.kept(src)
    assert count_rows(wlake) == oracle.kept(src)


@pytest.mark.skipif(not can_detect_writers(), reason="needs /proc to see open files")
def test_file_written_slowly_in_chunks_is_processed_once_whole(
    wlake: Lake, raw: Path, watchers: Callable[..., Watcher], samples: Callable[..., Path], oracle: Oracle
) -> None:
    src = samples(2000, 3)
    data = src.read_bytes()
    w = watchers(wlake)
    chunks = 6
    step = len(data) // chunks + 1
    with open(raw / "slow.csv", "wb") as fh:  # written in place, the file held open between chunks
        for i in range(chunks):
            fh.write(data[i * step:(i + 1) * step])  # chunk boundaries cut rows in half
            fh.flush()
            seen = w.stats()["deferred_open"]
            # The pause outlasts settle_seconds: only "still open for writing" keeps the file back here.
            wait_until(lambda seen=seen: w.stats()["deferred_open"] > seen, what="watcher deferring open file")
            assert "raw/slow.csv" not in states(wlake)
    wait_until(lambda: "raw/slow.csv" in ok_keys(wlake), what="slow.csv processed")
    assert w.drain(30)
    runs = run_records(wlake, "raw/slow.csv")
    assert len(runs) == 1
    assert runs[0].rows_read == 2000 and runs[0].rows_kept == oracle.kept(src)
    assert count_rows(wlake) == oracle.kept(src)


def test_malformed_files_end_in_quarantine_or_failed_while_the_watcher_keeps_going(
    wlake: Lake, raw: Path, watchers: Callable[..., Watcher], samples: Callable[..., Path], tmp_path: Path
) -> None:
    spy = Spy(wlake, fail=lambda key, n: RuntimeError("disk on fire") if key == "raw/explode.csv" else None)
    w = watchers(wlake)
    bad_rows = tmp_path / "bad_rows.csv"
    bad_rows.write_text("OrderID,Customer,Amount,Status,OrderDate\n"
                        "1,Alice,10.50,shipped,2025-04-01\n"
                        "2,Bob,not-a-number,shipped,2025-04-02\n"
                        "3,Carol,7.00,confirmed,not-a-date\n", encoding="utf-8")
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("OrderID,Customer,Amount,Status,OrderDate\n1,Jos\xe9,1.00,shipped,2025-04-01\n"
                       .encode("latin-1"))
    land(raw, "bad_rows.csv", bad_rows)
    land(raw, "latin1.csv", latin1)
    land(raw, "explode.csv", samples(10, 1))

    wait_until(lambda: list_failed(wlake.store), what="a dead letter")
    assert w.drain(30)
    st = states(wlake)
    assert st["raw/bad_rows.csv"].status == "ok" and st["raw/bad_rows.csv"].rows_quarantined == 2
    assert wlake.store.exists("quarantine/bad_rows.csv")
    assert st["raw/latin1.csv"].status == "rejected"
    assert spy.calls["raw/latin1.csv"] == 1  # a rejected file is an answer, not an error: no retry
    assert "raw/explode.csv" not in st

    # Retried twice, with backoff, then dead-lettered with Lambda's on-failure record shape.
    assert spy.calls["raw/explode.csv"] == 3
    t = spy.times["raw/explode.csv"]
    assert t[1] - t[0] >= 0.05 and t[2] - t[1] >= 0.1
    [failed] = list_failed(wlake.store)
    assert failed["key"] == "raw/explode.csv" and failed["attempts"] == 3 and "disk on fire" in failed["error"]
    assert failed["failed_at"] and failed["event"]["Records"][0]["s3"]["object"]["key"] == "raw/explode.csv"
    record = json.loads(wlake.store.get_object(failed_key("raw/explode.csv")))
    assert record["version"] == "1.0" and record["timestamp"]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"]["Records"][0]["eventName"] == "ObjectCreated:Put"
    assert record["responsePayload"]["errorMessage"] == "disk on fire"

    # Visible in `lakebox status`.
    res = CliRunner().invoke(main, ["--lake", str(wlake.store.url), "status", "--json"], env={})
    assert res.exit_code == 0, res.output
    assert [f["key"] for f in json.loads(res.output)["failed"]] == ["raw/explode.csv"]

    # The watcher is still alive: the next file goes through, and rescans do not re-drive the dead letter.
    land(raw, "after.csv", samples(30, 2))
    wait_until(lambda: "raw/after.csv" in ok_keys(wlake), what="a good file after the bad ones")
    assert w.drain(30)
    assert spy.calls["raw/explode.csv"] == 3
    stats = w.stats()
    assert stats["errors"] == 0 and stats["failed"] == 1 and stats["rejected"] == 1

    # A new version of the failed file is processed and clears its dead letter.
    spy.fail = None
    land(raw, "explode.csv", samples(10, 1))
    wait_until(lambda: "raw/explode.csv" in ok_keys(wlake), what="the replaced file processed")
    wait_until(lambda: not list_failed(wlake.store), what="the dead letter cleared")


def test_transient_errors_are_retried_and_then_succeed(
    wlake: Lake, raw: Path, watchers: Callable[..., Watcher], samples: Callable[..., Path]
) -> None:
    spy = Spy(wlake, fail=lambda key, n: OSError("throttled") if n <= 2 else None)
    w = watchers(wlake)
    land(raw, "flaky.csv", samples(20, 1))
    wait_until(lambda: "raw/flaky.csv" in ok_keys(wlake), what="flaky.csv processed on the third attempt")
    assert w.drain(30)
    assert spy.calls["raw/flaky.csv"] == 3
    assert w.stats()["retried"] == 2 and w.stats()["failed"] == 0
    assert list_failed(wlake.store) == []
    assert w.results()[-1].attempts == 3


def test_replaced_file_replaces_its_output(
    wlake: Lake, raw: Path, watchers: Callable[..., Watcher], samples: Callable[..., Path], oracle: Oracle
) -> None:
    w = watchers(wlake)
    v1, v2 = samples(300, 1), samples(120, 2)
    land(raw, "orders.csv", v1)
    wait_until(lambda: queryable_rows(wlake) == oracle.kept(v1), what="v1 queryable")
    first = wlake.ledger.latest("raw/orders.csv")
    land(raw, "orders.csv", v2)
    wait_until(lambda: (s := wlake.ledger.latest("raw/orders.csv")) is not None and s.etag != first.etag,
               what="v2 processed")
    assert w.drain(30)
    parquet = list(Path(wlake.store.local_path("processed/")).rglob("*.parquet"))  # type: ignore[arg-type]
    assert [p.name for p in parquet] == ["orders.parquet"]
    con = duckdb.connect()
    assert con.execute("SELECT count(*) FROM read_parquet(?)", [str(parquet[0])]).fetchall()[0][0] == oracle.kept(v2)
    con.close()
    assert count_rows(wlake) == oracle.kept(v2)
    assert wlake.ledger.totals()["rows_read"] == 120
    table = wlake.catalog.get_table("orders_db", "orders_processed")
    assert table is not None and table.row_count == oracle.kept(v2)


# --- delete semantics, filters, concurrency, drain ------------------------------------------------------


def test_deleted_raw_file_keeps_its_output_by_default(
    wlake: Lake, raw: Path, watchers: Callable[..., Watcher], samples: Callable[..., Path], oracle: Oracle
) -> None:
    w = watchers(wlake)
    src = samples(50, 1)
    land(raw, "keep.csv", src)
    wait_until(lambda: "raw/keep.csv" in ok_keys(wlake), what="keep.csv processed")
    (raw / "keep.csv").unlink()
    wait_until(lambda: w.stats()["gone"] >= 1, what="the delete noticed")
    assert wlake.store.exists("processed/keep.parquet")
    assert count_rows(wlake) == oracle.kept(src)


def test_deleted_raw_file_removes_outputs_when_configured(
    make_settings: Callable[..., Settings], watchers: Callable[..., Watcher], samples: Callable[..., Path],
    tmp_path: Path,
) -> None:
    lake = Lake(make_settings(**FAST, delete_outputs_on_raw_delete=True))
    raw = Path(lake.store.local_path("raw/"))  # type: ignore[arg-type]
    watchers(lake)
    bad = tmp_path / "q.csv"
    bad.write_text("OrderID,Customer,Amount,Status,OrderDate\n1,A,x,shipped,2025-04-01\n"
                   "2,B,3.00,shipped,2025-04-01\n", encoding="utf-8")
    land(raw, "a.csv", samples(50, 1))
    land(raw, "q.csv", bad)
    wait_until(lambda: ok_keys(lake) == {"raw/a.csv", "raw/q.csv"}, what="both processed")
    assert lake.store.exists("quarantine/q.csv")
    (raw / "q.csv").unlink()
    wait_until(lambda: not lake.store.exists("processed/q.parquet"), what="outputs removed")
    wait_until(lambda: not lake.store.exists("quarantine/q.csv"), what="quarantine removed")
    wait_until(lambda: "raw/q.csv" not in states(lake), what="ledger forgets q.csv")
    table = wait_until(lambda: (t := lake.catalog.get_table("orders_db", "orders_processed")) and
                       t.file_count == 1 and t, what="catalog updated")
    assert table.row_count == count_rows(lake)


def test_writes_elsewhere_never_trigger(
    wlake: Lake, raw: Path, watchers: Callable[..., Watcher], samples: Callable[..., Path]
) -> None:
    w = watchers(wlake)
    src = samples(10, 1)
    root = Path(wlake.store.url)
    for path in (raw / "notes.txt", raw / "upload.csv.part", raw / ".lakebox-tmp-abc-x.csv.tmp",
                 raw / "SHOUTING.CSV", root / "processed" / "sneaky.csv", root / "_lakebox" / "loop.csv",
                 root / "enriched" / "result.csv"):
        shutil.copyfile(src, path)
    w.notify("processed/other.csv", landed=True)
    land(raw, "sub/dir/nested.csv", src)  # sub-folders of raw/ do match: prefix raw/, suffix .csv
    wait_until(lambda: "raw/sub/dir/nested.csv" in ok_keys(wlake), what="the nested file processed")
    assert w.drain(30)
    assert set(states(wlake)) == {"raw/sub/dir/nested.csv"}


def test_one_key_is_never_processed_by_two_workers_and_the_pool_is_bounded(
    wlake: Lake, raw: Path, watchers: Callable[..., Watcher], samples: Callable[..., Path]
) -> None:
    gate = threading.Event()
    spy = Spy(wlake, gate=gate)
    w = watchers(wlake, workers=3)
    for i in range(8):
        land(raw, f"k{i}.csv", samples(20, i))
    wait_until(lambda: spy.total == 3, what="all three workers busy")
    busy = [k for k, n in spy.active.items() if n]
    for _ in range(50):  # a storm of events for the keys being processed
        for k in busy:
            w.notify(k, landed=True)
    gate.set()
    wait_until(lambda: len(ok_keys(wlake)) == 8, what="all 8 processed")
    assert w.drain(30)
    assert spy.max_total == 3
    assert max(spy.max_active.values()) == 1
    for k in busy:
        assert spy.calls[k] <= 2  # coalesced into at most one follow-up look
    assert len(run_records(wlake)) == 8
    assert w.stats()["coalesced"] >= 50


def test_second_watcher_on_the_same_lake_is_refused(wlake: Lake, watchers: Callable[..., Watcher]) -> None:
    watchers(wlake)
    with pytest.raises(LockedError, match=f"pid {os.getpid()}"):
        Watcher(wlake).start()
    res = CliRunner().invoke(main, ["--lake", wlake.store.url, "watch", "--once"], env={})
    assert res.exit_code == 2
    assert f"pid {os.getpid()}" in res.output


def test_restart_picks_up_files_that_landed_while_stopped(
    wlake: Lake, raw: Path, samples: Callable[..., Path], oracle: Oracle
) -> None:
    w = Watcher(wlake)
    w.start()
    w.stop()
    srcs = [samples(60, i) for i in range(5)]
    for i, src in enumerate(srcs):
        land(raw, f"late{i}.csv", src)
    w.start()  # the same object restarted: the start-up rescan finds the work
    try:
        wait_until(lambda: len(ok_keys(wlake)) == 5, what="files from while stopped")
        assert w.drain(30)
    finally:
        w.stop()
    assert count_rows(wlake) == sum(oracle.kept(s) for s in srcs)


def test_listeners_see_a_fresh_catalog(
    make_settings: Callable[..., Settings], watchers: Callable[..., Watcher], samples: Callable[..., Path]
) -> None:
    lake = Lake(make_settings(**(FAST | {"workers": 1})))
    raw = Path(lake.store.local_path("raw/"))  # type: ignore[arg-type]
    seen: list[tuple[str, int]] = []

    def listener(run: Any) -> None:
        table = lake.catalog.get_table("orders_db", "orders_processed")
        seen.append((run.raw_key, table.row_count if table else -1))

    lake.on_processed(listener)
    w = watchers(lake)
    w.on_result(lambda r: (_ for _ in ()).throw(RuntimeError("broken listener")))  # must not matter
    land(raw, "a.csv", samples(100, 1))
    wait_until(lambda: len(seen) == 1, what="first listener call")
    land(raw, "b.csv", samples(100, 2))
    wait_until(lambda: len(seen) == 2, what="second listener call")
    runs = states(lake)
    assert seen[0] == ("raw/a.csv", runs["raw/a.csv"].rows_kept)
    assert seen[1] == ("raw/b.csv", runs["raw/a.csv"].rows_kept + runs["raw/b.csv"].rows_kept)
    assert w.stats()["errors"] == 0


def test_watch_once_drains_and_its_exit_code_says_whether_anything_failed(
    make_settings: Callable[..., Settings], samples: Callable[..., Path], oracle: Oracle, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lake_dir = tmp_path / "lake"
    lake = Lake(make_settings())
    raw = Path(lake.store.local_path("raw/"))  # type: ignore[arg-type]
    srcs = [samples(80, i) for i in range(3)]
    for i, src in enumerate(srcs):
        shutil.copyfile(src, raw / f"p{i}.csv")  # written in place, while nothing watches
    args = ["--lake", str(lake_dir), "--as-of", AS_OF.isoformat(), "watch", "--once", "--settle-seconds", "0",
            "--retry-delays", "0,0"]
    res = CliRunner().invoke(main, args, env={})
    assert res.exit_code == 0, res.output
    assert "3 processed" in res.output
    assert count_rows(lake) == sum(oracle.kept(s) for s in srcs)

    res = CliRunner().invoke(main, args, env={})  # nothing pending: a no-op, still success
    assert res.exit_code == 0 and "0 processed" in res.output
    assert len(run_records(lake)) == 3

    real = __import__("lakebox.lake", fromlist=["handle_event"]).handle_event

    def failing(event: dict[str, Any], *a: Any, **kw: Any) -> Any:
        if next(parse_event(event)).key == "raw/boom.csv":
            raise RuntimeError("boom")
        return real(event, *a, **kw)

    monkeypatch.setattr("lakebox.lake.handle_event", failing)
    shutil.copyfile(srcs[0], raw / "boom.csv")
    res = CliRunner().invoke(main, args, env={})
    assert res.exit_code == 1
    assert "boom" in res.output and "1 failed" in res.output
    assert [f["key"] for f in list_failed(lake.store)] == ["raw/boom.csv"]
    assert list_failed(lake.store)[0]["attempts"] == 3

    monkeypatch.setattr("lakebox.lake.handle_event", real)
    res = CliRunner().invoke(main, args, env={})  # --once re-drives dead letters: now it works
    assert res.exit_code == 0, res.output
    assert list_failed(lake.store) == []


def test_settle_detection_waits_for_a_quiet_file(
    wlake: Lake, raw: Path, watchers: Callable[..., Watcher], samples: Callable[..., Path]
) -> None:
    w = watchers(wlake, settle_seconds=0.5)
    shutil.copyfile(samples(10, 1), raw / "inplace.csv")  # not renamed in: must wait out the settle time
    t0 = time.monotonic()
    wait_until(lambda: "raw/inplace.csv" in ok_keys(wlake), what="in-place file processed")
    assert time.monotonic() - t0 >= 0.4
    wait_until(lambda: w.stats()["ok"] == 1, what="the watcher's count")

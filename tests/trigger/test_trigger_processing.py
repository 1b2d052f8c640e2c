"""The watcher processes what lands in raw/ exactly once: bulk drops, duplicate deliveries, slow writers,
replaced files, settle detection and per-key serialization in a bounded worker pool.

Helpers (the oracle, the handler spy) are in ``trigger_helpers``, fixtures in this folder's conftest.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from trigger_helpers import (
    Oracle,
    Spy,
    count_rows,
    land,
    ok_keys,
    queryable_rows,
    run_records,
    states,
)
from waiting import wait_until

from lakebox.events import build_event, build_record
from lakebox.lake import Lake
from lakebox.trigger.landing import can_detect_writers
from lakebox.trigger.watcher import Watcher

# --- Must show ----------------------------------------------------------------------------------------------


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


# --- landing and concurrency --------------------------------------------------------------------------------


def test_settle_detection_waits_for_a_quiet_file(
    wlake: Lake, raw: Path, watchers: Callable[..., Watcher], samples: Callable[..., Path]
) -> None:
    w = watchers(wlake, settle_seconds=0.5)
    shutil.copyfile(samples(10, 1), raw / "inplace.csv")  # not renamed in: must wait out the settle time
    t0 = time.monotonic()
    wait_until(lambda: "raw/inplace.csv" in ok_keys(wlake), what="in-place file processed")
    assert time.monotonic() - t0 >= 0.4
    wait_until(lambda: w.stats()["ok"] == 1, what="the watcher's count")


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

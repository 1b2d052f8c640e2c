"""The watcher around the edges: delete semantics, the trigger filter, one watcher per lake, restarts and
result listeners.

Helpers (the oracle, the handler spy) are in ``trigger_helpers``, fixtures in this folder's conftest.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from trigger_helpers import (
    FAST,
    Oracle,
    count_rows,
    land,
    ok_keys,
    states,
)
from waiting import wait_until

from lakebox.cli import main
from lakebox.config import Settings
from lakebox.lake import Lake
from lakebox.trigger.locks import LockedError
from lakebox.trigger.watcher import Watcher

# --- delete semantics, filters ------------------------------------------------------------------------------


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


# --- the lock, restarts, listeners --------------------------------------------------------------------------


def test_second_watcher_on_the_same_lake_is_refused(wlake: Lake, watchers: Callable[..., Watcher]) -> None:
    watchers(wlake)
    with pytest.raises(LockedError, match=f"pid {os.getpid()}"):
        wlake.watcher().start()
    res = CliRunner().invoke(main, ["--lake", wlake.store.url, "watch", "--once"], env={})
    assert res.exit_code == 2
    assert f"pid {os.getpid()}" in res.output


def test_restart_picks_up_files_that_landed_while_stopped(
    wlake: Lake, raw: Path, samples: Callable[..., Path], oracle: Oracle
) -> None:
    w = wlake.watcher()
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

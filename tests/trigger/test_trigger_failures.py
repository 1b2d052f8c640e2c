"""The watcher's failure handling: quarantine and rejections, retries with backoff, dead letters in
Lambda's on-failure record shape, and ``lakebox watch --once`` exit codes.

Helpers (the oracle, the handler spy) are in ``trigger_helpers``, fixtures in this folder's conftest.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from trigger_helpers import (
    AS_OF,
    Oracle,
    Spy,
    count_rows,
    land,
    ok_keys,
    run_records,
    states,
)
from waiting import wait_until

from lakebox.cli import main
from lakebox.config import Settings
from lakebox.events import parse_event
from lakebox.lake import Lake
from lakebox.trigger.deadletter import failed_key, list_failed
from lakebox.trigger.watcher import Watcher

# --- rejections, retries, dead letters ----------------------------------------------------------------------


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

    real = __import__("lakebox.process.handler", fromlist=["handle_event"]).handle_event

    def failing(event: dict[str, Any], *a: Any, **kw: Any) -> Any:
        if next(parse_event(event)).key == "raw/boom.csv":
            raise RuntimeError("boom")
        return real(event, *a, **kw)

    monkeypatch.setattr("lakebox.process.handler.handle_event", failing)
    shutil.copyfile(srcs[0], raw / "boom.csv")
    res = CliRunner().invoke(main, args, env={})
    assert res.exit_code == 1
    assert "boom" in res.output and "1 failed" in res.output
    assert [f["key"] for f in list_failed(lake.store)] == ["raw/boom.csv"]
    assert list_failed(lake.store)[0]["attempts"] == 3

    monkeypatch.setattr("lakebox.process.handler.handle_event", real)
    res = CliRunner().invoke(main, args, env={})  # --once re-drives dead letters: now it works
    assert res.exit_code == 0, res.output
    assert list_failed(lake.store) == []

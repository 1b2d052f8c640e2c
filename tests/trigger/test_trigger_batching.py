"""Files that land together are processed together: one DuckDB pass, one catalog update and one ledger write per
batch, with every file's run, output and counts what it would have been alone.

Helpers (the oracle) are in ``trigger_helpers``, fixtures in this folder's conftest.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
from trigger_helpers import TABLE, Oracle, count_rows, run_records, states

from lakebox.lake import Lake
from lakebox.trigger.deadletter import list_failed

BAD_ROWS = (
    "OrderID,Customer,Amount,Status,OrderDate\n"
    "B1,Ann,10.50,shipped,2025-04-20\n"
    "B2,Bob,not-a-number,shipped,2025-04-21\n"  # the reader rejects it: quarantined by line
    "B3,,12.00,pending,2025-04-22\n"  # a required value missing: quarantined
    "B4,Dee,13.00,pending,2025-01-02\n"  # old and pending: dropped by the rule
)
ALL_DROPPED = "OrderID,Customer,Amount,Status,OrderDate\nD1,Ann,1.00,cancelled,2025-01-01\n"
BAD_HEADER = "Who,What\nx,y\n"


def _land_batch(raw: Path, samples: Callable[..., Path], tmp_path: Path, n: int) -> list[Path]:
    """``n`` CSVs (clean ones of varied sizes, and a few that need the one-file path) written to raw/ while
    nothing watches, so they are ready together; returns the sources, named as in raw/."""
    src = tmp_path / "src"
    src.mkdir()
    files = []
    for i in range(n - 4):
        f = src / f"b{i:03d}.csv"
        shutil.copyfile(samples(20 + 7 * (i % 5), seed=i % 5 + 1), f)
        files.append(f)
    for name, text in (("bad_rows.csv", BAD_ROWS), ("all_dropped.csv", ALL_DROPPED),
                       ("bad_header.csv", BAD_HEADER), ("empty.csv", "")):
        (src / name).write_text(text, encoding="utf-8")
        files.append(src / name)
    for f in files:
        shutil.copyfile(f, raw / f.name)
    return files


def test_files_landed_together_are_batched_with_per_file_counts(
    wlake: Lake, raw: Path, samples: Callable[..., Path], oracle: Oracle, tmp_path: Path,
) -> None:
    files = _land_batch(raw, samples, tmp_path, 50)
    # The table exists before the batch, so every catalog change below is one of this drain's updates.
    first = wlake.ingest([samples(10, seed=9)])[0].run
    assert first.status == "ok"
    before = wlake.catalog.data_version()

    outcome = wlake.watcher(workers=2).run_once(120)
    assert outcome.idle and not outcome.failed

    # Fewer catalog updates than files: the batches were taken in as deltas, not one file at a time.
    updates = wlake.catalog.data_version() - before
    assert 0 < updates < len(files) // 4, updates

    # Every file's run is what processing it alone gives (the oracle: one ingest per file, no watcher).
    got = states(wlake)
    for f in files:
        run, alone = got[f"raw/{f.name}"], oracle.run(f)
        assert (run.status, run.rows_read, run.rows_kept, run.rows_dropped, run.rows_quarantined) == (
            alone.status, alone.rows_read, alone.rows_kept, alone.rows_dropped, alone.rows_quarantined), f.name
        assert run.balanced, f.name
        assert (run.quarantine_key is None) == (alone.quarantine_key is None), f.name
        assert len(run.output_keys) == len(alone.output_keys), f.name
    assert (got["raw/bad_rows.csv"].rows_kept, got["raw/bad_rows.csv"].rows_dropped,
            got["raw/bad_rows.csv"].rows_quarantined) == (1, 1, 2)
    assert got["raw/bad_header.csv"].status == "rejected" and got["raw/empty.csv"].status == "rejected"
    # One run record per file, and one output per source file holding exactly that file's kept rows.
    assert sorted(r.raw_key for r in run_records(wlake) if r.raw_key != first.raw_key) == sorted(
        f"raw/{f.name}" for f in files)
    con = duckdb.connect()
    for f in files:
        run = got[f"raw/{f.name}"]
        for key in run.output_keys:
            path = wlake.store.local_path(key)
            assert con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0] == run.rows_kept
    kept = sum(got[f"raw/{f.name}"].rows_kept for f in files) + first.rows_kept
    assert count_rows(wlake) == kept

    # Reprocessing one raw file of the batch replaces exactly its rows.
    shutil.copyfile(samples(5, seed=3), raw / "b000.csv")
    again = wlake.watcher(workers=2).run_once(60)
    assert [r.key for r in again.results if r.status == "ok"] == ["raw/b000.csv"]
    assert count_rows(wlake) == kept - got["raw/b000.csv"].rows_kept + oracle.kept(samples(5, seed=3))


def test_a_file_that_fails_in_a_batch_does_not_fail_the_others(
    wlake: Lake, raw: Path, samples: Callable[..., Path], oracle: Oracle, tmp_path: Path,
) -> None:
    files = _land_batch(raw, samples, tmp_path, 20)
    # A folder where b003.csv's output must go: publishing it fails (a real OSError), every retry too.
    dataset = wlake.settings.datasets[0]
    blocker = wlake.store.local_path(dataset.output_key("raw/b003.csv", "parquet"))
    assert blocker is not None
    blocker.mkdir(parents=True)
    (blocker / "keep").write_text("x", encoding="utf-8")

    outcome = wlake.watcher(workers=2).run_once(120)
    assert outcome.idle
    assert [r.key for r in outcome.failed] == ["raw/b003.csv"]
    assert [f["key"] for f in list_failed(wlake.store)] == ["raw/b003.csv"]
    got = states(wlake)
    for f in files:
        if f.name == "b003.csv":
            continue
        run, alone = got[f"raw/{f.name}"], oracle.run(f)
        assert (run.status, run.rows_read, run.rows_kept) == (alone.status, alone.rows_read, alone.rows_kept)
    assert "raw/b003.csv" not in got or got["raw/b003.csv"].status not in ("ok", "rejected")
    assert count_rows(wlake) == sum(got[f"raw/{f.name}"].rows_kept for f in files if f.name != "b003.csv")
    assert TABLE.split(".")[1] in {t.name for t in wlake.catalog.get_tables("orders_db")}

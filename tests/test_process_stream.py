"""The single streaming pass agrees with the exact (staged) path on every count and every kept row, for clean
files (which take the single pass) and dirty ones (which fall back), and a clean file really takes one pass."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import duckdb
import pytest

from lakebox.core.dataset import default_dataset
from lakebox.process import stream, transform
from lakebox.process.transform import TransformResult, transform_csv

H = "OrderID,Customer,Amount,Status,OrderDate\n"
AS_OF = dt.date(2025, 5, 1)
GOOD = ["O{i},Bob,{i}.50,shipped,2025-04-0{d}", "O{i},Ann,3.00,pending,2025-01-0{d}",
        "O{i},Cy,7.25,cancelled,2025-04-2{d}", "O{i},Dee,1,delivered,2024-12-1{d}"]
BAD = ["O{i},,1.00,shipped,2025-04-01", "O{i},Bob,zz,shipped,2025-04-01", "O{i},Bob,1.00",
       "O{i},Bob,1.00,shipped,infinity", "O{i},Bob,1.00,pending,", ",Bob,2.00,pending,2025-01-01"]


def _run(tmp: Path, text: str, *, streaming: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[TransformResult, list]:
    src = tmp / "in.csv"
    src.write_text(text)
    out = tmp / f"out-{streaming}.parquet"
    monkeypatch.setattr(transform, "streamable", (lambda d: stream.streamable(d)) if streaming else (lambda d: False))
    con = duckdb.connect()
    try:
        res = transform_csv(con, src, default_dataset(), AS_OF, out, "parquet", tmp / f"q-{streaming}.csv")
        rows = sorted(con.execute(f"SELECT * FROM read_parquet('{out}')").fetchall(), key=str)
    finally:
        con.close()
    return res, rows


@pytest.mark.parametrize("seed", range(12))
def test_streaming_and_exact_paths_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    rnd = random.Random(seed)
    dirty = seed % 2 == 1
    lines = [rnd.choice(GOOD + (BAD if dirty else [])).format(i=i, d=rnd.randint(1, 9)) for i in range(200)]
    text = H + "\n".join(lines) + "\n"
    fast, fast_rows = _run(tmp_path, text, streaming=True, monkeypatch=monkeypatch)
    exact, exact_rows = _run(tmp_path, text, streaming=False, monkeypatch=monkeypatch)
    assert (fast.rows_read, fast.rows_kept, fast.rows_dropped, fast.rows_quarantined) == (
        exact.rows_read, exact.rows_kept, exact.rows_dropped, exact.rows_quarantined)
    assert fast.rows_read == 200 == fast.rows_kept + fast.rows_dropped + fast.rows_quarantined
    assert fast_rows == exact_rows
    if dirty:
        q_fast = (tmp_path / "q-True.csv").read_text()
        assert q_fast == (tmp_path / "q-False.csv").read_text()


def _spy_on_the_pass(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """What each call of the single pass (``stream_kept``) returned, in order."""
    seen: list[object] = []
    real = transform.stream_kept

    def spy(*args: object, **kw: object) -> stream.StreamCounts | None:
        seen.append(out := real(*args, **kw))  # type: ignore[arg-type]
        return out

    monkeypatch.setattr(transform, "stream_kept", spy)
    return seen


def test_a_clean_file_takes_one_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _spy_on_the_pass(monkeypatch)
    text = H + "".join(GOOD[i % 4].format(i=i, d=1 + i % 9) + "\n" for i in range(100)) + "O9,Bob,zz,shipped,2025-04-01\n"
    res, _ = _run(tmp_path, text, streaming=True, monkeypatch=monkeypatch)
    assert len(seen) == 1 and isinstance(seen[0], stream.StreamCounts)  # counted in the same pass
    assert res.rows_quarantined == 1 and res.rows_read == 101  # the reader's reject, from its reject table


def test_status_cleaned_and_connection_restored_after_the_single_pass(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # The pass runs with DuckDB's filter pushdown off (so the cleaned status is computed once a row); the rule
    # must still see the cleaned value, and the pooled connection must get its optimizer back.
    src = tmp_path / "in.csv"
    src.write_text(H + "O1,Bob,1.00, Pending ,2025-01-02\nO2,Ann,2.00,  CANCELLED,2025-04-20\n"
                   "O3,Cy,3.00,Shipped  ,2025-01-03\nO4,Dee,4.00,pending,2025-04-25\n")
    seen = _spy_on_the_pass(monkeypatch)
    con = duckdb.connect()
    try:
        out = tmp_path / "out.parquet"
        res = transform_csv(con, src, default_dataset(), AS_OF, out, "parquet", tmp_path / "q.csv")
        rows = con.execute(f"SELECT order_id, order_status FROM read_parquet('{out}') ORDER BY 1").fetchall()
        settings = con.execute("SELECT current_setting('disabled_optimizers')").fetchone()
    finally:
        con.close()
    assert len(seen) == 1 and isinstance(seen[0], stream.StreamCounts)
    assert (res.rows_read, res.rows_kept, res.rows_dropped, res.rows_quarantined) == (4, 3, 1, 0)
    assert rows == [("O2", "cancelled"), ("O3", "shipped"), ("O4", "pending")]  # " Pending " (old) dropped
    assert settings == ("",)

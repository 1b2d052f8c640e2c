"""The processor ("Lambda") on bad input: every case is processed, quarantined or rejected with a clear reason,
and rows in = kept + dropped + quarantined."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from lakebox.cli import main
from lakebox.lake import Lake

H = b"OrderID,Customer,Amount,Status,OrderDate\n"
ROW = b"O1,Bob,1.50,shipped,2025-04-01\n"

# name -> (bytes, expected status, (read, kept, dropped, quarantined), text expected in error or quarantine)
CASES: dict[str, tuple[bytes, str, tuple[int, int, int, int], str]] = {
    "empty": (b"", "rejected", (0, 0, 0, 0), "empty file"),
    "header_only": (H, "ok", (0, 0, 0, 0), ""),
    "utf8_bom": (b"\xef\xbb\xbf" + H + ROW, "ok", (1, 1, 0, 0), ""),
    "crlf": (H.replace(b"\n", b"\r\n") + ROW.replace(b"\n", b"\r\n") * 3, "ok", (3, 3, 0, 0), ""),
    "quoted_commas_newlines": (
        H + b'O1,"Smith, Bob",1.50,shipped,2025-04-01\nO2,"multi\nline ""q""",2,shipped,2025-04-01\n',
        "ok", (2, 2, 0, 0), ""),
    "missing_required_column": (b"OrderID,Customer,Status,OrderDate\nO1,Bob,shipped,2025-04-01\n", "rejected",
                                (0, 0, 0, 0), "required column(s) missing: Amount"),
    "extra_columns": (b"OrderID,Customer,Amount,Status,OrderDate,Note\nO1,Bob,1.5,shipped,2025-04-01,hi\n", "ok",
                      (1, 1, 0, 0), ""),
    "bad_dates_and_amounts": (H + b"O1,Bob,abc,shipped,2025-04-01\nO2,Al,1,shipped,2025-02-30\n" + ROW, "ok",
                              (3, 1, 0, 2), "OrderDate not a valid date"),
    "non_utf8": (H + b"O1,Jos\xe9,1,shipped,2025-04-01\n", "rejected", (0, 0, 0, 0), "not UTF-8"),
    "duplicate_header": (b"OrderID,Customer,Amount,Amount,Status,OrderDate\nO1,Bob,1,2,shipped,2025-04-01\n",
                         "rejected", (0, 0, 0, 0), "appears 2 times"),
    "duplicate_unmapped_header": (b"OrderID,Customer,Amount,Status,OrderDate,x,x\nO1,Bob,1,shipped,2025-04-01,a,b\n",
                                  "ok", (1, 1, 0, 0), ""),
    "one_column": (b"OrderID\nO1\nO2\n", "rejected", (0, 0, 0, 0), "required column(s) missing"),
    "binary": (bytes(range(256)) * 4, "rejected", (0, 0, 0, 0), "binary data"),
    "very_long_field": (H + b"O1," + b"x" * (9 * 1024 * 1024) + b",1,shipped,2025-04-01\n" + ROW, "ok",
                        (2, 1, 0, 1), "line size"),
    "long_field_within_limit": (H + b"O1," + b"y" * 200_000 + b",1,shipped,2025-04-01\n", "ok", (1, 1, 0, 0), ""),
    "wrong_field_count": (H + b"O1,Bob,1\nO2,Bob,1,shipped,2025-04-01,extra\n" + ROW, "ok", (3, 1, 0, 2),
                          "wrong field count: expected 5 fields, found 3"),
    "missing_required_value": (H + b"O1,,1,shipped,2025-04-01\n" + ROW, "ok", (2, 1, 0, 1),
                               "missing required value Customer"),
    "json_not_csv": (b'{"a": 1}\n', "rejected", (0, 0, 0, 0), "required column(s) missing"),
    "whitespace_and_case": (H + b"O1 , Bob ,  7.25 ,  PENDING ,2025-01-01\n" + ROW, "ok", (2, 1, 1, 0), ""),
    "whitespace_only_status": (H + b"O1,Bob,1,   ,2025-01-01\n" + ROW, "ok", (2, 1, 0, 1), "missing required value Status"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_processed_quarantined_or_rejected(lake: Lake, tmp_path: Path, name: str) -> None:
    body, status, counts, text = CASES[name]
    src = tmp_path / f"{name}.csv"
    src.write_bytes(body)
    run = lake.ingest([src])[0].run
    assert run.status == status, run.error
    assert (run.rows_read, run.rows_kept, run.rows_dropped, run.rows_quarantined) == counts
    assert run.balanced
    if status == "rejected":
        assert text in (run.error or "")
        assert f"{name}.csv" in (run.error or ""), "the reason names the file"
        assert not list(lake.store.list_objects_v2("processed/")), "a rejected file never touches processed/"
    else:
        out = lake.store.local_path(run.output_keys[0])
        assert duckdb.connect().execute(f"SELECT count(*) FROM '{out}'").fetchone()[0] == run.rows_kept
    if run.rows_quarantined:
        q = lake.store.get_object(run.quarantine_key).decode()
        rows = list(csv.DictReader(q.splitlines()))
        assert len(rows) == run.rows_quarantined
        assert all(r["line"].isdigit() and r["reason"] for r in rows)
        assert text in q


def test_quarantine_line_numbers_count_the_header_as_line_one(lake: Lake, tmp_path: Path) -> None:
    src = tmp_path / "lines.csv"
    src.write_bytes(H + ROW + b"O2,Bob,1\n" + ROW + b"O4,Bob,zz,shipped,2025-04-01\n" + b"O5,Bob,1,shipped\n" + ROW
                    + b"O7,Bob,1,shipped,2025-99-01\n")
    run = lake.ingest([src])[0].run
    rows = list(csv.DictReader(lake.store.get_object(run.quarantine_key).decode().splitlines()))
    assert [(r["line"], r["reason"].split(":")[0]) for r in rows] == [
        ("3", "wrong field count"), ("5", "Amount not a valid decimal(12,2)"), ("6", "wrong field count"),
        ("8", "OrderDate not a valid date (%Y-%m-%d)")]
    assert rows[1]["raw_line"].startswith("O4,") and rows[3]["raw_line"].startswith("O7,")


def test_values_are_cleaned_and_typed(make_settings, tmp_path: Path) -> None:
    cfg = tmp_path / "lakebox.toml"
    cfg.write_text('[datasets.orders.columns]\norder_id = { source = "OrderID", trim = true }\n'
                   'customer_id = { source = "Customer", trim = true }\n'
                   'order_amount = { source = "Amount", type = "decimal(12,2)" }\n'
                   'order_status = { source = "Status", lower = true }\n'
                   'order_date = { source = "OrderDate", type = "date" }\n')
    from lakebox.config import load_settings

    lake = Lake(load_settings({"lake": str(tmp_path / "lake"), "as_of": "2025-05-01"}, env={}, config_file=cfg))
    src = tmp_path / "typed.csv"
    src.write_bytes(H + b" O1 , Bob ,  7.25 ,  Shipped ,2025-04-01\n")
    lake.ingest([src])
    out = lake.store.local_path("processed/typed.parquet")
    cur = duckdb.connect().execute(f"SELECT * FROM '{out}'")
    assert [str(d[1]) for d in cur.description] == ["VARCHAR", "VARCHAR", "DECIMAL(12,2)", "VARCHAR", "DATE"]
    assert [d[0] for d in cur.description] == ["order_id", "customer_id", "order_amount", "order_status", "order_date"]
    row = cur.fetchone()
    assert row[0] == "O1" and row[1] == "Bob" and str(row[2]) == "7.25" and row[3] == "shipped"


def test_values_are_kept_as_written_unless_trim_is_set(lake: Lake, tmp_path: Path) -> None:
    src = tmp_path / "kept.csv"
    src.write_bytes(H + b" O1 , Bob ,  7.25 ,  Shipped ,2025-04-01\n")
    lake.ingest([src])
    out = lake.store.local_path("processed/kept.parquet")
    row = duckdb.connect().execute(f"SELECT * FROM '{out}'").fetchone()
    assert row[0] == " O1 " and row[1] == " Bob " and row[3] == "shipped"


def test_rule_boundary_is_thirty_days_or_more(lake: Lake, tmp_path: Path) -> None:
    # as_of is 2025-05-01: 2025-04-01 is exactly 30 days before (dropped), 2025-04-02 is 29 (kept).
    src = tmp_path / "edge.csv"
    src.write_bytes(H + b"A,x,1,pending,2025-04-01\nB,x,1,cancelled,2025-04-02\nC,x,1,shipped,2025-01-01\n"
                    b"D,x,1,confirmed,2025-01-01\nE,x,1,PENDING,2025-04-02\n")
    run = lake.ingest([src])[0].run
    assert (run.rows_kept, run.rows_dropped) == (4, 1)


def test_reprocessing_replaces_and_same_etag_is_a_noop(orders_lake: Lake) -> None:
    first = orders_lake.ledger.latest("raw/orders.csv")
    again = orders_lake.process("raw/orders.csv")
    assert again.status == "skipped" and again.run_id == first.run_id
    forced = orders_lake.process("raw/orders.csv", force=True)
    assert forced.status == "ok" and forced.run_id != first.run_id
    assert [o.key for o in orders_lake.store.list_objects_v2("processed/")] == ["processed/orders.parquet"]
    assert orders_lake.catalog.get_table("orders_db", "orders_processed").row_count == 130


def test_clean_reprocess_removes_stale_quarantine(lake: Lake, tmp_path: Path) -> None:
    src = tmp_path / "f.csv"
    src.write_bytes(H + b"O1,Bob,abc,shipped,2025-04-01\n")
    assert lake.ingest([src])[0].run.quarantine_key == "quarantine/f.csv"
    src.write_bytes(H + ROW)
    run = lake.ingest([src])[0].run
    assert run.quarantine_key is None and not lake.store.exists("quarantine/f.csv")


def test_csv_output_format(make_settings, tmp_path: Path) -> None:
    lake = Lake(make_settings(output_format="csv"))
    src = tmp_path / "o.csv"
    src.write_bytes(H + ROW)
    run = lake.ingest([src])[0].run
    assert run.output_keys == ["processed/o.csv"]
    assert lake.store.get_object("processed/o.csv").decode().splitlines()[0] == (
        "order_id,customer_id,order_amount,order_status,order_date")


@pytest.mark.parametrize("name", ["empty", "non_utf8", "binary", "very_long_field", "wrong_field_count"])
def test_cli_never_shows_a_traceback(tmp_path: Path, name: str) -> None:
    body, status, _, text = CASES[name]
    src = tmp_path / f"{name}.csv"
    src.write_bytes(body)
    res = CliRunner().invoke(main, ["--lake", str(tmp_path / "lake"), "--as-of", "2025-05-01", "ingest", str(src)])
    assert "Traceback" not in res.output
    assert res.exit_code == (1 if status == "rejected" else 0), res.output
    if status == "rejected":
        assert text in res.output and f"{name}.csv" in res.output


def test_ingest_refuses_two_files_that_land_on_one_key(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        (tmp_path / d / "orders.csv").write_bytes(H + ROW)
    res = CliRunner().invoke(main, ["--lake", str(tmp_path / "lake"), "ingest", str(tmp_path / "a" / "orders.csv"),
                                    str(tmp_path / "b" / "orders.csv")])
    assert res.exit_code == 2 and "would both land on raw/orders.csv" in res.output
    assert not (tmp_path / "lake" / "raw" / "orders.csv").exists()


def test_ingest_says_when_it_replaces_a_raw_object(lake: Lake, tmp_path: Path) -> None:
    src = tmp_path / "o.csv"
    src.write_bytes(H + ROW)
    assert lake.ingest([src])[0].run.warnings == []
    src.write_bytes(H + ROW + ROW.replace(b"O1", b"O2"))
    run = lake.ingest([src])[0].run
    assert run.rows_kept == 2 and "replaced the earlier raw/o.csv and its output" in run.warnings

"""Hostile and careless files through `lakebox ingest`: every row kept, dropped or quarantined, and every
kept row queryable. Each test reproduces a defect found by the hardening review (issue 12)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from .ingest_fixtures import HEADER, lakebox, orders, query, status

TABLE = "orders_db.orders_processed"


def _write(path: Path, lines: list[str], newline: str = "\n") -> Path:
    path.write_bytes((newline.join(lines) + newline).encode("utf-8"))
    return path


def _balanced(lake: Path) -> dict[str, int]:
    totals = status(lake)["totals"]
    assert totals["rows_read"] == totals["rows_kept"] + totals["rows_dropped"] + totals["rows_quarantined"]
    return dict(totals)


@pytest.mark.parametrize("name", ["(1) orders.csv", "#2.csv", "Ümsätze.csv", "_hidden.csv", ".dot.csv"])
def test_uploaded_rows_are_queryable_whatever_the_file_name(tmp_path: Path, name: str) -> None:
    """Names that sanitised to `_…` were skipped by the crawler as hidden: reported kept, never queried."""
    src = _write(tmp_path / name, [HEADER, *orders(25)])
    lake = tmp_path / "lake"
    lakebox(lake, "ingest", str(src), check=True)
    assert query(lake, f"SELECT count(*) FROM {TABLE}") == [[25]]
    assert _balanced(lake)["rows_kept"] == 25
    (run,) = status(lake)["runs"]
    assert not run["raw_key"].rsplit("/", 1)[-1].startswith(("_", "."))
    # The name as given is kept in the stored run record whenever the key had to differ from it.
    assert run["source_name"] == (None if run["raw_key"] == f"raw/{name}" else name)


def test_names_that_sanitise_alike_never_collide(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _write(tmp_path / "a" / "(1) orders.csv", [HEADER, *orders(10)])
    second = _write(tmp_path / "b" / "[1] orders.csv", [HEADER, *orders(5, start=100)])
    lake = tmp_path / "lake"
    lakebox(lake, "ingest", str(first), str(second), check=True)
    assert query(lake, f"SELECT count(*) FROM {TABLE}") == [[15]]


def test_a_very_long_file_name_is_ingested(tmp_path: Path) -> None:
    """About 210 characters or more gave 'File name too long' once the temp prefix was added."""
    src = _write(tmp_path / ("x" * 240 + ".csv"), [HEADER, *orders(3)])
    lake = tmp_path / "lake"
    proc = lakebox(lake, "ingest", str(src))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert query(lake, f"SELECT count(*) FROM {TABLE}") == [[3]]


@pytest.mark.parametrize("kind", ["crlf_line_in_lf_file", "lf_line_in_crlf_file"])
def test_mixed_line_endings_keep_every_row(tmp_path: Path, kind: str) -> None:
    """One CRLF line in an LF file rejected the whole file ('CSV Parser state machine reached an invalid
    state', 0 of 1,001 rows kept). Mixed line endings are not bad data: every row is kept."""
    lines = [HEADER, *orders(1000)]
    text = "\n".join(lines) + "\n"
    if kind == "crlf_line_in_lf_file":
        text = text.replace(lines[500] + "\n", lines[500] + "\r\n")
    else:
        text = text.replace("\n", "\r\n").replace(lines[500] + "\r\n", lines[500] + "\n")
    src = tmp_path / "mixed.csv"
    src.write_bytes(text.encode())
    lake = tmp_path / "lake"
    lakebox(lake, "ingest", str(src), check=True)
    assert query(lake, f"SELECT count(*) FROM {TABLE}") == [[1000]]
    assert _balanced(lake)["rows_read"] == 1000


def test_a_bare_cr_inside_a_field_quarantines_that_row_only(tmp_path: Path) -> None:
    lines = [HEADER, *orders(1000)]
    lines[7] = lines[7].replace("Cust", "Cu\rst")  # line 8 of the file (the header is line 1)
    src = _write(tmp_path / "cr.csv", lines)
    lake = tmp_path / "lake"
    lakebox(lake, "ingest", str(src), check=True)
    assert query(lake, f"SELECT count(*) FROM {TABLE}") == [[999]]
    totals = _balanced(lake)
    assert (totals["rows_kept"], totals["rows_quarantined"]) == (999, 1)
    with open(lake / "quarantine" / "cr.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["line"], r["reason"]) for r in rows] == [
        ("8", "stray carriage return (CR) inside an unquoted field")]


def test_a_cr_inside_a_quoted_field_is_data(tmp_path: Path) -> None:
    lines = [HEADER, *orders(10)]
    lines[3] = 'O3,"Cu\rst",4.25,shipped,2025-04-04'
    text = "\n".join(lines) + "\r\n"  # the last line ends in CRLF too: mixed endings
    src = tmp_path / "quoted.csv"
    src.write_bytes(text.encode())
    lake = tmp_path / "lake"
    lakebox(lake, "ingest", str(src), check=True)
    assert query(lake, f"SELECT count(*) FROM {TABLE} WHERE customer_id = 'Cu' || chr(13) || 'st'") == [[1]]
    assert _balanced(lake)["rows_kept"] == 10


@pytest.mark.parametrize("value", ["infinity", "-infinity", "-2025-04-20", "10000-01-01"])
def test_dates_outside_the_calendar_are_quarantined(tmp_path: Path, value: str) -> None:
    """`infinity` and BC dates were kept; the monthly query then showed months `infinity` and `… (BC)`."""
    src = _write(tmp_path / "dates.csv", [HEADER, *orders(4), f"O99,Bob,1.00,shipped,{value}"])
    lake = tmp_path / "lake"
    lakebox(lake, "ingest", str(src), check=True)
    assert query(lake, f"SELECT count(*) FROM {TABLE} WHERE order_id = 'O99'") == [[0]]
    totals = _balanced(lake)
    assert (totals["rows_kept"], totals["rows_quarantined"]) == (4, 1)
    with open(lake / "quarantine" / "dates.csv", newline="", encoding="utf-8") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["line"] == "6"
    assert row["reason"].startswith("OrderDate not a valid date (outside 0001-01-01..9999-12-31)")
    months = query(lake, f"SELECT DISTINCT date_format(order_date, '%Y-%m') FROM {TABLE}")
    assert months == [["2025-04"]]


SPECIAL_DATES = ["epoch", "EPOCH", " Epoch ", "now", "today", "tomorrow", "yesterday", "allballs"]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])  # the streaming pass (then the exact path), the exact path
def test_special_date_words_are_quarantined(tmp_path: Path, fmt: str) -> None:
    """`epoch` was kept as 1970-01-01 (DuckDB's reader takes it for a date); PostgreSQL's other special words
    must not become dates either. A real 1970-01-01 is still kept; rows in = kept + dropped + quarantined."""
    specials = [f"S{i},Bob,1.00,shipped,{v}" for i, v in enumerate(SPECIAL_DATES)]
    lines = [HEADER, *orders(4), "O70,Ann,2.00,shipped,1970-01-01", "O71,Ann,3.00,pending,2025-01-02",
             *specials]
    src = _write(tmp_path / "special.csv", lines)
    lake = tmp_path / "lake"
    lakebox(lake, "ingest", str(src), "--format", fmt, check=True)
    totals = _balanced(lake)
    assert (totals["rows_read"], totals["rows_kept"], totals["rows_dropped"], totals["rows_quarantined"]) == (
        len(lines) - 1, 5, 1, len(SPECIAL_DATES))
    assert query(lake, f"SELECT order_id FROM {TABLE} WHERE CAST(order_date AS varchar) LIKE '1970%'") == [["O70"]]
    assert query(lake, f"SELECT count(*) FROM {TABLE} WHERE order_id LIKE 'S%'") == [[0]]
    with open(lake / "quarantine" / "special.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    first = len(lines) - len(SPECIAL_DATES) + 1  # the line of the first special row (line 1 is the header)
    assert [(r["line"], r["reason"]) for r in rows] == [
        (str(first + i), f"OrderDate not a valid date (%Y-%m-%d): {v}") for i, v in enumerate(SPECIAL_DATES)]

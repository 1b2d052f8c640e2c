"""Athena's result values and files (``lakebox.query.results``): Java's double rendering, Trino's casts to
varchar, Athena's type names and the result CSV. Pure functions, no engine."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lakebox.query.results import (
    athena_csv,
    athena_type,
    csv_field,
    java_double,
    read_athena_csv,
    to_json_value,
    to_text,
)

# --- java_double: Java's Double.toString --------------------------------------------------------------------


@pytest.mark.parametrize(("value", "text"), [
    (9152.0, "9152.0"),
    (5793.700000000001, "5793.700000000001"),
    (0.30000000000000004, "0.30000000000000004"),
    (100.0, "100.0"),
    (1.5, "1.5"),
    (9999999.0, "9999999.0"),  # below 1e7: plain
    (1e7, "1.0E7"),  # from 1e7: scientific
    (123456789.123, "1.23456789123E8"),
    (1e21, "1.0E21"),
    (0.001, "0.001"),  # from 1e-3: plain
    (0.0001234, "1.234E-4"),  # below 1e-3: scientific
    (1e-300, "1.0E-300"),
    (1.7976931348623157e308, "1.7976931348623157E308"),
    (-2.5, "-2.5"),
    (-1e7, "-1.0E7"),
    (-0.0001234, "-1.234E-4"),
    (0.0, "0.0"),
    (-0.0, "-0.0"),
    (math.nan, "NaN"),
    (math.inf, "Infinity"),
    (-math.inf, "-Infinity"),
])
def test_java_double(value: float, text: str) -> None:
    assert java_double(value) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_java_double_round_trips(x: float) -> None:
    text = java_double(x)
    assert float(text) == x
    assert math.copysign(1.0, float(text)) == math.copysign(1.0, x)
    assert "." in text  # always a fraction digit


# --- to_text: Trino's cast to varchar -------------------------------------------------------------------------


def test_to_text_null_stays_none() -> None:
    assert to_text(None) is None
    assert to_text(None, "varchar") is None


def test_to_text_date_and_timestamps_in_milliseconds() -> None:
    assert to_text(dt.date(2025, 1, 1)) == "2025-01-01"
    assert to_text(dt.datetime(2025, 1, 1)) == "2025-01-01 00:00:00.000"
    assert to_text(dt.datetime(2025, 1, 1, 12, 3, 4, 567890)) == "2025-01-01 12:03:04.567"  # truncated to ms
    assert to_text(dt.datetime(2025, 1, 1, tzinfo=dt.UTC)) == "2025-01-01 00:00:00.000 UTC"
    tz = dt.timezone(dt.timedelta(hours=2))
    assert to_text(dt.datetime(2025, 1, 1, 8, tzinfo=tz)) == "2025-01-01 08:00:00.000 +0200"


def test_to_text_time_and_interval() -> None:
    assert to_text(dt.time(1, 2, 3, 456000)) == "01:02:03.456"
    assert to_text(dt.timedelta(days=1, hours=2, milliseconds=5)) == "1 02:00:00.005"
    assert to_text(dt.timedelta(hours=-1)) == "-0 01:00:00.000"


def test_to_text_decimal_keeps_its_scale_without_exponent() -> None:
    assert to_text(decimal.Decimal("12.50"), "decimal(12,2)") == "12.50"
    assert to_text(decimal.Decimal("-0.05")) == "-0.05"
    assert to_text(decimal.Decimal("1E+3")) == "1000"


def test_to_text_numbers_and_strings() -> None:
    assert to_text(True) == "true"
    assert to_text(False) == "false"
    assert to_text(42) == "42"
    assert to_text(2.0, "double") == "2.0"
    assert to_text(1e7, "double") == "1.0E7"
    assert to_text(1.1, "real") == "1.1"  # REAL printed from its 7 significant digits
    assert to_text("a \"b\"") == "a \"b\""


def test_to_text_binary_and_uuid() -> None:
    assert to_text(b"\x01\xff") == "01 ff"
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert to_text(u) == "12345678-1234-5678-1234-567812345678"


def test_to_text_arrays() -> None:
    assert to_text([1, 2, 3], "array(integer)") == "[1, 2, 3]"
    assert to_text([1.0, None, 2.5], "array(double)") == "[1.0, NULL, 2.5]"
    assert to_text(["a", "b"], "array(varchar)") == "[a, b]"
    assert to_text([], "array(integer)") == "[]"
    assert to_text([[1, 2], [3]], "array(array(integer))") == "[[1, 2], [3]]"
    assert to_text((True, False)) == "[true, false]"
    assert to_text([dt.date(2025, 1, 2)], "array(date)") == "[2025-01-02]"


def test_to_text_maps() -> None:
    assert to_text({"a": 1, "b": None}, "map(varchar, integer)") == "{a=1, b=NULL}"
    assert to_text({1: 2.0}) == "{1=2.0}"
    assert to_text({}) == "{}"


# --- athena_type: DuckDB type -> Athena ColumnInfo type --------------------------------------------------------


@pytest.mark.parametrize(("duck", "athena"), [
    ("DECIMAL(12,2)", "decimal(12,2)"),
    ("DECIMAL(12, 2)", "decimal(12,2)"),
    ("decimal(38,0)", "decimal(38,0)"),
    ("VARCHAR", "varchar"),
    ("BIGINT", "bigint"),
    ("INTEGER", "integer"),
    ("SMALLINT", "smallint"),
    ("TINYINT", "tinyint"),
    ("HUGEINT", "bigint"),
    ("UBIGINT", "decimal(20,0)"),
    ("DOUBLE", "double"),
    ("FLOAT", "real"),
    ("BOOLEAN", "boolean"),
    ("DATE", "date"),
    ("TIMESTAMP", "timestamp(3)"),
    ("TIMESTAMP_NS", "timestamp(3)"),
    ("TIMESTAMP WITH TIME ZONE", "timestamp(3) with time zone"),
    ("TIME", "time(3)"),
    ("INTERVAL", "interval day to second"),
    ("BLOB", "varbinary"),
    ("UUID", "uuid"),
    ("NULL", "unknown"),
    ("INTEGER[]", "array(integer)"),
    ("VARCHAR[][]", "array(array(varchar))"),
    ("DECIMAL(10,2)[]", "array(decimal(10,2))"),
    ("MAP(VARCHAR, INTEGER)", "map(varchar, integer)"),
    ("MAP(VARCHAR, DECIMAL(10,2))", "map(varchar, decimal(10,2))"),
    ("STRUCT(a INTEGER)", "row(a integer)"),
    (" bigint ", "bigint"),
])
def test_athena_type(duck: str, athena: str) -> None:
    assert athena_type(duck) == athena


# --- athena_csv: Athena's result file -------------------------------------------------------------------------


def test_csv_field() -> None:
    assert csv_field(None) == ""
    assert csv_field("") == '""'
    assert csv_field('say "hi"') == '"say ""hi"""'


def test_athena_csv_quotes_everything_and_leaves_null_empty() -> None:
    lines = list(athena_csv(
        ["id", 'the "name"', "amount", "day"],
        ["integer", "varchar", "double", "date"],
        [
            [1, 'a "quoted", value', 9152.0, dt.date(2025, 1, 1)],
            [None, "", None, None],
            [3, "multi\nline", 1e7, dt.date(2025, 1, 2)],
        ],
    ))
    assert lines == [
        '"id","the ""name""","amount","day"\n',
        '"1","a ""quoted"", value","9152.0","2025-01-01"\n',
        ',"",,\n',
        '"3","multi\nline","1.0E7","2025-01-02"\n',
    ]
    assert all(line.endswith("\n") and not line.endswith("\r\n") for line in lines)


def test_athena_csv_header_only_for_no_rows() -> None:
    assert list(athena_csv(["a"], ["varchar"], [])) == ['"a"\n']


def test_athena_csv_renders_with_the_column_type() -> None:
    lines = list(athena_csv(["r", "ts"], ["real", "timestamp(3)"], [[1.1, dt.datetime(2025, 1, 1)]]))
    assert lines[1] == '"1.1","2025-01-01 00:00:00.000"\n'


# --- to_json_value --------------------------------------------------------------------------------------------


def test_to_json_value() -> None:
    assert to_json_value(None) is None
    assert to_json_value(3) == 3
    assert to_json_value(1.5) == 1.5
    assert to_json_value(math.nan) == "NaN"
    assert to_json_value(-math.inf) == "-Infinity"
    assert to_json_value(decimal.Decimal("12.50")) == 12.5
    assert to_json_value(dt.date(2025, 1, 1)) == "2025-01-01"
    assert to_json_value([decimal.Decimal("1.5"), None]) == [1.5, None]
    assert to_json_value({1: dt.datetime(2025, 1, 1)}) == {"1": "2025-01-01 00:00:00.000"}


# --- read_athena_csv: the result file read back (GetQueryResults of the embedded engine) -----------------------

_CELL = st.one_of(st.none(), st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12))


@given(st.integers(min_value=1, max_value=4).flatmap(
    lambda n: st.lists(st.lists(_CELL, min_size=n, max_size=n), max_size=6)))
def test_read_athena_csv_reads_back_what_athena_csv_wrote(rows: list[list[str | None]]) -> None:
    width = len(rows[0]) if rows else 1
    names = [f"c{i}" for i in range(width)]
    body = "".join(athena_csv(names, ["varchar"] * width, rows))
    # NULL (an empty unquoted field) and "" (two quotes) stay apart; commas, quotes and newlines stay inside.
    assert read_athena_csv(body) == [names, *rows]


def test_read_athena_csv_of_a_null_only_row() -> None:
    assert read_athena_csv('"a"\n\n""\n') == [["a"], [None], [""]]

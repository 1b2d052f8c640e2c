"""Implied date ranges (``lakebox.query.pruning``): a WHERE conjunct on a function of a date column gets the
column's range added, so DuckDB skips other months' files; where that cannot be exact, nothing is added.

Three levels: the pure reading of formats and literals; the translation (``dialect.translate``, a dict as the
catalog) adding or refusing to add a range; and DuckDB through a real lake: the named query on a monthly
partitioned lake reads at most a tenth of the bytes, and random filters over random dates return exactly
the rows they return without the rewrite."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from lakebox.config import load_settings
from lakebox.lake import Lake
from lakebox.process.sample import write_sample
from lakebox.query.dialect import translate
from lakebox.query.pruning import parse_range

D = dt.date

# --- reading a format back ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "text", "span"), [
    ("%Y", "2025", (D(2025, 1, 1), D(2026, 1, 1))),
    ("%Y-%m", "2025-02", (D(2025, 2, 1), D(2025, 3, 1))),
    ("%Y-%m", "2025-12", (D(2025, 12, 1), D(2026, 1, 1))),
    ("%Y%m", "202502", (D(2025, 2, 1), D(2025, 3, 1))),
    ("%Y/%m/%d", "2024/02/29", (D(2024, 2, 29), D(2024, 3, 1))),
    ("%Y-%m-%d", "2025-12-31", (D(2025, 12, 31), D(2026, 1, 1))),
    ("%d.%m.%Y", "01.03.2025", (D(2025, 3, 1), D(2025, 3, 2))),
    ("%m/%Y", "02/2025", (D(2025, 2, 1), D(2025, 3, 1))),
])
def test_a_literal_that_reads_back_gives_its_span(fmt: str, text: str, span: tuple[D, D]) -> None:
    assert parse_range(fmt, text) == span


@pytest.mark.parametrize(("fmt", "text"), [
    ("%Y-%m", "2025-2"),        # DuckDB prints the month with two digits: no row has this value
    ("%Y-%m", "2025-13"),
    ("%Y-%m", "2025-00"),
    ("%Y-%m-%d", "2025-02-30"),
    ("%Y-%m-%d", "2025-02-29"),  # not a leap year
    ("%Y-%m", " 2025-02"),
    ("%Y-%m", "2025-02 "),
    ("%Y", "0999"),             # years outside 1000-9999 print with another width
    ("%Y", "9999"),             # its end, 10000-01-01, is no date
    ("%Y-%m", "２０２５-02"),     # digits other than ASCII
    ("%m", "02"),               # not a span of dates: every February
    ("%Y-%d", "2025-03"),
    ("%m-%d", "02-03"),
    ("%Y-%-m", "2025-2"),       # unpadded fields (date_format's %c) read back ambiguously without separators
    ("%Y-%b", "2025-Feb"),
    ("%Y-%m-%Y", "2025-02-2025"),
    ("%Y-%m %H", "2025-02 00"),
    ("%Y%%m", "2025%02"),
    ("%YT%m", "2025T02"),
])
def test_a_literal_or_format_that_does_not_read_back_gives_nothing(fmt: str, text: str) -> None:
    assert parse_range(fmt, text) is None


# --- the translation ----------------------------------------------------------------------------------------

CATALOG = {
    ("db", "t"): [("id", "int"), ("d", "date"), ("ts", "timestamp"), ("s", "string"), ("n", "int")],
    ("db", "u"): [("k", "int"), ("d", "date")],
}


def _resolve(db: str | None, name: str) -> tuple[str, str] | None:
    key = ((db or "db").lower(), name.lower())
    return key if key in CATALOG else None


_RANGE = re.compile(r"([\w.\"]+) >= CAST\('([0-9-]+)' AS DATE\) AND \1 < CAST\('([0-9-]+)' AS DATE\)")


def ranges(sql: str) -> list[tuple[str, str, str]]:
    """The (column, start, end) ranges the translation of ``sql`` holds."""
    return _RANGE.findall(translate(sql, _resolve, "db", CATALOG).sql)


@pytest.mark.parametrize(("where", "expected"), [
    ("date_format(d, '%Y-%m') = '2025-02'", [("d", "2025-02-01", "2025-03-01")]),
    ("'2025-02' = DATE_FORMAT(d, '%Y-%m')", [("d", "2025-02-01", "2025-03-01")]),
    ("date_format(ts, '%Y-%m-%d') = '2024-02-29'", [("ts", "2024-02-29", "2024-03-01")]),
    ("date_format(d, '%Y') = '2025' AND n > 1", [("d", "2025-01-01", "2026-01-01")]),
    ("n > 1 AND (s = 'x' AND (date_format(d, '%Y%m') = '202512'))", [("d", "2025-12-01", "2026-01-01")]),
    ("format_datetime(ts, 'yyyy-MM') = '2025-02'", [("ts", "2025-02-01", "2025-03-01")]),
    ("format_datetime(d, 'dd/MM/yyyy') = '31/12/2025'", [("d", "2025-12-31", "2026-01-01")]),
    ("year(d) = 2025", [("d", "2025-01-01", "2026-01-01")]),
    ("2024 = year(ts) AND month(ts) = 2", [("ts", "2024-02-01", "2024-03-01")]),
    ("year(d) = 2024 AND month(d) = 2 AND day(d) = 29", [("d", "2024-02-29", "2024-03-01")]),
    ("extract(year FROM d) = 2025 AND extract(month FROM d) = 12", [("d", "2025-12-01", "2026-01-01")]),
    ("year(d) = 2025 AND day_of_month(d) = 3", [("d", "2025-01-01", "2026-01-01")]),  # day without month
    ("date_trunc('month', d) = DATE '2025-02-01'", [("d", "2025-02-01", "2025-03-01")]),
    ("date_trunc('QUARTER', ts) = DATE '2025-10-01'", [("ts", "2025-10-01", "2026-01-01")]),
    ("date_trunc('year', d) = DATE '2025-01-01'", [("d", "2025-01-01", "2026-01-01")]),
    ("date_trunc('day', ts) = DATE '2025-02-28'", [("ts", "2025-02-28", "2025-03-01")]),
    # IN: the hull, and each month's own range
    ("date_format(d, '%Y-%m') IN ('2025-07', '2025-02')",
     [("d", "2025-02-01", "2025-08-01"), ("d", "2025-02-01", "2025-03-01"), ("d", "2025-07-01", "2025-08-01")]),
    ("date_format(d, '%Y-%m') IN ('2025-02', '2025-03')", [("d", "2025-02-01", "2025-04-01")]),  # adjacent: merged
])
def test_a_conjunct_implies_the_range_of_its_column(where: str, expected: list[tuple[str, str, str]]) -> None:
    assert ranges(f"SELECT id FROM t WHERE {where}") == expected


@pytest.mark.parametrize("where", [
    "date_format(d, '%Y-%m') = '2025-02' OR n = 1",             # under OR
    "NOT date_format(d, '%Y-%m') = '2025-02'",                   # under NOT
    "NOT (date_format(d, '%Y-%m') <> '2025-02')",
    "date_format(d, '%Y-%m') <> '2025-02'",
    "CASE WHEN n > 1 THEN date_format(d, '%Y-%m') = '2025-02' ELSE true END",
    "coalesce(date_format(d, '%Y-%m') = '2025-02', false)",     # under a call
    "(date_format(d, '%Y-%m') = '2025-02') = false",
    "date_format(d, '%Y-%m') NOT IN ('2025-02')",
    "date_format(d, '%Y-%m') = '2025-2'",                       # unparseable literals
    "date_format(d, '%Y-%m') = '2025-13'",
    "date_format(d, '%Y-%m') IN ('2025-02', '2025-2')",          # one unreadable value: nothing at all
    "date_format(d, '%Y-%m') IN (SELECT s FROM t)",
    "date_format(d, '%c/%Y') = '2/2025'",                        # unpadded month
    "date_format(d, '%Y-%m') > '2025-02'",
    "date_format(d, '%Y-%m') = s",
    "date_format(d, '%Y-%m') = concat('2025', '-02')",
    "format_datetime(ts, 'yyyy-M') = '2025-2'",
    "format_datetime(ts, 'yy-MM') = '25-02'",
    "month(d) = 2",                                             # no year
    "year(d) = 2025 AND year(d) = 2024",                         # no single year (and no row)
    "year(d) = 2025.0",
    "year(d) = '2025'",
    "year(d + INTERVAL '1' DAY) = 2025",                         # not a bare column
    "date_format(date_add('day', 1, d), '%Y') = '2025'",
    "date_trunc('month', d) = DATE '2025-02-02'",               # not the start of its unit
    "date_trunc('quarter', d) = DATE '2025-02-01'",
    "date_trunc('week', d) = DATE '2025-02-03'",
    "date_trunc('month', d) = TIMESTAMP '2025-02-01 00:00:00'",
])
def test_no_range_where_none_is_implied(where: str) -> None:
    assert ranges(f"SELECT id FROM t WHERE {where}") == []


def test_varchar_timezone_and_untyped_columns_get_no_range() -> None:
    # A string column: date_format on it fails as in Athena, before any range would matter.
    assert ranges("SELECT id FROM t WHERE date_parse(s, '%Y-%m-%d') IS NOT NULL AND year(s) = 2025") == []
    # timestamp with time zone: its day depends on the zone.
    tz = ("WITH c AS (SELECT CAST(ts AS timestamp with time zone) AS z FROM t) SELECT 1 FROM c "
          "WHERE date_format(z, '%Y-%m') = '2025-02' AND year(z) = 2025")
    assert ranges(tz) == []
    # A VALUES column whose rows differ in type has no evident type (one with dates only is a date);
    # a CTE column that renames a date to a string is a string.
    mixed = "(VALUES (DATE '2025-02-01'), (TIMESTAMP '2025-03-01 10:00:00')) AS v(x)"
    assert ranges(f"SELECT 1 FROM {mixed} WHERE year(x) = 2025") == []
    dates = "(VALUES (DATE '2025-02-01'), (NULL)) AS v(x)"
    assert ranges(f"SELECT 1 FROM {dates} WHERE year(x) = 2025") == [("x", "2025-01-01", "2026-01-01")]
    shadow = ("WITH c AS (SELECT date_format(d, '%Y-%m') AS d FROM t) SELECT 1 FROM c "
              "WHERE substr(d, 1, 4) = '2025' AND d = '2025-02'")
    assert ranges(shadow) == []


def test_ranges_follow_each_select_and_its_aliases() -> None:
    # A CTE column cast to a date is typed; the outer query's range is on the CTE's column.
    cte = "WITH c AS (SELECT CAST(s AS DATE) AS e FROM t) SELECT 1 FROM c WHERE year(e) = 2020"
    assert ranges(cte) == [("e", "2020-01-01", "2021-01-01")]
    # Through a JOIN alias; only the WHERE, not the ON clause.
    join = ("SELECT a.id FROM t a JOIN u b ON a.id = b.k AND year(a.d) = 2023 "
            "WHERE date_format(b.d, '%Y') = '2025'")
    assert ranges(join) == [("b.d", "2025-01-01", "2026-01-01")]
    # Each SELECT's own WHERE: the subquery's range stays inside it.
    sub = ("SELECT id FROM t WHERE n IN (SELECT k FROM u WHERE date_format(d, '%Y-%m') = '2025-03') "
           "AND year(d) = 2024")
    inner = next(s for s in sqlglot.parse_one(translate(sub, _resolve, "db", CATALOG).sql, read="duckdb")
                 .find_all(exp.Select) if s.find(exp.Table).name == "u")
    assert _RANGE.findall(inner.args["where"].sql("duckdb")) == [("d", "2025-03-01", "2025-04-01")]
    assert ranges(sub) == [("d", "2025-03-01", "2025-04-01"), ("d", "2024-01-01", "2025-01-01")]
    # A long IN list: the hull only.
    months = ", ".join(f"'{y}-{m:02d}'" for y in range(2000, 2040) for m in (1, 7))
    assert ranges(f"SELECT id FROM t WHERE date_format(d, '%Y-%m') IN ({months})") == [
        ("d", "2000-01-01", "2039-08-01")]
    # HAVING is not a WHERE.
    assert ranges("SELECT d FROM t GROUP BY d HAVING year(d) = 2025") == []


# --- DuckDB, through a real lake ----------------------------------------------------------------------------

AS_OF = D(2026, 1, 1)  # the sample's dates run from 2025-01-01 to here: twelve months


def _lake(root: Path, config: str = "") -> Lake:
    cfg = root.parent / f"{root.name}.toml"
    cfg.write_text(config)
    return Lake(load_settings({"lake": str(root), "as_of": AS_OF.isoformat()}, env={}, config_file=cfg))


def test_the_named_query_reads_one_month_of_a_monthly_partitioned_lake(tmp_path: Path) -> None:
    """Issue #15: ``top_orders_february_2025`` (``DATE_FORMAT(order_date, '%Y-%m') = :month``) on twelve
    months partitioned by month reads at most a tenth of the bytes of the unpartitioned table, and of the
    same filter hidden from the rewrite, with the same rows."""
    source = tmp_path / "orders.csv"
    write_sample(source, 24_000, AS_OF, seed=7)
    flat = _lake(tmp_path / "flat")
    parts = _lake(tmp_path / "parts", '[datasets.orders]\npartition_by = "order_month"\n')
    for lake in (flat, parts):
        assert lake.ingest([source])[0].run.status == "ok"
    table = parts.catalog.get_table("orders_db", "orders_processed")
    assert table is not None and len(table.partitions) >= 12

    named = parts.named_queries["top_orders_february_2025"]
    pruned = parts.run_named(named, write_result=False)
    whole = flat.run_named(named, write_result=False)
    hidden_sql = named.render(None).replace("WHERE DATE_FORMAT(order_date, '%Y-%m') = '2025-02'",
                                            "WHERE coalesce(DATE_FORMAT(order_date, '%Y-%m') = '2025-02', false)")
    assert "coalesce" in hidden_sql
    hidden = parts.engine.run_query(hidden_sql, write_result=False)
    for r in (pruned, whole, hidden):
        assert r.state == "SUCCEEDED", r.error
    assert len(pruned.rows) == 10
    assert pruned.rows == whole.rows == hidden.rows
    assert all(str(row[2]).startswith("2025-02") for row in pruned.rows)
    scanned = int(pruned.stats["DataScannedInBytes"])
    assert 0 < scanned * 10 <= int(whole.stats["DataScannedInBytes"])
    # The same lake without the range reads every month's file (less than the flat table: the top-10's
    # running threshold on order_amount skips row groups too).
    assert scanned * 3 < int(hidden.stats["DataScannedInBytes"])


# Random dates (NULLs, month and year ends, leap days) and random filters: the rows with the rewrite equal
# the rows of the same filter hidden from it (inside coalesce(..., false), which is TRUE exactly when the
# filter is).

_EDGES = [D(2024, 2, 28), D(2024, 2, 29), D(2024, 3, 1), D(2023, 2, 28), D(2023, 3, 1), D(2000, 2, 29),
          D(2024, 12, 31), D(2025, 1, 1), D(2025, 1, 31), D(2025, 2, 1), D(2025, 3, 31), D(2025, 4, 1),
          D(2025, 6, 30), D(2025, 7, 1), D(2025, 9, 30), D(2025, 10, 1), D(2025, 12, 31), D(2026, 1, 1)]
_dates = st.one_of(st.sampled_from(_EDGES), st.dates(D(1999, 1, 1), D(2031, 12, 31)))
_times = st.sampled_from(["00:00:00", "00:00:00.001", "12:00:00", "23:59:59.999"])
_rows = st.lists(st.tuples(st.one_of(st.none(), _dates), st.one_of(st.none(), st.tuples(_dates, _times))),
                 min_size=1, max_size=12)
_MYSQL = {"%Y": "%Y", "%Y-%m": "%Y-%m", "%Y%m": "%Y%m", "%Y/%m/%d": "%Y/%m/%d", "%Y-%m-%d": "%Y-%m-%d",
          "%d.%m.%Y": "%d.%m.%Y", "%m/%Y": "%m/%Y"}
_JODA = {"yyyy": "%Y", "yyyy-MM": "%Y-%m", "yyyyMMdd": "%Y%m%d", "dd/MM/yyyy": "%d/%m/%Y"}


@st.composite
def _conjunct(draw: st.DrawFn, day: D, col: str) -> tuple[str, bool]:
    """One filter on ``col`` around ``day`` and whether a range must be derived from it."""
    kind = draw(st.sampled_from(["format", "joda", "in", "parts", "trunc", "bad"]))
    if kind in ("format", "joda", "in"):
        fmt, py = draw(st.sampled_from(sorted((_MYSQL if kind != "joda" else _JODA).items())))
        fn = "format_datetime" if kind == "joda" else "date_format"
        if kind == "in":
            others = draw(st.lists(_dates, min_size=0, max_size=2))
            values = ", ".join(f"'{x.strftime(py)}'" for x in [day, *others])
            return f"{fn}({col}, '{fmt}') IN ({values})", True
        call, lit = f"{fn}({col}, '{fmt}')", f"'{day.strftime(py)}'"
        return (f"{call} = {lit}" if draw(st.booleans()) else f"{lit} = {call}"), True
    if kind == "parts":
        n = draw(st.integers(1, 3))
        fields = [f"year({col}) = {day.year}", f"month({col}) = {day.month}", f"day({col}) = {day.day}"][:n]
        return " AND ".join(fields), True
    if kind == "trunc":
        unit = draw(st.sampled_from(["day", "month", "quarter", "year"]))
        start = {"day": day, "month": day.replace(day=1), "year": D(day.year, 1, 1),
                 "quarter": D(day.year, (day.month - 1) // 3 * 3 + 1, 1)}[unit]
        exact = draw(st.booleans())
        x = start if exact else day
        return f"date_trunc('{unit}', {col}) = DATE '{x.isoformat()}'", exact or x == start
    bad = draw(st.sampled_from([f"{day.year}-{day.month:03d}", f"{day.year}-13", f"{day.year}-02-30", f"{day.year}",
                                f"{day.year}-{day.month:02d} "]))
    return f"date_format({col}, '%Y-%m') = '{bad}'", False


@st.composite
def _case(draw: st.DrawFn) -> tuple[list[Any], str, bool]:
    rows = draw(_rows)
    known = [r[0] for r in rows if r[0]] + [r[1][0] for r in rows if r[1]]
    day = draw(st.sampled_from(known)) if known and draw(st.booleans()) else draw(_dates)
    col = draw(st.sampled_from(["d", "ts"]))
    conjunct, derives = draw(_conjunct(day, col))
    shape = draw(st.sampled_from(["alone", "and", "or", "not"]))
    if shape == "and":
        return rows, f"id > {draw(st.integers(-1, 6))} AND ({conjunct})", derives
    if shape == "or":
        return rows, f"({conjunct}) OR id = {draw(st.integers(0, 6))}", False
    if shape == "not":
        return rows, f"NOT ({conjunct})", False
    return rows, conjunct, derives


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    lake = _lake(tmp_path_factory.mktemp("pruning") / "lake")
    yield lake.engine
    lake.engine.close()


def _query(rows: list[Any], where: str) -> str:
    def lit(v: object) -> str:
        return "NULL" if v is None else f"'{v}'"

    values = ", ".join(f"({i}, {lit(d)}, {lit(f'{t[0]} {t[1]}' if t else None)})" for i, (d, t) in enumerate(rows))
    return (f"WITH r AS (SELECT id, CAST(d AS DATE) AS d, CAST(ts AS TIMESTAMP) AS ts FROM (VALUES {values}) "
            f"AS v(id, d, ts)) SELECT id, d, ts FROM r WHERE {where} ORDER BY id")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_case())
def test_random_filters_return_the_rows_they_return_without_the_rewrite(engine: Any, case: tuple[Any, str, bool]) -> None:
    rows, where, derives = case
    sql = _query(rows, where)
    assert bool(_RANGE.findall(translate(sql, _resolve, "db", CATALOG).sql)) == derives, where
    got = engine.run_query(sql, write_result=False)
    expected = engine.run_query(_query(rows, f"coalesce(({where}), false)"), write_result=False)
    assert got.state == expected.state == "SUCCEEDED", (got.error, expected.error)
    assert got.rows == expected.rows, where



def test_translations_cached_before_the_rewrite_are_not_reused() -> None:
    """The translation cache keys on ``code_version()``, a fingerprint of the query modules' files: this
    module's among them, so a translation stored without the ranges is never served after it changes."""
    import os

    from lakebox.query import pruning
    from lakebox.query.translation_cache import code_version as cached

    code_version = cached.__wrapped__  # computed once per process; here, again after the file changes
    path = Path(pruning.__file__)
    before = code_version()
    st_ = path.stat()
    try:
        os.utime(path, ns=(st_.st_atime_ns, st_.st_mtime_ns + 1_000_000_000))
        assert code_version() != before
    finally:
        os.utime(path, ns=(st_.st_atime_ns, st_.st_mtime_ns))
    assert code_version() == before

"""The SQL guard against an attacker (issue 12): a SHOW TABLES pattern that froze the server, CTE scoping that
let a query read DuckDB's settings and any file under processed/, and nesting that crashed the parser."""

from __future__ import annotations

import fnmatch
import time
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from lakebox.cli import main
from lakebox.lake import Lake
from lakebox.query.show import hive_pattern, hive_pattern_matches
from lakebox.query.syntax import MAX_BRACKET_NESTING, MAX_NESTING

pytest_plugins = ["web_fixtures"]

SECRET = "s3cr3t-marker-7f1d"


def _plant_hidden_file(lake: Lake, name: str) -> Path:
    """A Parquet file under processed/ that the catalog does not list (Athena skips _ and . files)."""
    root = lake.store.local_path("processed/")
    assert root is not None
    path = root / name
    con = duckdb.connect()
    con.execute(f"COPY (SELECT '{SECRET}' AS secret) TO '{path}' (FORMAT parquet)")
    con.close()
    return path


def _failed(lake: Lake, sql: str) -> str:
    r = lake.engine.run_query(sql, write_result=False)
    assert r.state == "FAILED", (sql, r.rows[:3])
    assert r.error is not None
    assert SECRET not in repr(r.rows)
    return r.error.error_type


# --- 1. SHOW TABLES patterns ---------------------------------------------------------------------------------


def test_a_pattern_of_thousands_of_stars_answers_at_once(orders_lake: Lake) -> None:
    """'*****************x' compiled to a regex of repeated .* that backtracked for seconds per star added
    (16 stars: 14.5 s) while holding the GIL; 5,000 stars now answer in well under a second."""
    t0 = time.perf_counter()
    assert orders_lake.engine.run_query("SHOW TABLES '" + "*" * 5000 + "x'").rows == []
    assert orders_lake.engine.run_query("SHOW TABLES '" + "*" * 5000 + "d'").rows == [["orders_processed"]]
    assert time.perf_counter() - t0 < 2.0
    names = [f"table_{i:04d}_{'ab' * 20}" for i in range(2000)]
    t0 = time.perf_counter()
    matches = hive_pattern("*a*" * 2500 + "*x|t" + "*" * 4000 + "b")
    hits = [n for n in names if matches(n)]
    assert time.perf_counter() - t0 < 2.0
    assert hits == names


@pytest.mark.parametrize("pattern,name,expected", [
    ("orders_*", "orders_processed", True), ("ORDERS_*", "orders_processed", True),
    ("x|orders_*", "orders_processed", True), ("orders", "orders_processed", False),
    ("*processed", "orders_processed", True), ("*process", "orders_processed", False),
    ("o*o*d", "orders_processed", True), ("a*a", "a", False), ("a*a", "aa", True),
    ("orders.processed", "orders_processed", False), ("(", "(", True), ("[a]", "a", False),
    ("o?ders*", "orders_processed", False), ("**", "", True), ("", "x", False),
])
def test_hive_pattern_semantics(pattern: str, name: str, expected: bool) -> None:
    assert hive_pattern_matches(pattern, name) is expected


def _reference(pattern: str, name: str) -> bool:
    """fnmatch with every special character but * escaped: Hive's semantics, by another route."""
    def one(alt: str) -> bool:
        escaped = "".join("*" if ch == "*" else f"[{ch}]" for ch in alt.lower())
        return fnmatch.fnmatchcase(name.lower(), escaped)
    return any(one(alt) for alt in pattern.split("|"))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(pattern=st.text(alphabet="ab*|.?[", max_size=10), name=st.text(alphabet="abAB.?[", max_size=8))
def test_hive_pattern_matches_agrees_with_a_reference(pattern: str, name: str) -> None:
    assert hive_pattern_matches(pattern, name) == _reference(pattern, name)


# --- 2. names resolve to the catalog's tables, or fail ---------------------------------------------------------


def test_a_cte_cannot_shadow_its_way_to_duckdbs_catalog(orders_lake: Lake) -> None:
    """A CTE's name is not visible in its own body on Trino; the guard thought it was, left the inner name
    alone, and DuckDB read its own pg_settings there."""
    for name in ["pg_settings", "duckdb_settings", "duckdb_tables", "sqlite_master", "pg_tables"]:
        assert _failed(orders_lake, f"WITH {name} AS (SELECT * FROM {name}) SELECT * FROM {name}") \
            == "TABLE_NOT_FOUND"


def test_a_cte_cannot_reach_a_file_by_its_path(orders_lake: Lake) -> None:
    hidden = _plant_hidden_file(orders_lake, "_hidden.parquet")
    dotted = _plant_hidden_file(orders_lake, ".dotted.parquet")
    for path in [hidden, dotted, hidden.parent / "*.parquet"]:
        sql = f'WITH "{path}" AS (SELECT * FROM "{path}") SELECT * FROM "{path}"'
        assert _failed(orders_lake, sql) == "TABLE_NOT_FOUND"
        assert _failed(orders_lake, f'SELECT * FROM "{path}"') == "TABLE_NOT_FOUND"


def test_a_later_sibling_cte_is_not_visible_to_an_earlier_one(orders_lake: Lake) -> None:
    sql = "WITH a AS (SELECT * FROM b), b AS (SELECT 1 AS x) SELECT * FROM a"
    assert _failed(orders_lake, sql) == "TABLE_NOT_FOUND"
    sql = "WITH a AS (SELECT * FROM pg_settings), pg_settings AS (SELECT 1 AS x) SELECT * FROM a"
    assert _failed(orders_lake, sql) == "TABLE_NOT_FOUND"


def test_duckdbs_own_catalogs_are_never_reachable(orders_lake: Lake) -> None:
    for sql in ["SELECT * FROM pg_catalog.pg_settings", "SELECT * FROM main.pg_settings",
                "SELECT * FROM system.main.duckdb_settings", "SELECT * FROM temp.main.sqlite_master",
                "SELECT * FROM memory.main.pg_settings", "SELECT * FROM lakebox_views.orders_db.orders_processed",
                'SELECT * FROM "__lakebox_cte_0"', "SELECT * FROM duckdb_settings()"]:
        assert _failed(orders_lake, sql) in ("TABLE_NOT_FOUND", "CATALOG_NOT_FOUND", "FUNCTION_NOT_FOUND",
                                             "SCHEMA_NOT_FOUND"), sql


def test_information_schema_answers_from_the_catalog(orders_lake: Lake) -> None:
    r = orders_lake.engine.run_query("SELECT table_schema, table_name FROM information_schema.tables")
    assert r.rows == [["orders_db", "orders_processed"]]
    sql = "WITH tables AS (SELECT * FROM information_schema.tables) SELECT table_name FROM tables"
    assert orders_lake.engine.run_query(sql).rows == [["orders_processed"]]


@pytest.mark.parametrize("sql,rows", [
    # the main query sees every CTE; each CTE the earlier ones
    ("WITH a AS (SELECT 1 AS x), b AS (SELECT x + 1 AS y FROM a) SELECT y FROM b", [[2]]),
    # a CTE named after a catalog table reads the table inside its own body (Trino's scoping)
    ("WITH orders_processed AS (SELECT count(*) AS n FROM orders_processed) SELECT n FROM orders_processed",
     [[130]]),
    # an inner WITH shadows an outer one, and only inside its own query
    ("WITH a AS (SELECT 1 AS x) SELECT (WITH a AS (SELECT 2 AS x) SELECT x FROM a), (SELECT x FROM a)", [[2, 1]]),
    # a nested WITH inside a CTE sees the enclosing WITH's earlier queries
    ("WITH a AS (SELECT 5 AS x), b AS (WITH c AS (SELECT x FROM a) SELECT x FROM c) SELECT x FROM b", [[5]]),
    # the written name stays usable as a qualifier; column aliases and TABLESAMPLE are kept
    ("WITH a AS (SELECT 1 AS x) SELECT a.x FROM a", [[1]]),
    ("SELECT count(*) FROM orders_processed AS o TABLESAMPLE BERNOULLI (0)", [[0]]),
    ("WITH a AS (SELECT 1 AS x) SELECT * FROM a UNION ALL SELECT * FROM a", [[1], [1]]),
])
def test_ctes_keep_trinos_meaning(orders_lake: Lake, sql: str, rows: list[list[object]]) -> None:
    r = orders_lake.engine.run_query(sql, write_result=False)
    assert r.state == "SUCCEEDED", r.error
    assert r.rows == rows


def test_a_cte_named_twice_is_refused(orders_lake: Lake) -> None:
    assert _failed(orders_lake, "WITH a AS (SELECT 1), a AS (SELECT 2) SELECT * FROM a") == "DUPLICATE_NAMED_QUERY"


# --- 3. deep nesting -------------------------------------------------------------------------------------------

DEEP = "SELECT " + "(" * 3000 + "1" + ")" * 3000


def test_deep_nesting_is_refused_by_the_engine(orders_lake: Lake) -> None:
    r = orders_lake.engine.run_query(DEEP, write_result=False)
    assert r.state == "FAILED" and r.error is not None
    assert r.error.error_type == "SYNTAX_ERROR"
    assert f"more than {MAX_NESTING} levels" in r.error.message and r.error.message.startswith("line 1:")
    ok = "SELECT " + "(" * MAX_NESTING + "1" + ")" * MAX_NESTING
    assert orders_lake.engine.run_query(ok, write_result=False).rows == [[1]]
    for sql in ["SELECT " + "abs(" * MAX_NESTING + "-1" + ")" * MAX_NESTING,
                "SELECT " + "CASE WHEN true THEN " * MAX_NESTING + "1" + " END" * MAX_NESTING]:
        assert orders_lake.engine.run_query(sql, write_result=False).rows == [[1]], sql


@pytest.mark.parametrize("sql", [
    "SELECT " + "CASE WHEN true THEN " * 3000 + "1" + " END" * 3000,
    "SELECT " + "ARRAY[" * 3000 + "1" + "]" * 3000,
    "SELECT * FROM " + "(SELECT * FROM " * 1000 + "orders_processed" + ")" * 1000,
    "SELECT 1" + " + 1" * 20000,  # no parentheses: Python's recursion limit is the backstop
    "SELECT " + "NOT " * 5000 + "true",
])
def test_other_deep_shapes_fail_cleanly(orders_lake: Lake, sql: str) -> None:
    r = orders_lake.engine.run_query(sql, write_result=False)
    assert r.state == "FAILED" and r.error is not None and r.error.error_type == "SYNTAX_ERROR", r.error


def test_nested_arrays_cannot_stall_the_parser(orders_lake: Lake) -> None:
    """sqlglot's parser doubles its work for each nested ARRAY[...] (14 levels: 15 s holding the GIL)."""
    deep = "SELECT " + "map(ARRAY[1], ARRAY[" * 20 + "1" + "])" * 20
    t0 = time.perf_counter()
    r = orders_lake.engine.run_query(deep, write_result=False)
    assert time.perf_counter() - t0 < 2.0
    assert r.state == "FAILED" and r.error is not None and r.error.error_type == "SYNTAX_ERROR"
    assert f"more than {MAX_BRACKET_NESTING} levels of brackets" in r.error.message
    ok = "SELECT cardinality(" + "ARRAY[" * MAX_BRACKET_NESTING + "1" + "]" * MAX_BRACKET_NESTING + ")"
    assert orders_lake.engine.run_query(ok, write_result=False).rows == [[1]]


def test_deep_nesting_from_the_cli(orders_lake: Lake) -> None:
    res = CliRunner().invoke(main, ["--lake", orders_lake.settings.lake, "--as-of", "2025-05-01", "query", DEEP])
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output and not isinstance(res.exception, RecursionError)
    assert "SYNTAX_ERROR" in res.output and f"more than {MAX_NESTING} levels" in res.output


def test_deep_nesting_from_the_api(client: FlaskClient, csrf: dict[str, str]) -> None:
    resp = client.post("/api/sql", json={"sql": DEEP}, headers=csrf)
    assert resp.status_code == 400, resp.data[:300]
    body = resp.get_json()
    assert body["error"]["type"] == "SYNTAX_ERROR" and f"more than {MAX_NESTING} levels" in body["error"]["message"]
    assert b"Traceback" not in resp.data

"""The embedded "Athena": results, artefacts, history, limits and the locked-down DuckDB."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lakebox.config import Settings
from lakebox.lake import Lake
from lakebox.query import dialect as dialect_module
from lakebox.query.base import query_history
from lakebox.query.statement import Translation


def test_result_file_and_metadata(orders_lake: Lake) -> None:
    r = orders_lake.engine.run_query(
        "SELECT customer_id AS \"Customer\", sum(order_amount) AS TotalSales, NULL AS n, 'a\"b' AS q "
        "FROM orders_processed WHERE customer_id = 'Bob' GROUP BY customer_id")
    body = orders_lake.store.get_object(f"enriched/{r.execution_id}.csv").decode()
    assert body == '"Customer","TotalSales","n","q"\n"Bob","10328.04",,"a""b"\n'
    meta = orders_lake.engine.get_query_execution(r.execution_id)
    assert meta["Status"]["State"] == "SUCCEEDED"
    assert meta["QueryExecutionContext"]["Database"] == "orders_db"
    assert meta["Statistics"]["DataScannedInBytes"] > 0
    assert [c["Type"] for c in meta["ResultSetMetadata"]["ColumnInfo"]] == ["varchar", "decimal(38,2)", "unknown",
                                                                           "varchar"] or meta


def test_failed_query_is_recorded_in_history(orders_lake: Lake) -> None:
    r = orders_lake.engine.run_query("SELECT nope FROM orders_processed")
    assert r.state == "FAILED" and r.error.error_type == "COLUMN_NOT_FOUND"
    hist = list(query_history(orders_lake.engine, 5))
    assert hist[0]["QueryExecutionId"] == r.execution_id
    assert hist[0]["Status"]["AthenaError"]["ErrorType"] == "COLUMN_NOT_FOUND"


def test_row_cap_marks_truncation(orders_lake: Lake) -> None:
    r = orders_lake.engine.run_query("SELECT * FROM orders_processed", max_rows=7)
    assert r.row_count == 7 and r.truncated


def test_time_limit_cancels(orders_lake: Lake) -> None:
    # 130^5 = 37 billion rows: far beyond 0.3 s on any machine.
    r = orders_lake.engine.run_query(
        "SELECT sum(length(a.order_id || b.order_id || c.order_id || d.order_id || e.order_id)) "
        "FROM orders_processed a CROSS JOIN orders_processed b CROSS JOIN orders_processed c "
        "CROSS JOIN orders_processed d CROSS JOIN orders_processed e", timeout=0.3)
    assert r.state == "FAILED" and r.error.error_type == "QUERY_TIMEOUT"


@pytest.mark.parametrize("sql", [
    "SHOW TABLES", "SHOW TABLES IN orders_db", "DESCRIBE orders_processed", "SHOW COLUMNS IN orders_processed",
    "EXPLAIN SELECT count(*) FROM orders_processed",
])
def test_show_describe_explain(orders_lake: Lake, sql: str) -> None:
    r = orders_lake.engine.run_query(sql)
    assert r.state == "SUCCEEDED", r.error
    assert r.row_count > 0


def test_show_answers(orders_lake: Lake) -> None:
    assert orders_lake.engine.run_query("SHOW TABLES").rows == [["orders_processed"]]
    d = orders_lake.engine.run_query("DESCRIBE orders_db.orders_processed").rows
    assert d[2][:2] == ["order_amount", "decimal(12,2)"]


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'", "COPY (SELECT 1) TO '/tmp/x.csv'", "ATTACH '/tmp/x.db' AS x",
    "INSTALL httpfs", "LOAD httpfs", "SET threads = 1", "PRAGMA version", "SELECT 1; SELECT 2",
    "CREATE TABLE t AS SELECT 1", "SELECT * FROM glob('/etc/*')",
    # DuckDB spellings that reach table functions or run SQL strings without a plain FROM f(...)
    "SELECT * FROM LATERAL read_text('/etc/passwd')", "SELECT * FROM LATERAL query('SELECT 42')",
    "SELECT * FROM orders_processed, LATERAL read_csv('/etc/passwd')", "SELECT * FROM LATERAL duckdb_settings()",
    "WITH q AS (SELECT * FROM LATERAL read_blob('/etc/passwd')) SELECT * FROM q", "SELECT query('SELECT 1')",
    "SELECT getenv('HOME')", "FROM orders_processed SELECT *", "SUMMARIZE orders_processed",
    "PIVOT orders_processed ON order_status USING count(*)", "/* hi */ COPY (SELECT 1) TO '/tmp/x.csv'",
    "-- hi\nATTACH '/tmp/x.db'", "EXPORT DATABASE '/tmp/x'", "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM pragma_table_info('orders_processed')",
])
def test_external_access_and_writes_are_refused(orders_lake: Lake, sql: str) -> None:
    r = orders_lake.engine.run_query(sql)
    assert r.state == "FAILED", sql
    assert r.error is not None and r.error.message
    assert "Traceback" not in json.dumps(r.to_json(), default=str)


def _without_the_read_only_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Send SQL to DuckDB as written, as if it had got past ``query.dialect``'s guard."""
    monkeypatch.setattr(dialect_module, "translate",
                        lambda sql, *_a, **_k: Translation(kind="explain", sql=sql, source=sql))


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_text('/etc/passwd')", "SELECT * FROM read_csv('/etc/hostname')",
    "COPY (SELECT 1) TO '{out}/wall.csv'", "ATTACH '{out}/wall.db' AS x",
])
def test_external_access_is_off_behind_the_guard(orders_lake: Lake, monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path, sql: str) -> None:
    """The second wall: with the guard bypassed, DuckDB itself refuses files outside the lake's tables."""
    out = tmp_path / "outside"
    out.mkdir()
    orders_lake.engine.run_query("SELECT 1")  # the connection exists before the guard goes
    _without_the_read_only_guard(monkeypatch)
    r = orders_lake.engine.run_query(sql.format(out=out))
    assert r.state == "FAILED" and r.error is not None
    assert r.error.error_type == "PERMISSION_DENIED", r.error
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("sql", [
    "SET memory_limit = '64GB'", "SET lock_configuration = false", "SET temp_directory = '/tmp'",
    "SET threads = 64", "SET allowed_directories = ['/']",
])
def test_the_configuration_is_locked_behind_the_guard(orders_lake: Lake, monkeypatch: pytest.MonkeyPatch,
                                                      sql: str) -> None:
    """The second wall: with the guard bypassed, no setting can be changed (the limits and the folders
    stay as the engine set them)."""
    orders_lake.engine.run_query("SELECT 1")
    _without_the_read_only_guard(monkeypatch)
    r = orders_lake.engine.run_query(sql)
    assert r.state == "FAILED" and r.error is not None, f"{sql} was accepted"
    assert r.error.error_type == "PERMISSION_DENIED", r.error


def test_query_over_262144_bytes_is_refused(orders_lake: Lake) -> None:
    r = orders_lake.engine.run_query("SELECT 1 -- " + "x" * 262_144)
    assert r.state == "FAILED" and "262144" in r.error.message


@pytest.mark.parametrize("sql", [
    "SELECT customer_id, order_amount, order_date, order_amount > 400 AS big, NULL AS n, 'x\"y' AS q, "
    "CAST(order_amount AS DOUBLE) / 3 AS d, CAST(order_date AS TIMESTAMP) AS ts FROM orders_processed",
    "SELECT 1e7 AS big_double, 0.0001 AS small_double, ARRAY[1, 2] AS arr",
])
def test_duckdb_written_csv_equals_the_python_renderer(orders_lake: Lake, sql: str) -> None:
    from lakebox.query.results import athena_csv

    r = orders_lake.engine.run_query(sql)
    assert r.state == "SUCCEEDED", r.error
    body = orders_lake.store.get_object(f"enriched/{r.execution_id}.csv").decode()
    expected = "".join(athena_csv([c["name"] for c in r.columns], [c["type"] for c in r.columns], r.rows))
    assert body == expected


def test_a_capped_query_stores_the_capped_rows(orders_lake: Lake) -> None:
    r = orders_lake.engine.run_query("SELECT order_id FROM orders_processed ORDER BY order_id", max_rows=3)
    body = orders_lake.store.get_object(f"enriched/{r.execution_id}.csv").decode()
    assert r.row_count == 3 and r.truncated
    assert body.splitlines() == ['"order_id"', '"O0001"', '"O0002"', '"O0003"']
    assert orders_lake.engine.get_query_execution(r.execution_id)["Truncated"] is True


def test_show_tables_pattern_is_not_a_regex(orders_lake: Lake) -> None:
    assert orders_lake.engine.run_query("SHOW TABLES '('").rows == []
    assert orders_lake.engine.run_query("SHOW TABLES 'orders_*|x'").rows == [["orders_processed"]]


def test_spills_go_under_the_lake_and_nowhere_else(make_settings: Callable[..., Settings], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    lake = Lake(make_settings(memory_limit="16MB", threads=1))
    spill = Path(lake.settings.lake) / "_lakebox" / "tmp" / "query"
    # 600,000 distinct (integer, 30-character string) groups need far more than 16 MB: the hash table spills.
    r = lake.engine.run_query("SELECT count(*) FROM (SELECT DISTINCT x, CAST(x AS varchar) || "
                              "'abcdefghijabcdefghij' AS s FROM (SELECT i * 1000 + j AS x FROM "
                              "UNNEST(sequence(1, 600)) AS a(i) CROSS JOIN UNNEST(sequence(1, 1000)) AS b(j)))",
                              write_result=False)
    assert r.state == "SUCCEEDED", r.error
    assert r.rows == [[600000]]
    # DuckDB creates its temporary directory on the first spill only, and leaves its files' owner mark there.
    assert spill.is_dir() and any(spill.iterdir()), "the query did not spill (or spilled elsewhere)"
    assert list(cwd.iterdir()) == []  # DuckDB's default, ./.tmp, stays unused
    lake.engine.close()


def test_a_query_within_memory_does_not_spill(orders_lake: Lake) -> None:
    r = orders_lake.engine.run_query("SELECT count(*) FROM orders_processed")
    assert r.state == "SUCCEEDED"
    assert not (Path(orders_lake.settings.lake) / "_lakebox" / "tmp" / "query").exists()


def test_a_cte_name_does_not_leak_out_of_its_scope(orders_lake: Lake) -> None:
    """A CTE inside a subquery must not make its name resolvable in the outer FROM, where DuckDB would read
    it as a file path or a system view."""
    root = orders_lake.store.local_path("processed/")
    for sql in [
        f'SELECT (WITH "{root}/*.parquet" AS (SELECT 1) SELECT 1) x, count(*) FROM "{root}/*.parquet"',
        "SELECT (WITH duckdb_views AS (SELECT 1) SELECT 1) x, * FROM duckdb_views",
    ]:
        r = orders_lake.engine.run_query(sql)
        assert r.state == "FAILED" and r.error.error_type == "TABLE_NOT_FOUND", sql
    ok = orders_lake.engine.run_query(
        "WITH a AS (SELECT 1 AS v) SELECT (SELECT max(v) FROM a) m, * FROM (WITH b AS (SELECT 2 w) SELECT * FROM b) t")
    assert ok.rows == [[1, 2]]


def test_show_and_describe_after_a_comment(orders_lake: Lake) -> None:
    assert orders_lake.engine.run_query("-- tables\nSHOW TABLES").rows == [["orders_processed"]]
    assert orders_lake.engine.run_query("/* c */ DESCRIBE orders_processed").row_count == 5


def test_a_one_query_engine_still_profiles_after_table_less_statements(orders_lake: Lake) -> None:
    """A command's engine makes one profiled cursor (each costs DuckDB a first statement); statements that
    read no table run on pooled plain cursors, so the profiled one stays free and bytes scanned stay exact."""
    sql = "SELECT order_status FROM orders_processed"
    server = orders_lake.engine.run_query(sql, write_result=False).stats["DataScannedInBytes"]
    files = sum(t.size_bytes for t in orders_lake.catalog.get_tables())
    assert 0 < server < files  # the profiler's count (one column), not the files' size
    command = Lake(orders_lake.settings, create=False, concurrency=1).engine
    for _ in range(3):
        assert command.run_query("SELECT 1", write_result=False).state == "SUCCEEDED"
        assert command.run_query(sql, write_result=False).stats["DataScannedInBytes"] == server

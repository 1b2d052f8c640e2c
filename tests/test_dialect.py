"""Athena SQL in, DuckDB SQL out (``lakebox.query.dialect.translate``): the read-only guard, the size and
statement checks, and table name resolution through the catalog. Pure: a dict stands in for the catalog."""

from __future__ import annotations

import pytest

from lakebox.query.dialect import strip_statement, translate
from lakebox.query.errors import AthenaError
from lakebox.query.statement import MAX_QUERY_BYTES

TABLES = {("sales", "orders"), ("sales", "items"), ("other", "events")}


def resolve(db: str | None, table: str) -> tuple[str, str] | None:
    """The catalog's lookup: case-insensitive, (database, table) or None."""
    key = ((db or "").lower(), table.lower())
    return key if key in TABLES else None


def fails(sql: str, default_db: str = "sales") -> AthenaError:
    with pytest.raises(AthenaError) as info:
        translate(sql, resolve, default_db)
    return info.value


# --- the read-only guard ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("sql", [
    "INSERT INTO orders VALUES (1)",
    "insert into sales.orders select * from sales.items",
    "COPY orders TO '/tmp/out.csv'",
    "ATTACH '/tmp/other.db' AS o",
    "SET threads = 1",
    "set memory_limit='1GB'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "PRAGMA version",
    "DELETE FROM orders",
    "UPDATE orders SET x = 1",
    "CREATE TABLE t AS SELECT 1",
    "DROP TABLE orders",
    "ALTER TABLE orders ADD COLUMN x INT",
    "USE other",
    "CALL some_procedure()",
    "  \n  copy orders to 'x'",
])
def test_writes_and_configuration_are_refused(sql: str) -> None:
    err = fails(sql)
    assert err.error_type == "NOT_SUPPORTED"
    assert "not allowed" in err.message
    assert sql.split()[0].upper() in err.message


def test_explain_of_a_write_is_refused() -> None:
    assert fails("EXPLAIN INSERT INTO orders VALUES (1)").error_type == "NOT_SUPPORTED"


@pytest.mark.parametrize("sql", [
    "SELECT 1; SELECT 2",
    "SELECT * FROM orders; DROP TABLE orders",
])
def test_several_statements_are_refused(sql: str) -> None:
    err = fails(sql)
    assert err.error_type == "SYNTAX_ERROR"
    assert "one SQL statement" in err.message


@pytest.mark.parametrize("sql", ["SELECT 1;", "SELECT 1 ;;; ", "  SELECT 1\n;\n"])
def test_trailing_semicolons_are_fine(sql: str) -> None:
    t = translate(sql, resolve, "sales")
    assert t.kind == "select"
    assert t.sql == "SELECT 1"
    # The source keeps leading whitespace: error positions count lines and columns in the statement as sent.
    assert t.source == sql[:len(sql) - len(sql.lstrip())] + "SELECT 1"


@pytest.mark.parametrize("sql", ["", "   ", ";", " ; ; "])
def test_empty_query_is_a_syntax_error(sql: str) -> None:
    err = fails(sql)
    assert err.error_type == "SYNTAX_ERROR"
    assert "empty query" in err.message


def test_oversized_query_is_refused() -> None:
    sql = "SELECT 1" + " " * (MAX_QUERY_BYTES - len("SELECT 1") + 1)
    assert len(sql.encode()) == MAX_QUERY_BYTES + 1
    err = fails(sql)
    assert err.error_type == "INVALID_INPUT"
    assert str(MAX_QUERY_BYTES) in err.message


def test_query_at_the_limit_is_accepted_and_bytes_count_not_characters() -> None:
    at_limit = "SELECT 1" + " " * (MAX_QUERY_BYTES - len("SELECT 1"))
    assert translate(at_limit, resolve, "sales").kind == "select"
    # 'é' is two bytes in UTF-8: fewer characters than the limit, more bytes.
    text = "SELECT '" + "é" * (MAX_QUERY_BYTES // 2) + "'"
    assert len(text) < MAX_QUERY_BYTES
    with pytest.raises(AthenaError) as info:
        strip_statement(text)
    assert info.value.error_type == "INVALID_INPUT"


# --- table resolution ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sql", [
    "SELECT * FROM orders",
    "SELECT * FROM ORDERS",
    'SELECT * FROM "Orders"',
    "SELECT * FROM sales.orders",
    "SELECT * FROM Sales.Orders",
    'SELECT * FROM "sales"."orders"',
    'SELECT * FROM "AwsDataCatalog"."sales"."orders"',
    "SELECT * FROM awsdatacatalog.sales.orders",
    "SELECT * FROM AWSDATACATALOG.SALES.ORDERS",
])
def test_table_reference_forms_resolve_to_the_catalog_table(sql: str) -> None:
    t = translate(sql, resolve, "sales")
    assert t.kind == "select"
    assert t.tables == [("sales", "orders")]
    assert 'FROM "lakebox_views"."sales"."orders" AS ' in t.sql


def test_the_default_database_applies_to_bare_names_only() -> None:
    assert translate("SELECT * FROM events", resolve, "other").tables == [("other", "events")]
    assert translate("SELECT * FROM sales.orders", resolve, "other").tables == [("sales", "orders")]
    err = fails("SELECT * FROM events", default_db="sales")
    assert err.error_type == "TABLE_NOT_FOUND"


def test_the_written_name_stays_usable_as_a_qualifier() -> None:
    t = translate("SELECT orders.id FROM sales.orders WHERE orders.id > 1", resolve, "sales")
    assert 'FROM "lakebox_views"."sales"."orders" AS "orders"' in t.sql
    t = translate("SELECT o.id FROM orders AS o JOIN items i ON o.id = i.order_id", resolve, "sales")
    assert '"lakebox_views"."sales"."orders" AS o' in t.sql and '"lakebox_views"."sales"."items" AS i' in t.sql
    assert t.tables == [("sales", "orders"), ("sales", "items")]


def test_unknown_table_names_the_fully_qualified_table_and_position() -> None:
    err = fails("SELECT *\nFROM missing")
    assert err.error_type == "TABLE_NOT_FOUND"
    assert "awsdatacatalog.sales.missing" in err.message
    assert (err.line, err.column) == (2, 6)


def test_other_catalogs_do_not_exist() -> None:
    err = fails("SELECT * FROM hive.sales.orders")
    assert err.error_type == "CATALOG_NOT_FOUND"


def test_cte_names_are_not_resolved() -> None:
    t = translate("WITH orders AS (SELECT 1 AS x) SELECT * FROM orders", resolve, "sales")
    assert t.tables == []
    assert '"sales"' not in t.sql
    t = translate("with Recent as (select * from orders) select * from recent join items on true", resolve, "sales")
    assert sorted(t.tables) == [("sales", "items"), ("sales", "orders")]
    # A CTE name that is not a catalog table is fine; a qualified name always goes to the catalog.
    translate("WITH x AS (SELECT 1 AS a) SELECT * FROM x", resolve, "sales")
    assert fails("WITH x AS (SELECT 1 AS a) SELECT * FROM sales.x").error_type == "TABLE_NOT_FOUND"


def test_unnest_in_from_is_not_a_table() -> None:
    t = translate("SELECT * FROM orders CROSS JOIN UNNEST(ARRAY[1, 2]) AS u(x)", resolve, "sales")
    assert t.tables == [("sales", "orders")]


# --- table functions (DuckDB's readers must not be reachable) -----------------------------------------------------


@pytest.mark.parametrize(("sql", "name"), [
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    ("SELECT * FROM READ_CSV('x.csv')", "read_csv"),
    ("SELECT * FROM read_parquet('x.parquet')", "read_parquet"),
    ("SELECT * FROM read_csv_auto('x.csv')", "read_csv_auto"),
    ("SELECT * FROM read_json('x.json')", "read_json"),
    ("SELECT * FROM parquet_scan('x.parquet')", "parquet_scan"),
    ("SELECT * FROM duckdb_settings()", "duckdb_settings"),
    ("SELECT * FROM range(3)", "range"),
    ("SELECT * FROM orders JOIN read_csv('x.csv') AS r ON true", "read_csv"),
])
def test_table_functions_are_refused(sql: str, name: str) -> None:
    err = fails(sql)
    assert err.error_type == "FUNCTION_NOT_FOUND"
    assert err.message == f"Table function '{name}' is not registered"


@pytest.mark.parametrize("sql", ["SELECT * FROM glob('*')", "SELECT * FROM glob('*', 'x')"])
def test_glob_is_refused(sql: str) -> None:
    err = fails(sql)
    assert err.error_type == "FUNCTION_NOT_FOUND"
    assert "'glob'" in err.message


def test_file_paths_are_only_table_names() -> None:
    for sql in ("SELECT * FROM 'x.csv'", 'SELECT * FROM "/tmp/x.parquet"'):
        assert fails(sql).error_type == "TABLE_NOT_FOUND"


# --- what comes out ---------------------------------------------------------------------------------------------------


def test_output_names_keep_their_spelling() -> None:
    t = translate("SELECT id AS OrderId, Amount, count(*) FROM orders GROUP BY 1, 2", resolve, "sales")
    assert t.output_names == ["OrderId", "Amount", "_col2"]
    assert translate("SELECT * FROM orders", resolve, "sales").output_names == []


def test_show_describe_and_explain() -> None:
    assert translate("SHOW TABLES;", resolve, "sales").kind == "show"
    assert translate("DESCRIBE orders", resolve, "sales").kind == "describe"
    t = translate("EXPLAIN SELECT * FROM orders", resolve, "sales")
    assert t.kind == "explain"
    assert t.sql.startswith('EXPLAIN SELECT * FROM "lakebox_views"."sales"."orders"')
    assert t.tables == [("sales", "orders")]


@pytest.mark.parametrize(("sql", "bound"), [
    ("SELECT 1", 1), ("SELECT count(*) AS n FROM t", 1), ("SELECT a FROM t LIMIT 5", 5),
    ("SELECT a FROM t FETCH FIRST 3 ROWS ONLY", 3), ("SELECT count(*) FROM t HAVING count(*) > 1", 1),
    ("SELECT a FROM t GROUP BY a", None), ("SELECT sum(a) OVER () FROM t", None), ("SELECT 1 FROM t", None),
    ("SELECT a FROM t UNION ALL SELECT a FROM t", None), ("VALUES 1, 2, 3", None),
    ("SELECT count(*) + 1 FROM t", None),
])
def test_row_bound_is_what_the_top_level_promises(sql: str, bound: int | None) -> None:
    """The engine skips its temp table for a result of known small size; a bound must never be too low."""
    tr = translate(sql, lambda db, name: ("db", name), "db", {("db", "t"): [("a", "bigint")]})
    assert tr.row_bound == bound


# --- macros only where DuckDB's own function differs --------------------------------------------------------------


def test_an_aggregate_of_a_decimal_or_double_needs_no_macro() -> None:
    """sum/floor/ceil of decimals and doubles are DuckDB's own (its overloaded macro would pick them anyway);
    integers still get Trino's types (sum of integers is a bigint, not DuckDB's hugeint)."""
    import duckdb

    columns = {("sales", "orders"): [("amount", "decimal(12,2)"), ("qty", "integer"), ("ratio", "double")]}
    con = duckdb.connect()
    con.execute("CREATE MACRO __trino_sum__int(x) AS CAST(sum(x) AS BIGINT)")
    con.execute("CREATE TABLE t AS SELECT 1.25::DECIMAL(12,2) amount, 2 qty, 0.5::DOUBLE ratio")
    expected = {"SELECT SUM(amount), SUM(ratio), SUM(qty) FROM orders": ["DECIMAL(38,2)", "DOUBLE", "BIGINT"],
                "SELECT floor(amount), ceil(ratio) FROM orders": ["DECIMAL(12,0)", "DOUBLE"]}
    for trino, types in expected.items():
        sql = translate(trino, resolve, "sales", columns).sql
        assert not any(m in sql.upper() for m in ("__TRINO_SUM(", "__TRINO_FLOOR(", "__TRINO_CEIL("))
        body = sql.replace('"lakebox_views"."sales"."orders"', "t")
        assert [str(d[1]) for d in con.execute(body).description] == types
    assert "__TRINO_SUM__INT(" in translate("SELECT SUM(qty) FROM orders", resolve, "sales", columns).sql.upper()

"""Fuzzing the SQL guard (issue 12): generated statements name DuckDB's own catalogs (pg_settings,
duckdb_settings(), information_schema, pg_catalog, main, temp, system), files by their paths (hidden ones
under processed/ and ones outside the lake), table functions, and shadow those names with CTEs, nested WITHs,
subqueries, joins, LATERAL and UNNEST.

The property: a statement either fails or reads the lake's catalogued tables only. The marker that would
show a leak is in every place there is to leak from: the lake's folder name (so DuckDB's settings, its view
definitions and any file name carry it) and the contents of files the catalog does not list."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lakebox.config import load_settings
from lakebox.lake import Lake

SECRET = "zq9marker"
#: Values only DuckDB's own catalogs hold (setting names, its database names).
DUCKDB_ONLY = {"access_mode", "enable_external_access", "lock_configuration", "allowed_directories", "memory",
               "system", "temp", "lakebox_views", "pg_catalog"}
ORDERS_CSV = Path(__file__).resolve().parents[1] / "data" / "orders.csv"


@pytest.fixture(scope="module")
def fuzz_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lake, dict[str, str]]]:
    base = tmp_path_factory.mktemp("fuzz")
    lake_dir = base / f"lake-{SECRET}"
    lake = Lake(load_settings({"lake": str(lake_dir), "as_of": "2025-05-01"}, env={}))
    src = base / "orders.csv"
    shutil.copyfile(ORDERS_CSV, src)
    assert lake.ingest([src])[0].run.status == "ok"
    processed = lake_dir / "processed"
    outside = base / f"outside-{SECRET}"
    outside.mkdir()
    (processed / "_sub").mkdir()
    files = {
        "hidden": processed / f"_{SECRET}.parquet", "dotted": processed / f".{SECRET}.parquet",
        "nested": processed / "_sub" / "x.parquet", "outside": outside / "secret.parquet",
    }
    con = duckdb.connect()
    for path in files.values():
        con.execute(f"COPY (SELECT '{SECRET}' AS secret, 1 AS n) TO '{path}' (FORMAT parquet)")
    con.close()
    (outside / "secret.csv").write_text(f"secret\n{SECRET}\n")
    paths = {k: str(v) for k, v in files.items()}
    paths["csv"] = str(outside / "secret.csv")
    paths["glob"] = str(processed / "*.parquet")
    paths["all"] = str(processed / "**" / "*")
    paths["relative"] = f"processed/_{SECRET}.parquet"
    # The catalogued table answers, so a leak is told apart from a guard that refuses everything.
    assert lake.engine.run_query("SELECT count(*) FROM orders_processed", write_result=False).rows == [[130]]
    yield lake, paths
    lake.engine.close()


DUCK_NAMES = ["pg_settings", "duckdb_settings", "duckdb_tables", "duckdb_views", "duckdb_columns",
              "duckdb_databases", "duckdb_schemas", "duckdb_functions", "sqlite_master", "pg_tables", "pg_views",
              "pg_namespace", "pg_class", "information_schema.tables", "information_schema.columns",
              "information_schema.schemata", "information_schema.views", "pg_catalog.pg_settings",
              "pg_catalog.pg_class", "main.pg_settings", "main.duckdb_settings", "temp.main.sqlite_master",
              "system.main.duckdb_settings", "memory.main.pg_settings", "memory.information_schema.tables",
              "lakebox_views.orders_db.orders_processed", '"lakebox_views"."orders_db"."orders_processed"',
              '"__lakebox_cte_0"', '"__lakebox_cte_1"', "orders_db.pg_settings", "awsdatacatalog.main.pg_settings"]
CATALOG_NAMES = ["orders_processed", "orders_db.orders_processed", '"AwsDataCatalog"."orders_db"."orders_processed"']
FUNCTIONS = ["duckdb_settings()", "duckdb_tables()", "pragma_database_list()", "read_parquet('{hidden}')",
             "read_parquet('{glob}')", "read_csv('{csv}')", "read_text('{outside}')", "glob('{all}')",
             "query('SELECT * FROM pg_settings')", "query_table('pg_settings')", "parquet_metadata('{hidden}')",
             "TABLE(read_parquet('{hidden}'))", "sniff_csv('{csv}')", "parquet_scan('{dotted}')"]
FILE_KEYS = ["hidden", "dotted", "nested", "outside", "csv", "glob", "all", "relative"]


def _names(paths: dict[str, str]) -> st.SearchStrategy[str]:
    files = [f'"{paths[k]}"' for k in FILE_KEYS] + [f"'{paths[k]}'" for k in ("hidden", "csv")]
    funcs = [f.format(**paths) for f in FUNCTIONS]
    # Weighted towards the catalog's table, so a fair share of statements succeed and are checked for leaks.
    return st.one_of(st.sampled_from(CATALOG_NAMES), st.sampled_from(DUCK_NAMES + files + funcs))


def _cte_names(paths: dict[str, str]) -> st.SearchStrategy[str]:
    bare = [n for n in DUCK_NAMES if "." not in n and not n.startswith('"__')]
    return st.one_of(st.sampled_from(["orders_processed", "a", "b"]),
                     st.sampled_from(bare + [f'"{paths[k]}"' for k in ("hidden", "glob")]))


def _queries(paths: dict[str, str]) -> st.SearchStrategy[str]:
    names = _names(paths)
    cte_names = _cte_names(paths)

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        rel = st.one_of(names, cte_names, inner.map(lambda q: f"({q})"))
        return st.one_of(
            st.tuples(rel, rel).map(lambda t: f"SELECT * FROM {t[0]} AS x JOIN {t[1]} AS y ON true"),
            st.tuples(rel, rel).map(lambda t: f"SELECT * FROM {t[0]} AS x, LATERAL (SELECT * FROM {t[1]}) AS y"),
            rel.map(lambda r: f"SELECT * FROM {r} AS x CROSS JOIN UNNEST(ARRAY[1, 2]) AS u(k)"),
            st.tuples(rel, rel).map(lambda t: f"SELECT * FROM {t[0]} WHERE EXISTS (SELECT * FROM {t[1]})"),
            st.tuples(rel, inner).map(lambda t: f"SELECT *, ({t[1]}) AS s FROM {t[0]}"),
            st.tuples(inner, inner).map(lambda t: f"{t[0]} UNION ALL {t[1]}"),
            st.tuples(cte_names, inner, cte_names, inner, inner).map(
                lambda t: f"WITH {t[0]} AS ({t[1]}), {t[2]} AS ({t[3]}) {t[4]}"),
            st.tuples(cte_names, inner, inner).map(lambda t: f"WITH {t[0]} AS ({t[1]}) {t[2]}"),
            st.tuples(cte_names, cte_names).map(lambda t: f"WITH {t[0]} AS (SELECT * FROM {t[0]}) "
                                                          f"SELECT * FROM {t[1]}"),
        )

    leaf = st.one_of(
        st.one_of(names, cte_names).map(lambda n: f"SELECT * FROM {n}"),
        names.map(lambda n: f"SELECT count(*) AS n FROM {n}"),
        st.just("SELECT 1 AS n"),
    )
    return st.recursive(leaf, extend, max_leaves=6)


def _leaks(rows: list[list[object]], columns: list[dict[str, str]]) -> list[object]:
    cells = [c for row in rows for c in row] + [c["name"] for c in columns]
    return [c for c in cells if SECRET in str(c) or str(c) in DUCKDB_ONLY]


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_no_statement_reads_anything_but_the_catalogued_tables(fuzz_lake: tuple[Lake, dict[str, str]],
                                                             data: st.DataObject) -> None:
    lake, paths = fuzz_lake
    sql = data.draw(_queries(paths), label="sql")
    r = lake.engine.run_query(sql, write_result=False, max_rows=50, timeout=20)
    event(r.state if r.error is None else r.error.error_type)
    if r.state == "SUCCEEDED":
        assert _leaks(r.rows, r.columns) == [], sql
    else:
        assert r.error is not None and r.error.message, sql
        assert "Traceback" not in r.error.message


@pytest.mark.parametrize("template", [
    "WITH pg_settings AS (SELECT * FROM pg_settings) SELECT * FROM pg_settings",
    'WITH "{hidden}" AS (SELECT * FROM "{hidden}") SELECT * FROM "{hidden}"',
    'WITH x AS (SELECT 1), "{glob}" AS (SELECT * FROM "{glob}") SELECT * FROM "{glob}"',
    "WITH a AS (WITH duckdb_settings AS (SELECT * FROM duckdb_settings) SELECT * FROM duckdb_settings) "
    "SELECT * FROM a",
    "SELECT * FROM (WITH pg_settings AS (SELECT * FROM pg_settings) SELECT * FROM pg_settings) t",
    "WITH a AS (SELECT * FROM b), b AS (SELECT * FROM pg_settings) SELECT * FROM b",
])
def test_the_known_bypasses_fail(fuzz_lake: tuple[Lake, dict[str, str]], template: str) -> None:
    lake, paths = fuzz_lake
    r = lake.engine.run_query(template.format(**paths), write_result=False)
    assert r.state == "FAILED" and r.error is not None
    assert r.error.error_type == "TABLE_NOT_FOUND", r.error
    assert _leaks(r.rows, r.columns) == []


def test_the_marker_is_where_a_leak_would_show(fuzz_lake: tuple[Lake, dict[str, str]]) -> None:
    """The property is not vacuous: DuckDB itself, without lakebox's guard, would hand the marker out."""
    lake, paths = fuzz_lake
    con = duckdb.connect()
    assert con.execute(f"SELECT secret FROM read_parquet('{paths['dotted']}')").fetchall() == [(SECRET,)]
    con.close()
    assert SECRET in str(lake.settings.lake)

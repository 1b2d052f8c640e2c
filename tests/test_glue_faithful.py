"""The original's data, Glue-faithful: orders.csv processed as CSV with source names, typed by the crawler the way
Glue's built-in CSV classifier types it, and queried with Athena-style SQL (CamelCase, lower-case, quoted)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lakebox.config import load_settings
from lakebox.lake import Lake
from lakebox.query.results import athena_csv

CONFIG = """
database = "orders_db"
table_prefix = ""
as_of = "2025-05-01"

[datasets.orders]
glue_csv = true
keep_source_names = true
"""


@pytest.fixture
def glue_lake(tmp_path: Path, orders_csv: Path) -> Lake:
    cfg = tmp_path / "lakebox.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    settings = load_settings({"lake": str(tmp_path / "lake")}, env={}, config_file=cfg)
    lake = Lake(settings)
    src = tmp_path / "orders.csv"
    shutil.copyfile(orders_csv, src)
    items = lake.ingest([src])
    assert items[0].run.status == "ok"
    return lake


def test_crawler_types_like_glue(glue_lake: Lake) -> None:
    table = glue_lake.catalog.get_table("orders_db", "processed")
    assert table is not None
    assert [(c.name, c.type) for c in table.columns] == [
        ("orderid", "string"), ("customer", "string"), ("amount", "double"), ("status", "string"),
        ("orderdate", "string")]
    assert table.format == "csv"


@pytest.mark.parametrize("sql", [
    'SELECT Customer, ROUND(SUM(Amount), 2) AS TotalSales FROM "processed" GROUP BY Customer ORDER BY Customer',
    "SELECT customer, round(sum(amount), 2) AS TotalSales FROM processed GROUP BY customer ORDER BY customer",
    'SELECT "customer", ROUND(SUM("amount"), 2) AS TotalSales FROM "orders_db"."processed" GROUP BY 1 ORDER BY 1',
])
def test_identifier_spellings_agree(glue_lake: Lake, sql: str) -> None:
    res = glue_lake.engine.run_query(sql)
    assert res.state == "SUCCEEDED", res.error
    assert [c["type"] for c in res.columns] == ["varchar", "double"]
    assert res.columns[1]["name"] == "TotalSales"
    assert len(res.rows) == 5


def test_dates_stay_strings_and_parse_like_athena(glue_lake: Lake) -> None:
    eng = glue_lake.engine
    res = eng.run_query(
        "SELECT DATE_TRUNC('month', CAST(OrderDate AS DATE)) AS Month, COUNT(*) AS Orders FROM processed "
        "GROUP BY 1 ORDER BY 1")
    assert res.state == "SUCCEEDED", res.error
    assert res.columns == [{"name": "Month", "type": "date"}, {"name": "Orders", "type": "bigint"}]
    assert res.text_rows()[0][0] == "2025-01-01"
    res = eng.run_query("SELECT date_parse(orderdate, '%Y-%m-%d') FROM processed LIMIT 1")
    assert res.columns[0]["type"] == "timestamp(3)"
    assert res.text_rows()[0][0].endswith(" 00:00:00.000")


def test_enriched_csv_is_athenas(glue_lake: Lake) -> None:
    res = glue_lake.engine.run_query(
        "SELECT Customer, SUM(Amount) AS TotalSales FROM processed WHERE Customer = 'Alice' GROUP BY Customer")
    assert res.state == "SUCCEEDED", res.error
    body = glue_lake.store.get_object(f"enriched/{res.execution_id}.csv").decode()
    lines = body.split("\n")
    assert lines[0] == '"Customer","TotalSales"'
    name, total = lines[1].split(",")
    assert name == '"Alice"' and total.startswith('"') and total.endswith('"') and "." in total
    assert body.endswith("\n") and "\r" not in body


def test_java_double_rendering_in_csv() -> None:
    lines = list(athena_csv(["a", "b"], ["double", "varchar"], [[9152.0, None], [5793.700000000001, 'x"y']]))
    assert lines == ['"a","b"\n', '"9152.0",\n', '"5793.700000000001","x""y"\n']


@pytest.mark.parametrize(("sql", "error_type"), [
    ("SELECT upper(customer) AS c, count(*) FROM processed GROUP BY c", "COLUMN_NOT_FOUND"),
    ("SELECT date_format(orderdate, '%Y-%m') FROM processed", "FUNCTION_NOT_FOUND"),
    ("SELECT nosuch FROM processed", "COLUMN_NOT_FOUND"),
    ("SELECT * FROM nosuch", "TABLE_NOT_FOUND"),
    ("SELECT \u201ccustomer\u201d FROM processed", "SYNTAX_ERROR"),
])
def test_rejections(glue_lake: Lake, sql: str, error_type: str) -> None:
    res = glue_lake.engine.run_query(sql)
    assert res.state == "FAILED"
    assert res.error.error_type == error_type
    meta = glue_lake.engine.get_query_execution(res.execution_id)
    assert meta["Status"]["AthenaError"]["ErrorType"] == error_type

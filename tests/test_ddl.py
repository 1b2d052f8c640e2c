"""Athena DDL through `lakebox query` and the engine: views, CTAS with partitions, external tables read by their
SerDe over raw/ (the original orders.csv), partitions, SHOW statements; never from the dashboard's editor."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import _orders_csv
from waiting import wait_until

from lakebox.catalog.views import TABLE_TYPE, is_view, view_document
from lakebox.cli import main
from lakebox.config import Settings
from lakebox.lake import Lake

AS_OF = "2025-05-01"


@pytest.fixture(scope="module")
def cli_lake(tmp_path_factory: pytest.TempPathFactory, orders_csv_path: Path) -> tuple[CliRunner, list[str], Path]:
    lake = tmp_path_factory.mktemp("ddl") / "L"
    runner = CliRunner()
    base = ["--lake", str(lake), "--as-of", AS_OF]
    res = runner.invoke(main, [*base, "ingest", str(orders_csv_path)])
    assert res.exit_code == 0, res.output
    return runner, base, lake


@pytest.fixture(scope="module")
def orders_csv_path() -> Path:
    return _orders_csv()


def q(cli_lake: tuple[CliRunner, list[str], Path], sql: str, *, ok: bool = True) -> dict:
    runner, base, _ = cli_lake
    res = runner.invoke(main, [*base, "query", sql, "--format", "json"])
    out = json.loads(res.output[: res.output.rindex("}") + 1])
    assert (res.exit_code == 0) == ok, res.output
    return out


def original_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_a_view_created_by_sql_is_queryable_and_listed(cli_lake) -> None:
    q(cli_lake, "CREATE OR REPLACE VIEW big_orders AS SELECT customer_id, order_amount FROM orders_processed "
                "WHERE order_amount > 400")
    got = q(cli_lake, "SELECT customer_id, count(*) AS n FROM big_orders GROUP BY 1 ORDER BY 1")["rows"]
    all_rows = q(cli_lake, "SELECT customer_id, count(*) FROM orders_processed WHERE order_amount > 400 "
                           "GROUP BY 1 ORDER BY 1")["rows"]
    assert got == all_rows and sum(n for _, n in got) > 0
    assert ["big_orders"] in q(cli_lake, "SHOW TABLES")["rows"]
    assert q(cli_lake, "SHOW VIEWS")["rows"] == [["big_orders"]]
    assert q(cli_lake, "DESCRIBE big_orders")["rows"][0][:2] == ["customer_id", "string"]
    # Replaced in place, a view over a view works, and DROP VIEW removes it.
    q(cli_lake, "CREATE OR REPLACE VIEW big_orders AS SELECT customer_id, order_amount FROM orders_processed "
                "WHERE order_amount > 450")
    q(cli_lake, "CREATE VIEW top_big AS SELECT max(order_amount) AS m FROM big_orders")
    assert q(cli_lake, "SELECT m FROM top_big")["rows"] == q(cli_lake, "SELECT max(order_amount) FROM "
                                                                       "orders_processed")["rows"]
    assert q(cli_lake, "SELECT count(*) FROM big_orders WHERE order_amount <= 450")["rows"] == [[0]]
    err = q(cli_lake, "CREATE VIEW big_orders AS SELECT 1 AS x", ok=False)
    assert err["error"]["error_type"] == "ALREADY_EXISTS"
    q(cli_lake, "DROP VIEW top_big")
    assert q(cli_lake, "SHOW VIEWS")["rows"] == [["big_orders"]]
    err = q(cli_lake, "SELECT * FROM top_big", ok=False)
    assert err["error"]["error_type"] == "TABLE_NOT_FOUND"


def test_a_view_is_stored_as_athena_stores_it(cli_lake) -> None:
    _, _, lake_path = cli_lake
    q(cli_lake, "CREATE OR REPLACE VIEW by_status AS SELECT order_status, count(*) AS n FROM orders_processed "
                "GROUP BY order_status")
    lake = Lake(Settings(lake=str(lake_path)))
    t = lake.catalog.get_table("orders_db", "by_status")
    assert t is not None and is_view(t) and t.parameters["presto_view"] == "true"
    doc = view_document(t.parameters["lakebox.view_original_text"])
    assert doc["originalSql"].startswith("SELECT order_status") and doc["catalog"] == "awsdatacatalog"
    assert [c["name"] for c in doc["columns"]] == ["order_status", "n"]
    assert TABLE_TYPE == "VIRTUAL_VIEW"
    show = q(cli_lake, "SHOW CREATE VIEW by_status")["rows"]
    assert show[0] == ['CREATE VIEW "orders_db"."by_status" AS']


def test_a_view_with_a_bad_query_is_refused_with_the_querys_error(cli_lake) -> None:
    err = q(cli_lake, "CREATE VIEW v_bad AS SELECT nosuch FROM orders_processed", ok=False)
    assert err["error"]["error_type"] == "COLUMN_NOT_FOUND"
    assert ["v_bad"] not in q(cli_lake, "SHOW TABLES")["rows"]


def test_ctas_writes_files_in_the_lake_and_catalogues_its_partitions(cli_lake) -> None:
    _, _, lake_path = cli_lake
    q(cli_lake, "CREATE TABLE monthly_sales WITH (format = 'PARQUET', "
                "external_location = 's3://lakebox/ctas/monthly_sales/', partitioned_by = ARRAY['month']) AS "
                "SELECT customer_id, sum(order_amount) AS total, date_format(order_date, '%Y-%m') AS month "
                "FROM orders_processed GROUP BY 1, 3")
    months = ["2025-01", "2025-02", "2025-03", "2025-04"]
    assert sorted(p.name for p in (lake_path / "ctas" / "monthly_sales").iterdir()) == [f"month={m}" for m in months]
    assert q(cli_lake, "SHOW PARTITIONS monthly_sales")["rows"] == [[f"month={m}"] for m in months]
    t = Lake(Settings(lake=str(lake_path))).catalog.get_table("orders_db", "monthly_sales")
    assert t is not None and [c.name for c in t.partition_keys] == ["month"]
    assert [p.values for p in t.partitions] == [(m,) for m in months]
    assert [c.name for c in t.columns] == ["customer_id", "total"] and t.format == "parquet"
    got = q(cli_lake, "SELECT month, sum(total) FROM monthly_sales GROUP BY month ORDER BY month")["rows"]
    want = q(cli_lake, "SELECT date_format(order_date, '%Y-%m'), sum(order_amount) FROM orders_processed "
                       "GROUP BY 1 ORDER BY 1")["rows"]
    assert got == want
    # ALTER TABLE DROP/ADD PARTITION change what is read; the files stay.
    q(cli_lake, "ALTER TABLE monthly_sales DROP PARTITION (month = '2025-01')")
    assert q(cli_lake, "SELECT count(DISTINCT month) FROM monthly_sales")["rows"] == [[3]]
    q(cli_lake, "ALTER TABLE monthly_sales ADD IF NOT EXISTS PARTITION (month = '2025-01') "
                "LOCATION 's3://lakebox/ctas/monthly_sales/month=2025-01/'")
    assert q(cli_lake, "SELECT count(DISTINCT month) FROM monthly_sales")["rows"] == [[4]]
    create = "\n".join(r[0] for r in q(cli_lake, "SHOW CREATE TABLE monthly_sales")["rows"])
    assert "PARTITIONED BY" in create and "'s3://lakebox/ctas/monthly_sales/'" in create
    err = q(cli_lake, "CREATE TABLE again WITH (external_location = 's3://lakebox/ctas/monthly_sales/') AS "
                      "SELECT 1 AS x", ok=False)
    assert err["error"]["error_type"] == "HIVE_PATH_ALREADY_EXISTS"
    err = q(cli_lake, "CREATE TABLE misordered WITH (partitioned_by = ARRAY['a']) AS SELECT 1 AS a, 2 AS b",
            ok=False)
    assert err["error"]["error_type"] == "HIVE_COLUMN_ORDER_MISMATCH"


def test_external_csv_table_over_raw_reads_the_original_with_both_serdes(cli_lake, orders_csv_path: Path) -> None:
    header, *rows = original_rows(orders_csv_path)
    cols = "(orderid string, customer string, amount double, status string, orderdate date)"
    q(cli_lake, f"CREATE EXTERNAL TABLE raw_lazy {cols} ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' "
                "STORED AS TEXTFILE LOCATION 's3://lakebox/raw/' TBLPROPERTIES ('skip.header.line.count'='1')")
    q(cli_lake, f"CREATE EXTERNAL TABLE raw_open {cols} ROW FORMAT SERDE "
                "'org.apache.hadoop.hive.serde2.OpenCSVSerde' WITH SERDEPROPERTIES ('separatorChar' = ',', "
                "'quoteChar' = '\"') LOCATION 's3://lakebox/raw/' TBLPROPERTIES ('skip.header.line.count'='1')")
    # LazySimpleSerDe: the declared types, values as the file has them.
    lazy = q(cli_lake, "SELECT * FROM raw_lazy ORDER BY orderid")
    assert [c["type"] for c in lazy["columns"]] == ["varchar", "varchar", "double", "varchar", "date"]
    want = sorted(rows, key=lambda r: r[0])
    assert [[r[0], r[1], Decimal(str(r[2])), r[3], r[4]] for r in lazy["rows"]] == [
        [r[0], r[1], Decimal(r[2]), r[3], r[4]] for r in want]
    # OpenCSVSerDe: every column a string, whatever the DDL said.
    opened = q(cli_lake, "SELECT * FROM raw_open ORDER BY orderid")
    assert [c["type"] for c in opened["columns"]] == ["varchar"] * 5
    assert opened["rows"] == want
    assert [r[:2] for r in q(cli_lake, "DESCRIBE raw_open")["rows"]] == [[h.lower(), "string"] for h in header]
    assert q(cli_lake, "SELECT typeof(amount) FROM raw_open LIMIT 1")["rows"] == [["varchar"]]


def test_the_serdes_differ_on_quotes_as_athena_does(cli_lake) -> None:
    _, _, lake_path = cli_lake
    folder = lake_path / "quoted"
    folder.mkdir()
    (folder / "q.csv").write_text('id,name,amount\n1,"Smith, J",2.5\n2,Ann,x\n', encoding="utf-8")
    for name, fmt in (("q_lazy", "ROW FORMAT DELIMITED FIELDS TERMINATED BY ','"),
                      ("q_open", "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'")):
        q(cli_lake, f"CREATE EXTERNAL TABLE {name} (id int, name string, amount double) {fmt} "
                    "LOCATION 's3://lakebox/quoted/' TBLPROPERTIES ('skip.header.line.count'='1')")
    # No quote handling: the quoted comma splits the field, and "x" is not a double (NULL).
    assert q(cli_lake, "SELECT id, name, amount FROM q_lazy ORDER BY id")["rows"] == [[1, '"Smith', None],
                                                                                    [2, "Ann", None]]
    assert q(cli_lake, "SELECT id, name, amount FROM q_open ORDER BY id")["rows"] == [["1", "Smith, J", "2.5"],
                                                                                    ["2", "Ann", "x"]]


def test_msck_repair_adds_hive_partitions(cli_lake) -> None:
    _, _, lake_path = cli_lake
    for day, body in (("2025-01-01", "a,1\n"), ("2025-01-02", "b,2\nc,3\n")):
        (lake_path / "events" / f"dt={day}").mkdir(parents=True)
        (lake_path / "events" / f"dt={day}" / "part.csv").write_text(body)
    q(cli_lake, "CREATE EXTERNAL TABLE events (name string, v int) PARTITIONED BY (dt string) "
                "ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' LOCATION 's3://lakebox/events/'")
    assert q(cli_lake, "SELECT count(*) FROM events")["rows"] == [[0]]  # no partitions yet, as on Athena
    q(cli_lake, "MSCK REPAIR TABLE events")
    assert q(cli_lake, "SHOW PARTITIONS events")["rows"] == [["dt=2025-01-01"], ["dt=2025-01-02"]]
    assert q(cli_lake, "SELECT dt, sum(v) FROM events GROUP BY dt ORDER BY dt")["rows"] == [["2025-01-01", 1],
                                                                                          ["2025-01-02", 5]]
    q(cli_lake, "DROP TABLE events")
    assert ["events"] not in q(cli_lake, "SHOW TABLES")["rows"]
    assert (lake_path / "events" / "dt=2025-01-01" / "part.csv").exists()  # the data stays


@pytest.mark.parametrize("location", ["/etc/", "s3://lakebox/../x/", "s3://lakebox/_lakebox/", "s3://other/x/"])
def test_locations_stay_in_the_lake(cli_lake, location: str) -> None:
    err = q(cli_lake, f"CREATE EXTERNAL TABLE t_bad (a string) LOCATION '{location}'", ok=False)
    assert err["error"]["error_type"] == "INVALID_TABLE_PROPERTY"


def test_ddl_off_by_setting_and_never_from_the_dashboard_path(cli_lake, monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, lake_path = cli_lake
    monkeypatch.setenv("LAKEBOX_ALLOW_DDL", "false")
    err = q(cli_lake, "CREATE VIEW v_off AS SELECT 1 AS x", ok=False)
    assert err["error"]["error_type"] == "NOT_SUPPORTED" and "allow_ddl" in err["error"]["message"]
    monkeypatch.delenv("LAKEBOX_ALLOW_DDL")
    # The engine's default (what the dashboard's editor calls) refuses DDL even with the setting on.
    lake = Lake(Settings(lake=str(lake_path)))
    res = lake.engine.run_query("CREATE VIEW v_dash AS SELECT 1 AS x")
    assert res.state == "FAILED" and res.error is not None and res.error.error_type == "NOT_SUPPORTED"
    assert lake.catalog.get_table("orders_db", "v_dash") is None
    # Reads about the catalog are not DDL and work everywhere.
    assert lake.engine.run_query("SHOW VIEWS").state == "SUCCEEDED"


def test_the_athena_api_runs_ddl(cli_lake) -> None:
    _, _, lake_path = cli_lake
    lake = Lake(Settings(lake=str(lake_path)))
    qid = lake.engine.start_query_execution("CREATE OR REPLACE VIEW api_view AS SELECT 1 AS one")
    wait_until(lambda: lake.engine.get_query_execution(qid)["Status"]["State"] == "SUCCEEDED", timeout=30)
    assert lake.engine.get_query_execution(qid)["StatementType"] == "DDL"
    assert lake.engine.run_query("SELECT one FROM api_view").rows == [[1]]
    lake.engine.close()

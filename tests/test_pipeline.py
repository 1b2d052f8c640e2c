"""The original's sample, end to end through the CLI: ingest, then each named query as JSON, checked against a
hand computation (an independent csv-module oracle plus the exact figures)."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from lakebox.cli import main

AS_OF = dt.date(2025, 5, 1)
ORIGINAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "orders.csv"
if not ORIGINAL.exists():
    ORIGINAL = Path(__file__).parent / "data" / "orders.csv"


def oracle(path: Path) -> list[dict[str, str]]:
    """The original rule by hand: drop pending/cancelled orders 30 or more days before 2025-05-01."""
    rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    return [r for r in rows if not (r["Status"] in ("pending", "cancelled")
                                    and (AS_OF - dt.date.fromisoformat(r["OrderDate"])).days >= 30)]


@pytest.fixture(scope="module")
def cli_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[CliRunner, list[str]]:
    lake = tmp_path_factory.mktemp("e2e") / "L"
    runner = CliRunner()
    base = ["--lake", str(lake), "--as-of", AS_OF.isoformat()]
    res = runner.invoke(main, [*base, "ingest", str(ORIGINAL)])
    assert res.exit_code == 0, res.output
    assert "200" in res.output and "130" in res.output and "70" in res.output
    return runner, base


def run_json(cli_lake: tuple[CliRunner, list[str]], *args: str) -> dict:
    runner, base = cli_lake
    res = runner.invoke(main, [*base, "query", *args, "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_json_output_shape(cli_lake) -> None:
    out = run_json(cli_lake, "--name", "total_sales_by_customer")
    assert set(out) >= {"columns", "rows", "row_count", "execution_id", "result_location", "stats"}
    assert all(set(c) == {"name", "type"} for c in out["columns"])
    assert out["row_count"] == len(out["rows"]) == 5
    assert out["result_location"].endswith(f"enriched/{out['execution_id']}.csv")
    assert Path(out["result_location"]).is_file()
    assert Path(out["result_location"] + ".metadata").is_file()
    assert {"TotalExecutionTimeInMillis", "DataScannedInBytes"} <= set(out["stats"])
    assert out["stats"]["DataScannedInBytes"] > 0


def test_total_sales_by_customer(cli_lake, orders_csv: Path) -> None:
    out = run_json(cli_lake, "--name", "total_sales_by_customer")
    assert [c["name"] for c in out["columns"]] == ["customer_id", "total_sales"]
    assert out["rows"] == [["Bob", 10328.04], ["Charlie", 7162.57], ["Eve", 6265.86], ["Alice", 5671.22],
                           ["Diana", 5235.58]]
    by_hand: dict[str, Decimal] = defaultdict(Decimal)
    for r in oracle(orders_csv):
        by_hand[r["Customer"]] += Decimal(r["Amount"])
    assert {c: Decimal(str(v)) for c, v in out["rows"]} == by_hand


def test_monthly_order_volume(cli_lake, orders_csv: Path) -> None:
    out = run_json(cli_lake, "--name", "monthly_order_volume")
    assert [c["name"] for c in out["columns"]] == ["order_month", "order_count", "total_revenue"]
    assert [c["type"] for c in out["columns"]] == ["varchar", "bigint", "decimal(38,2)"]
    assert out["rows"] == [["2025-01", 10, 2289.70], ["2025-02", 41, 11917.41], ["2025-03", 32, 9152.00],
                           ["2025-04", 47, 11304.16]]
    by_hand: dict[str, list] = defaultdict(lambda: [0, Decimal(0)])
    for r in oracle(orders_csv):
        by_hand[r["OrderDate"][:7]][0] += 1
        by_hand[r["OrderDate"][:7]][1] += Decimal(r["Amount"])
    assert [[m, n, Decimal(str(v))] for m, n, v in out["rows"]] == [[m, *by_hand[m]] for m in sorted(by_hand)]


def test_order_status_summary(cli_lake, orders_csv: Path) -> None:
    out = run_json(cli_lake, "--name", "order_status_summary")
    assert [c["name"] for c in out["columns"]] == ["order_status", "order_count", "total_amount"]
    assert out["rows"] == [["confirmed", 63, 16769.94], ["shipped", 46, 13435.16], ["cancelled", 12, 2833.76],
                           ["pending", 9, 1624.41]]
    by_hand: dict[str, list] = defaultdict(lambda: [0, Decimal(0)])
    for r in oracle(orders_csv):
        by_hand[r["Status"]][0] += 1
        by_hand[r["Status"]][1] += Decimal(r["Amount"])
    expected = sorted(([s, n, a] for s, (n, a) in by_hand.items()), key=lambda x: (-x[1], x[0]))
    assert [[s, n, Decimal(str(a))] for s, n, a in out["rows"]] == expected


def test_average_order_value_by_customer(cli_lake, orders_csv: Path) -> None:
    """Unrounded by the query: avg of a decimal(12,2) column is decimal(12,2) in Trino (rounded half up)."""
    out = run_json(cli_lake, "--name", "average_order_value_by_customer")
    assert [c["name"] for c in out["columns"]] == ["customer_id", "average_order_value", "order_count"]
    assert out["columns"][1]["type"] == "decimal(12,2)"
    assert out["rows"] == [["Charlie", 298.44, 24], ["Bob", 295.09, 35], ["Eve", 250.63, 25],
                           ["Alice", 246.57, 23], ["Diana", 227.63, 23]]
    amounts: dict[str, list[Decimal]] = defaultdict(list)
    for r in oracle(orders_csv):
        amounts[r["Customer"]].append(Decimal(r["Amount"]))
    expected = sorted(([c, (sum(a) / len(a)).quantize(Decimal("0.01"), ROUND_HALF_UP), len(a)]
                       for c, a in amounts.items()), key=lambda x: (-x[1], x[0]))
    assert [[c, Decimal(str(v)), n] for c, v, n in out["rows"]] == expected


def test_top_orders_february_2025(cli_lake, orders_csv: Path) -> None:
    out = run_json(cli_lake, "--name", "top_orders_february_2025")
    assert [c["name"] for c in out["columns"]] == ["order_id", "customer_id", "order_date", "order_amount",
                                                   "order_status"]
    assert [r[0] for r in out["rows"]] == ["O0001", "O0050", "O0117", "O0019", "O0049", "O0038", "O0011", "O0178",
                                          "O0106", "O0095"]
    assert out["rows"][0] == ["O0001", "Bob", "2025-02-10", 478.65, "shipped"]
    for month, res in (("2025-02", out),
                       ("2025-03", run_json(cli_lake, "--name", "top_orders_february_2025", "--param",
                                            "month=2025-03"))):
        by_hand = sorted((r for r in oracle(orders_csv) if r["OrderDate"].startswith(month)),
                         key=lambda r: (-Decimal(r["Amount"]), r["OrderID"]))[:10]
        assert [[r[0], r[1], r[2], Decimal(str(r[3])), r[4]] for r in res["rows"]] == [
            [r["OrderID"], r["Customer"], r["OrderDate"], Decimal(r["Amount"]), r["Status"]] for r in by_hand]


def test_bad_parameter_and_unknown_query_are_clear_errors(cli_lake) -> None:
    runner, base = cli_lake
    res = runner.invoke(main, [*base, "query", "--name", "top_orders_february_2025", "--param", "month=2025-13"])
    assert res.exit_code == 2 and "month='2025-13' is invalid" in res.output
    res = runner.invoke(main, [*base, "query", "--name", "nope"])
    assert res.exit_code == 2 and "unknown query 'nope'" in res.output


@pytest.mark.parametrize("sql", [
    "SELECT count(*) FROM orders_processed",
    "SELECT count(*) FROM orders_db.orders_processed;",
    'SELECT count(*) FROM "AwsDataCatalog"."orders_db"."orders_processed"',
    'select COUNT(*) from "ORDERS_DB"."Orders_Processed" ;',
    "SELECT count(*) FROM AWSDATACATALOG.Orders_DB.ORDERS_PROCESSED",
])
def test_names_resolve_through_the_catalog(cli_lake, sql: str) -> None:
    assert run_json(cli_lake, sql)["rows"] == [[130]]


@pytest.mark.parametrize("sql,kind", [
    ("DELETE FROM orders_processed", "NOT_SUPPORTED"),
    ("INSERT INTO orders_processed SELECT * FROM orders_processed", "NOT_SUPPORTED"),
    ("ALTER TABLE orders_processed ADD COLUMNS (x int)", "NOT_SUPPORTED"),
    ("COPY (SELECT 1) TO '/tmp/x.csv'", "NOT_SUPPORTED"),
    ("SELECT * FROM read_csv('/etc/passwd')", "FUNCTION_NOT_FOUND"),
    ("SELECT * FROM missing_table", "TABLE_NOT_FOUND"),
])
def test_only_reads_run(cli_lake, sql: str, kind: str) -> None:
    runner, base = cli_lake
    res = runner.invoke(main, [*base, "query", sql, "--format", "json"])
    assert res.exit_code == 1
    out = json.loads(res.output[: res.output.rindex("}") + 1])
    assert out["state"] == "FAILED" and out["error"]["error_type"] == kind
    assert "Traceback" not in res.output


def test_status_and_queries_commands(cli_lake) -> None:
    runner, base = cli_lake
    res = runner.invoke(main, [*base, "status"])
    assert res.exit_code == 0 and "orders_db.orders_processed" in res.output and "130" in res.output
    res = runner.invoke(main, [*base, "queries"])
    assert res.exit_code == 0
    for name in ("total_sales_by_customer", "monthly_order_volume", "order_status_summary",
                 "average_order_value_by_customer", "top_orders_february_2025"):
        assert name in res.output


def test_csv_format_is_athenas(cli_lake) -> None:
    runner, base = cli_lake
    res = runner.invoke(main, [*base, "query", "--name", "order_status_summary", "--format", "csv"])
    assert res.output.splitlines()[:2] == ['"order_status","order_count","total_amount"',
                                           '"confirmed","63","16769.94"']

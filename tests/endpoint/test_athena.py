"""Athena through the endpoint with boto3: the start/poll/results cycle, paging, parameters, failures as
Athena reports them, result files at the OutputLocation, history and workgroups."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from waiting import wait_until

from .conftest import Endpoint

B = "lakebox"


def finish(athena: Any, qid: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        ex = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        return ex if ex["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED") else None

    return wait_until(done, what=f"query {qid}")  # type: ignore[no-any-return]


def run_query(athena: Any, sql: str, **kw: Any) -> list[list[str | None]]:
    qid = athena.start_query_execution(QueryString=sql, **kw)["QueryExecutionId"]
    ex = finish(athena, qid)
    assert ex["Status"]["State"] == "SUCCEEDED", ex["Status"]
    rows = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=qid):
        rows += [[d.get("VarCharValue") for d in r["Data"]] for r in page["ResultSet"]["Rows"]]
    return rows


@pytest.fixture
def orders(endpoint: Endpoint, orders_csv: Path) -> Endpoint:
    """The original sample processed into orders_db.orders_processed."""
    endpoint.app.backend.lake.ingest([orders_csv])
    return endpoint


def test_query_cycle_types_and_result_files(athena: Any, s3: Any, orders: Endpoint) -> None:
    sql = ("SELECT customer_id, sum(order_amount) AS total, count(*) AS n, max(order_date) AS last, "
           "CAST(NULL AS varchar) AS nothing FROM orders_processed GROUP BY 1 ORDER BY 1")
    qid = athena.start_query_execution(QueryString=sql, QueryExecutionContext={"Database": "orders_db"},
                                       ResultConfiguration={"OutputLocation": f"s3://{B}/athena-results/"},
                                       WorkGroup="primary")["QueryExecutionId"]
    ex = finish(athena, qid)
    assert ex["Status"]["State"] == "SUCCEEDED"
    assert ex["ResultConfiguration"]["OutputLocation"] == f"s3://{B}/athena-results/{qid}.csv"
    assert ex["QueryExecutionContext"] == {"Database": "orders_db", "Catalog": "awsdatacatalog"}
    assert ex["Statistics"]["DataScannedInBytes"] > 0 and "TotalExecutionTimeInMillis" in ex["Statistics"]
    res = athena.get_query_results(QueryExecutionId=qid)
    cols = res["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    assert [(c["Name"], c["Type"]) for c in cols] == [
        ("customer_id", "varchar"), ("total", "decimal(38,2)"), ("n", "bigint"), ("last", "date"),
        ("nothing", "varchar")]
    rows = res["ResultSet"]["Rows"]
    assert [d["VarCharValue"] for d in rows[0]["Data"]] == ["customer_id", "total", "n", "last", "nothing"]
    assert rows[1]["Data"][4] == {}  # NULL has no VarCharValue
    body = s3.get_object(Bucket=B, Key=f"athena-results/{qid}.csv")["Body"].read().decode()
    assert body.splitlines()[0] == '"customer_id","total","n","last","nothing"'
    assert len(body.splitlines()) == len(rows)
    meta = json.loads(s3.get_object(Bucket=B, Key=f"athena-results/{qid}.csv.metadata")["Body"].read())
    assert meta["QueryExecutionId"] == qid and meta["Status"]["State"] == "SUCCEEDED"
    stats = athena.get_query_runtime_statistics(QueryExecutionId=qid)["QueryRuntimeStatistics"]
    assert stats["Rows"]["OutputRows"] == len(rows) - 1


def test_paging_2500_rows(athena: Any, orders: Endpoint) -> None:
    qid = athena.start_query_execution(QueryString="SELECT x, 'v' || CAST(x AS varchar) AS label "
                                       "FROM UNNEST(sequence(1, 2500)) AS t(x) ORDER BY x")["QueryExecutionId"]
    finish(athena, qid)
    first = athena.get_query_results(QueryExecutionId=qid, MaxResults=1000)
    assert len(first["ResultSet"]["Rows"]) == 1000 and "NextToken" in first
    pages = list(athena.get_paginator("get_query_results").paginate(
        QueryExecutionId=qid, PaginationConfig={"PageSize": 1000}))
    rows = [[d["VarCharValue"] for d in r["Data"]] for p in pages for r in p["ResultSet"]["Rows"]]
    assert len(pages) == 3
    assert rows[0] == ["x", "label"]  # the header, on the first page only
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 2501))
    assert rows[-1] == ["2500", "v2500"]


def test_execution_parameters(athena: Any, orders: Endpoint) -> None:
    rows = run_query(athena, "SELECT count(*) FROM orders_processed WHERE customer_id = ? AND order_amount > ?",
                     ExecutionParameters=["'Bob'", "100"], QueryExecutionContext={"Database": "orders_db"})
    direct = run_query(athena, "SELECT count(*) FROM orders_processed WHERE customer_id = 'Bob' "
                       "AND order_amount > 100", QueryExecutionContext={"Database": "orders_db"})
    assert rows == direct and int(rows[1][0]) > 0


def test_failed_query_reports_athena_error(athena: Any, orders: Endpoint) -> None:
    qid = athena.start_query_execution(QueryString="SELECT nope FROM orders_processed",
                                       QueryExecutionContext={"Database": "orders_db"})["QueryExecutionId"]
    ex = finish(athena, qid)
    assert ex["Status"]["State"] == "FAILED"
    assert ex["Status"]["StateChangeReason"].startswith("COLUMN_NOT_FOUND: line 1:8:")
    assert ex["Status"]["AthenaError"]["ErrorCategory"] == 2
    with pytest.raises(ClientError) as e:
        athena.get_query_results(QueryExecutionId=qid)
    assert e.value.response["Error"]["Code"] == "InvalidRequestException"
    missing = athena.start_query_execution(QueryString="SELECT * FROM no_such_table")["QueryExecutionId"]
    assert "TABLE_NOT_FOUND" in finish(athena, missing)["Status"]["StateChangeReason"]
    other = athena.start_query_execution(QueryString="SELECT 1", QueryExecutionContext={
        "Database": "orders_db", "Catalog": "hive_elsewhere"})["QueryExecutionId"]
    assert "CATALOG_NOT_FOUND" in finish(athena, other)["Status"]["StateChangeReason"]
    write = athena.start_query_execution(QueryString="DELETE FROM orders_processed")["QueryExecutionId"]
    assert finish(athena, write)["Status"]["State"] == "FAILED"  # SQL stays read-only


def test_history_batch_stop_and_workgroups(athena: Any, orders: Endpoint) -> None:
    ids = [athena.start_query_execution(QueryString=f"SELECT {i}")["QueryExecutionId"] for i in range(3)]
    for i in ids:
        finish(athena, i)
    listed = athena.list_query_executions(WorkGroup="primary")["QueryExecutionIds"]
    assert listed[:3] == ids[::-1]
    batch = athena.batch_get_query_execution(QueryExecutionIds=[*ids, "00000000-0000-0000-0000-000000000000"])
    assert sorted(q["QueryExecutionId"] for q in batch["QueryExecutions"]) == sorted(ids)
    assert len(batch["UnprocessedQueryExecutionIds"]) == 1
    athena.stop_query_execution(QueryExecutionId=ids[0])  # finished: stays SUCCEEDED (idempotent, as AWS)
    assert finish(athena, ids[0])["Status"]["State"] == "SUCCEEDED"
    wg = athena.get_work_group(WorkGroup="primary")["WorkGroup"]
    assert wg["State"] == "ENABLED"
    assert wg["Configuration"]["ResultConfiguration"]["OutputLocation"] == f"s3://{B}/enriched/"
    assert "primary" in [w["Name"] for w in athena.list_work_groups()["WorkGroups"]]
    with pytest.raises(ClientError) as e:
        athena.start_query_execution(QueryString="SELECT 1", WorkGroup="nope")
    assert e.value.response["Error"]["Code"] == "InvalidRequestException"


def test_client_request_token_is_idempotent(athena: Any, orders: Endpoint) -> None:
    token = "t" * 40
    a = athena.start_query_execution(QueryString="SELECT 1", ClientRequestToken=token)["QueryExecutionId"]
    b = athena.start_query_execution(QueryString="SELECT 1", ClientRequestToken=token)["QueryExecutionId"]
    assert a == b


def test_stop_cancels_a_queued_query(start_endpoint: Any) -> None:
    ep = start_endpoint(workers=1)
    athena = ep.client("athena")
    gate = threading.Event()
    ep.app.athena._pool.submit(gate.wait, 30)  # the one query worker is busy
    try:
        qid = athena.start_query_execution(QueryString="SELECT 1")["QueryExecutionId"]
        assert athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]["State"] == "QUEUED"
        with pytest.raises(ClientError) as e:
            athena.get_query_results(QueryExecutionId=qid)
        assert "Query has not yet finished. Current state: QUEUED" in str(e.value)
        athena.stop_query_execution(QueryExecutionId=qid)
    finally:
        gate.set()
    ex = finish(athena, qid)
    assert ex["Status"]["State"] == "CANCELLED" and "CompletionDateTime" in ex["Status"]
    ep.app.athena._pool.submit(lambda: None).result(10)  # the queue has drained
    assert finish(athena, qid)["Status"]["State"] == "CANCELLED"
    assert not list((ep.lake / "enriched").glob(f"{qid}*"))


def test_catalog_metadata_through_athena(athena: Any, orders: Endpoint) -> None:
    assert athena.list_data_catalogs()["DataCatalogsSummary"][0]["CatalogName"] == "AwsDataCatalog"
    assert [d["Name"] for d in athena.list_databases(CatalogName="AwsDataCatalog")["DatabaseList"]] == ["orders_db"]
    assert athena.get_database(CatalogName="AwsDataCatalog", DatabaseName="orders_db")["Database"]["Name"] == \
        "orders_db"
    tables = athena.list_table_metadata(CatalogName="AwsDataCatalog", DatabaseName="orders_db")["TableMetadataList"]
    assert [t["Name"] for t in tables] == ["orders_processed"]
    meta = athena.get_table_metadata(CatalogName="AwsDataCatalog", DatabaseName="orders_db",
                                     TableName="orders_processed")["TableMetadata"]
    assert ("order_amount", "decimal(12,2)") in [(c["Name"], c["Type"]) for c in meta["Columns"]]
    with pytest.raises(ClientError) as e:
        athena.get_table_metadata(CatalogName="AwsDataCatalog", DatabaseName="orders_db", TableName="nope")
    assert e.value.response["Error"]["Code"] == "MetadataException"


def test_ddl_creates_and_drops_catalog_tables(athena: Any, s3: Any, glue: Any, endpoint: Endpoint) -> None:
    s3.put_object(Bucket=B, Key="ddl/orders/a.csv", Body=b"OrderID,Amount\nO1,1.5\nO2,2.5\n")
    run_query(athena, "CREATE DATABASE IF NOT EXISTS sales")
    assert "sales" in [d["Name"] for d in glue.get_databases()["DatabaseList"]]
    qid = athena.start_query_execution(QueryString="""
        CREATE EXTERNAL TABLE IF NOT EXISTS sales.orders (OrderID string, Amount double)
        ROW FORMAT DELIMITED FIELDS TERMINATED BY ','
        STORED AS TEXTFILE LOCATION 's3://lakebox/ddl/orders/'
        TBLPROPERTIES ('skip.header.line.count'='1')""")["QueryExecutionId"]
    ex = finish(athena, qid)
    assert ex["Status"]["State"] == "SUCCEEDED" and ex["StatementType"] == "DDL"
    assert ex["ResultConfiguration"]["OutputLocation"].endswith(f"{qid}.txt")
    assert athena.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"] == []
    t = glue.get_table(DatabaseName="sales", Name="orders")["Table"]
    assert [(c["Name"], c["Type"]) for c in t["StorageDescriptor"]["Columns"]] == [("orderid", "string"),
                                                                                   ("amount", "double")]
    assert run_query(athena, "SELECT sum(amount) FROM sales.orders") == [["_col0"], ["4.0"]]
    s3.put_object(Bucket=B, Key="ddl/orders/b.csv", Body=b"OrderID,Amount\nO3,6\n")
    run_query(athena, "MSCK REPAIR TABLE sales.orders")
    assert run_query(athena, "SELECT count(*) FROM sales.orders") == [["_col0"], ["3"]]
    alter = athena.start_query_execution(QueryString="ALTER TABLE sales.orders ADD COLUMNS (x int)")
    failed = finish(athena, alter["QueryExecutionId"])
    assert failed["Status"]["State"] == "FAILED" and "NOT_SUPPORTED" in failed["Status"]["StateChangeReason"]
    run_query(athena, "DROP TABLE sales.orders")
    assert glue.get_tables(DatabaseName="sales")["TableList"] == []


def test_a_query_outlives_the_endpoint_process(start_endpoint: Any, tmp_path: Path) -> None:
    first = start_endpoint(lake=str(tmp_path / "shared-lake"))
    qid = first.client("athena").start_query_execution(QueryString="SELECT 'a' AS x UNION ALL SELECT NULL")[
        "QueryExecutionId"]
    finish(first.client("athena"), qid)
    second = start_endpoint(lake=str(tmp_path / "shared-lake"))  # as after a restart
    athena = second.client("athena")
    ex = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
    assert ex["Status"]["State"] == "SUCCEEDED" and ex["Query"].startswith("SELECT 'a'")
    rows = athena.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"]
    assert rows == [{"Data": [{"VarCharValue": "x"}]}, {"Data": [{"VarCharValue": "a"}]}, {"Data": [{}]}]


def test_stop_interrupts_a_running_query(athena: Any, orders: Endpoint) -> None:
    # 1e12 rows: minutes of work (Trino's sequence() stops at 10,000 entries, so four are crossed)
    slow = ("SELECT count(*) FROM UNNEST(sequence(1, 10000)) AS a(x) CROSS JOIN UNNEST(sequence(1, 10000)) AS b(y) "
            "CROSS JOIN UNNEST(sequence(1, 100)) AS c(z) CROSS JOIN UNNEST(sequence(1, 100)) AS d(w)")
    qid = athena.start_query_execution(QueryString=slow)["QueryExecutionId"]
    assert athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]["State"] == "RUNNING"
    t0 = time.monotonic()
    athena.stop_query_execution(QueryExecutionId=qid)
    ex = finish(athena, qid)
    assert ex["Status"]["State"] == "CANCELLED"
    wait_until(lambda: not orders.app.backend.lake.engine._running, timeout=10, what="the engine to stop the query")
    assert time.monotonic() - t0 < 10


def test_utility_statements_have_no_header_row(athena: Any, orders: Endpoint) -> None:
    qid = athena.start_query_execution(QueryString="SHOW TABLES IN orders_db")["QueryExecutionId"]
    ex = finish(athena, qid)
    assert ex["StatementType"] == "UTILITY"
    rows = athena.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"]
    assert rows == [{"Data": [{"VarCharValue": "orders_processed"}]}]  # as Athena answers SHOW TABLES


def test_a_view_made_through_athena_is_a_glue_virtual_view(athena: Any, glue: Any, endpoint: Endpoint) -> None:
    run_query(athena, "CREATE OR REPLACE VIEW orders_db.v_one AS SELECT 1 AS one, 'a' AS letter")
    t = glue.get_table(DatabaseName="orders_db", Name="v_one")["Table"]
    assert t["TableType"] == "VIRTUAL_VIEW" and t["ViewExpandedText"] == "/* Presto View */"
    assert t["ViewOriginalText"].startswith("/* Presto View: ") and t["Parameters"]["presto_view"] == "true"
    assert [(c["Name"], c["Type"]) for c in t["StorageDescriptor"]["Columns"]] == [("one", "int"),
                                                                                   ("letter", "string")]
    assert run_query(athena, "SELECT one, letter FROM orders_db.v_one") == [["one", "letter"], ["1", "a"]]
    assert run_query(athena, "SHOW VIEWS IN orders_db") == [["v_one"]]
    run_query(athena, "DROP VIEW orders_db.v_one")
    assert "v_one" not in [x["Name"] for x in glue.get_tables(DatabaseName="orders_db")["TableList"]]

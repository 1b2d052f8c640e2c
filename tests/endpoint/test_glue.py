"""Glue through the endpoint with boto3: databases, tables (and Athena reading an API-made table), partitions,
and a crawler that really crawls, typing CSV as Glue's built-in classifier does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from waiting import wait_until

from .conftest import Endpoint, error_code
from .test_athena import run_query

B = "lakebox"


def test_databases(glue: Any) -> None:
    assert [d["Name"] for d in glue.get_databases()["DatabaseList"]] == ["orders_db"]
    glue.create_database(DatabaseInput={"Name": "sales"})
    assert glue.get_database(Name="sales")["Database"]["Name"] == "sales"
    assert [d["Name"] for d in glue.get_databases()["DatabaseList"]] == ["orders_db", "sales"]
    with pytest.raises(ClientError) as e:
        glue.create_database(DatabaseInput={"Name": "sales"})
    assert error_code(e) == "AlreadyExistsException"
    with pytest.raises(ClientError) as e:
        glue.get_database(Name="nope")
    assert error_code(e) == "EntityNotFoundException"


def _csv_table(name: str, location: str) -> dict[str, Any]:
    return {
        "Name": name, "TableType": "EXTERNAL_TABLE", "Parameters": {"classification": "csv",
                                                                     "skip.header.line.count": "1"},
        "StorageDescriptor": {
            "Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "who", "Type": "string"}],
            "Location": location, "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                          "Parameters": {"field.delim": ","}}},
    }


def test_tables_create_get_update_delete_and_query(glue: Any, s3: Any, athena: Any) -> None:
    s3.put_object(Bucket=B, Key="people/p1.csv", Body=b"id,who\n1,ann\n2,bo\n")
    glue.create_table(DatabaseName="orders_db", TableInput=_csv_table("people", f"s3://{B}/people/"))
    t = glue.get_table(DatabaseName="orders_db", Name="people")["Table"]
    assert t["StorageDescriptor"]["Location"] == f"s3://{B}/people/"
    assert [(c["Name"], c["Type"]) for c in t["StorageDescriptor"]["Columns"]] == [("id", "bigint"), ("who", "string")]
    assert t["DatabaseName"] == "orders_db" and t["TableType"] == "EXTERNAL_TABLE"
    assert run_query(athena, "SELECT id, who FROM orders_db.people ORDER BY id") == [
        ["id", "who"], ["1", "ann"], ["2", "bo"]]
    s3.put_object(Bucket=B, Key="people/p2.csv", Body=b"id,who\n3,cy\n")  # Athena reads what is there now
    assert run_query(athena, "SELECT count(*) FROM orders_db.people") == [["_col0"], ["3"]]
    with pytest.raises(ClientError) as e:
        glue.create_table(DatabaseName="orders_db", TableInput=_csv_table("people", f"s3://{B}/people/"))
    assert error_code(e) == "AlreadyExistsException"
    upd = _csv_table("people", f"s3://{B}/people/")
    upd["StorageDescriptor"]["Columns"].append({"Name": "extra", "Type": "string"})
    glue.update_table(DatabaseName="orders_db", TableInput=upd)
    t = glue.get_table(DatabaseName="orders_db", Name="people")["Table"]
    assert [c["Name"] for c in t["StorageDescriptor"]["Columns"]] == ["id", "who", "extra"]
    assert t["VersionId"] == "2"
    glue.delete_table(DatabaseName="orders_db", Name="people")
    with pytest.raises(ClientError) as e:
        glue.get_table(DatabaseName="orders_db", Name="people")
    assert error_code(e) == "EntityNotFoundException"


def test_get_tables_expression_and_paging(glue: Any, s3: Any) -> None:
    for name in ("orders_a", "orders_b", "customers"):
        glue.create_table(DatabaseName="orders_db", TableInput=_csv_table(name, f"s3://{B}/{name}/"))
    assert [t["Name"] for t in glue.get_tables(DatabaseName="orders_db", Expression="orders.*")["TableList"]] == [
        "orders_a", "orders_b"]
    assert [t["Name"] for t in glue.get_tables(DatabaseName="orders_db", Expression="*cust*")["TableList"]] == [
        "customers"]
    pages = list(glue.get_paginator("get_tables").paginate(DatabaseName="orders_db",
                                                           PaginationConfig={"PageSize": 2}))
    assert [len(p["TableList"]) for p in pages] == [2, 1]


def test_partitions(glue: Any) -> None:
    ti = _csv_table("events", f"s3://{B}/events/")
    ti["PartitionKeys"] = [{"Name": "dt", "Type": "string"}]
    glue.create_table(DatabaseName="orders_db", TableInput=ti)
    sd = {"Location": f"s3://{B}/events/dt=2025-01-01/"}
    out = glue.batch_create_partition(DatabaseName="orders_db", TableName="events", PartitionInputList=[
        {"Values": ["2025-01-01"], "StorageDescriptor": sd}])
    assert out["Errors"] == []
    again = glue.batch_create_partition(DatabaseName="orders_db", TableName="events", PartitionInputList=[
        {"Values": ["2025-01-01"], "StorageDescriptor": sd}])
    assert again["Errors"][0]["ErrorDetail"]["ErrorCode"] == "AlreadyExistsException"
    parts = glue.get_partitions(DatabaseName="orders_db", TableName="events")["Partitions"]
    assert [(p["Values"], p["StorageDescriptor"]["Location"]) for p in parts] == [
        (["2025-01-01"], f"s3://{B}/events/dt=2025-01-01/")]


def test_crawler_types_csv_as_glue_does(glue: Any, s3: Any, athena: Any, orders_csv: Path) -> None:
    s3.create_bucket(Bucket="pipeline-bucket")
    s3.put_object(Bucket="pipeline-bucket", Key="processed/filtered_orders.csv", Body=orders_csv.read_bytes())
    glue.create_crawler(Name="orders-crawler", Role="arn:aws:iam::000000000000:role/glue",
                        DatabaseName="orders_db", TablePrefix="",
                        Targets={"S3Targets": [{"Path": "s3://pipeline-bucket/processed/"}]})
    assert glue.get_crawler(Name="orders-crawler")["Crawler"]["State"] == "READY"
    glue.start_crawler(Name="orders-crawler")
    crawler = wait_until(lambda: (c := glue.get_crawler(Name="orders-crawler")["Crawler"])["State"] == "READY"
                         and c.get("LastCrawl") and c, what="the crawl")
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    t = glue.get_table(DatabaseName="orders_db", Name="processed")["Table"]
    assert [(c["Name"], c["Type"]) for c in t["StorageDescriptor"]["Columns"]] == [
        ("orderid", "string"), ("customer", "string"), ("amount", "double"), ("status", "string"),
        ("orderdate", "string")]
    assert t["StorageDescriptor"]["Location"] == "s3://pipeline-bucket/processed/"
    assert t["Parameters"]["classification"] == "csv" and t["Parameters"]["skip.header.line.count"] == "1"
    metrics = glue.get_crawler_metrics(CrawlerNameList=["orders-crawler"])["CrawlerMetricsList"][0]
    assert metrics["TablesCreated"] == 1
    rows = run_query(athena, 'SELECT count(*), round(sum(amount), 2) FROM "orders_db"."processed"')
    with orders_csv.open() as fh:
        amounts = [float(line.split(",")[2]) for line in list(fh)[1:] if line.strip()]
    assert rows[1] == [str(len(amounts)), str(round(sum(amounts), 2))]
    assert [c["Name"] for c in glue.get_crawlers()["Crawlers"]] == ["orders-crawler"]
    glue.delete_crawler(Name="orders-crawler")
    with pytest.raises(ClientError) as e:
        glue.get_crawler(Name="orders-crawler")
    assert error_code(e) == "EntityNotFoundException"


def test_crawler_on_missing_bucket_fails_its_crawl(glue: Any, endpoint: Endpoint) -> None:
    glue.create_crawler(Name="c", Role="r", DatabaseName="orders_db",
                        Targets={"S3Targets": [{"Path": "s3://no-such-bucket/x/"}]})
    glue.start_crawler(Name="c")
    crawler = wait_until(lambda: (c := glue.get_crawler(Name="c")["Crawler"]).get("LastCrawl") and c,
                         what="the crawl")
    assert crawler["LastCrawl"]["Status"] == "FAILED"
    assert "no-such-bucket" in crawler["LastCrawl"]["ErrorMessage"]


def test_update_stop_and_batch_delete(glue: Any) -> None:
    glue.create_crawler(Name="c", Role="r", DatabaseName="orders_db", Targets={"S3Targets": [{"Path": f"s3://{B}/x/"}]})
    glue.update_crawler(Name="c", TablePrefix="t_")
    crawler = glue.get_crawler(Name="c")["Crawler"]
    assert crawler["TablePrefix"] == "t_" and crawler["Version"] == 2
    with pytest.raises(ClientError) as e:
        glue.stop_crawler(Name="c")
    assert error_code(e) == "CrawlerNotRunningException"
    for name in ("a", "b"):
        glue.create_table(DatabaseName="orders_db", TableInput=_csv_table(name, f"s3://{B}/{name}/"))
    out = glue.batch_delete_table(DatabaseName="orders_db", TablesToDelete=["a", "b", "zz"])
    assert [x["TableName"] for x in out["Errors"]] == ["zz"]
    assert glue.get_tables(DatabaseName="orders_db")["TableList"] == []

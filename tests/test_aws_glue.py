"""GlueCatalog against moto running as a real HTTP server (boto3 over HTTP, no in-process mocks), and what is
built on the AWS backends: ``lakebox deploy`` against moto's CloudFormation, and the dashboard over S3Store,
GlueCatalog and AthenaEngine.

The moto fixtures and the shared helpers (``CSV``, ``make_store``, ``glue_settings``) are in ``conftest_aws``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest_aws import (
    CSV,
    AwsEnv,
    aws_fixture,  # noqa: F401 - the fixture aws
    glue_settings,
    make_store,
    moto_server_fixture,  # noqa: F401 - the fixture moto_server
)

from lakebox.catalog.crawl import CatalogUpdater, open_catalog
from lakebox.catalog.crawler import ColumnDef, PartitionDef, TableDef
from lakebox.catalog.glue import GlueCatalog
from lakebox.query.athena import AthenaEngine
from lakebox.store.s3 import S3Store

pytestmark = pytest.mark.aws


# --- GlueCatalog --------------------------------------------------------------------------------------------

def orders_table(columns: list[ColumnDef], rows: int = 10, **kw: Any) -> TableDef:
    return TableDef(database="orders_db", name="orders_processed", location="processed/", format="parquet",
                    columns=columns, file_count=1, row_count=rows, size_bytes=1234, **kw)


BASE_COLS = [ColumnDef("order_id", "string"), ColumnDef("order_amount", "decimal(12,2)")]


def test_glue_catalog_tables_and_versions(aws: AwsEnv) -> None:
    cat = GlueCatalog(aws.lake(), endpoint_url=aws.endpoint_url, region=aws.region)
    cat.create_database("orders_db")
    cat.create_database("orders_db")  # idempotent, like LocalCatalog
    assert "orders_db" in cat.get_databases()
    assert cat.get_table("orders_db", "orders_processed") is None

    t1 = cat.put_table(orders_table(BASE_COLS))
    assert t1.version == 1 and [c.name for c in t1.columns] == ["order_id", "order_amount"]
    assert t1.location == "processed/" and t1.row_count == 10
    raw = aws.client("glue").get_table(DatabaseName="orders_db", Name="orders_processed")["Table"]
    sd = raw["StorageDescriptor"]
    assert sd["Location"] == f"s3://{aws.bucket}/processed/"
    assert sd["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert raw["Parameters"]["classification"] == "parquet" and raw["Parameters"]["recordCount"] == "10"
    assert raw["PartitionKeys"] == []

    # A schema change archives the old definition: a new version that keeps the old columns readable.
    t2 = cat.put_table(orders_table([*BASE_COLS, ColumnDef("order_date", "date")], rows=20))
    assert t2.version == 2 and t2.row_count == 20
    versions = cat.get_table_versions("orders_db", "orders_processed")
    assert [v.version for v in versions] == [1, 2]
    assert [c.name for c in versions[0].columns] == ["order_id", "order_amount"]
    assert [c.name for c in versions[1].columns][-1] == "order_date"

    assert [t.name for t in cat.get_tables("orders_db")] == ["orders_processed"]
    assert [t.name for t in cat.get_tables()] == ["orders_processed"]
    v1 = cat.data_version()
    cat.put_table(orders_table([*BASE_COLS, ColumnDef("order_date", "date")], rows=30))
    assert cat.data_version() != v1  # the dashboard's cache key moves with every change
    assert cat.check() == "ok"
    cat.delete_table("orders_db", "orders_processed")
    assert cat.get_table("orders_db", "orders_processed") is None


def test_glue_catalog_partitions(aws: AwsEnv) -> None:
    cat = GlueCatalog(aws.lake(), endpoint_url=aws.endpoint_url, region=aws.region)
    cat.create_database("orders_db")
    parts = [PartitionDef((str(y),), f"processed/year={y}/", 1, 5, 100) for y in range(2000, 2130)]  # > 100
    table = orders_table(BASE_COLS, partition_keys=[ColumnDef("year", "string")], partitions=parts)
    stored = cat.put_table(table)
    assert [c.name for c in stored.partition_keys] == ["year"]
    got = cat.get_partitions("orders_db", "orders_processed")
    assert len(got) == 130 and got[0].values == ("2000",) and got[0].location == "processed/year=2000/"
    assert got[0].row_count == 5
    raw = aws.client("glue").get_partition(DatabaseName="orders_db", TableName="orders_processed",
                                           PartitionValues=["2001"])["Partition"]
    assert raw["StorageDescriptor"]["Location"] == f"s3://{aws.bucket}/processed/year=2001/"
    # A folder that is gone loses its partition; a new one is added.
    table.partitions = [*parts[1:], PartitionDef(("2200",), "processed/year=2200/", 1, 1, 1)]
    cat.put_table(table)
    values = {p.values for p in cat.get_partitions("orders_db", "orders_processed")}
    assert ("2000",) not in values and ("2200",) in values and len(values) == 130


def test_glue_update_keeps_the_stacks_partition_projection(aws: AwsEnv) -> None:
    """The deployed stack creates the table with Athena partition projection; the function's per-run update
    (UpdateTable from what the files show) must not drop it, or Athena would stop finding the partitions."""
    cat = GlueCatalog(aws.lake(), endpoint_url=aws.endpoint_url, region=aws.region)
    cat.create_database("orders_db")
    projection = {"projection.enabled": "true", "projection.order_month.type": "date",
                  "projection.order_month.format": "yyyy-MM", "projection.order_month.range": "2000-01,NOW+1YEARS",
                  "storage.location.template": f"s3://{aws.bucket}/processed/order_month=${{order_month}}/"}
    key = [ColumnDef("order_month", "string")]
    first = cat.put_table(orders_table(BASE_COLS, partition_keys=key, parameters=dict(projection)))
    assert {k: first.parameters[k] for k in projection} == projection
    cat.put_table(orders_table(BASE_COLS, rows=20, partition_keys=key,
                               partitions=[PartitionDef(("2025-02",), "processed/order_month=2025-02/", 1, 20, 9)]))
    raw = aws.client("glue").get_table(DatabaseName="orders_db", Name="orders_processed")["Table"]
    assert {k: raw["Parameters"].get(k) for k in projection} == projection
    assert raw["Parameters"]["recordCount"] == "20"


def test_glue_catalog_crawler_mode(aws: AwsEnv) -> None:
    from lakebox.core.runs import RunRecord

    glue = aws.client("glue")
    glue.create_database(DatabaseInput={"Name": "orders_db"})
    glue.create_crawler(Name="lakebox-processed", Role="arn:aws:iam::123456789012:role/crawler",
                        DatabaseName="orders_db", TablePrefix="orders_",
                        Targets={"S3Targets": [{"Path": f"s3://{aws.bucket}/processed/"}]})
    settings = replace(glue_settings(aws), glue_crawler="lakebox-processed")
    updater = CatalogUpdater.open(settings, make_store(aws))
    run = RunRecord(raw_key="raw/orders.csv", etag="x", dataset="orders", status="ok")
    assert updater.update_for_run(run) is None
    cat = updater.catalog
    assert cat.get_crawler("lakebox-processed").state == "RUNNING"
    assert cat.start_crawler("lakebox-processed") is False  # already running: its run covers our object


# --- deploy up / status / down against moto's CloudFormation ------------------------------------------------

def test_deploy_up_status_down_in_moto(aws: AwsEnv, tmp_path: Path) -> None:
    """The stack through the real CLI. moto's CloudFormation lacks Glue, Athena, Lambda EventInvokeConfig
    and Secrets Manager resources, so this deploys ``for_moto``'s reduced template (the same resources
    minus those, and minus the optional EC2 host); the full template is covered by cfn-lint."""
    import json
    import warnings
    import zipfile

    from click.testing import CliRunner

    from lakebox.deploy.cli import deploy
    from lakebox.deploy.template import build_template, for_moto

    small_zip = tmp_path / "lambda.zip"
    with zipfile.ZipFile(small_zip, "w") as zf:  # moto stores the code; it never runs it here
        zf.writestr("lakebox/__init__.py", "")
    template_file = tmp_path / "moto.json"
    template_file.write_text(json.dumps(for_moto(build_template())))
    settings = glue_settings(aws)
    runner = CliRunner()
    base = ["--stack", "lakebox-test", "--endpoint-url", aws.endpoint_url, "--region", aws.region]
    up = ["up", *base, "--zip", str(small_zip), "--template-file", str(template_file)]
    cfn = aws.client("cloudformation")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # moto warns about resource types it skips (the bucket policy)
        dry = runner.invoke(deploy, [*up, "--dry-run"], obj={"settings": settings})
        assert dry.exit_code == 0, dry.output
        assert "dry run" in dry.output and "ProcessFunction" in dry.output
        assert [s["StackName"] for s in cfn.list_stacks()["StackSummaries"]
                if s["StackStatus"] != "DELETE_COMPLETE"] == []  # a dry run leaves nothing behind

        result = runner.invoke(deploy, up, obj={"settings": settings})
        assert result.exit_code == 0, result.output
        assert "CREATE_COMPLETE" in result.output

    bucket = "lakebox-test-123456789012-us-east-1"
    s3 = aws.client("s3")
    # moto's CloudFormation creates the bucket but applies none of its configuration blocks (versioning,
    # encryption, notification); those are asserted on the template in test_deploy_template.py.
    assert bucket in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    fn = aws.client("lambda").get_function(FunctionName="lakebox-test-process")["Configuration"]
    assert fn["Runtime"] == "python3.12" and fn["Handler"] == "lakebox.process.handler.lambda_handler"
    assert fn["Environment"]["Variables"]["LAKEBOX_LAKE"] == f"s3://{bucket}"
    types = {r.get("ResourceType") for r in cfn.describe_stack_resources(StackName="lakebox-test")["StackResources"]}
    assert {"AWS::S3::Bucket", "AWS::Lambda::Function", "AWS::Lambda::Permission", "AWS::SQS::Queue",
            "AWS::IAM::Role"} <= types

    status = runner.invoke(deploy, ["status", *base, "--json"], obj={"settings": settings})
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["status"] == "CREATE_COMPLETE"

    s3.put_object(Bucket=bucket, Key="processed/orders.parquet", Body=b"PAR1")
    refused = runner.invoke(deploy, ["down", *base], obj={"settings": settings})
    assert refused.exit_code != 0 and "--delete-data" in refused.output
    assert cfn.describe_stacks(StackName="lakebox-test")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"

    down = runner.invoke(deploy, ["down", *base, "--delete-data", "--yes"], obj={"settings": settings})
    assert down.exit_code == 0, down.output
    assert bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


# --- the dashboard over S3Store, GlueCatalog and AthenaEngine -----------------------------------------------

def test_dashboard_serves_over_s3_glue_and_athena(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """The unchanged web app, with a lake on moto's S3, the Glue catalog and the Athena engine."""
    from lakebox.cli import dashboard_services
    from lakebox.lake import Lake
    from lakebox.process.handler import process_object
    from lakebox.web.app import create_app

    store = make_store(aws)
    aws.client("athena").create_work_group(
        Name="lakebox", Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{aws.bucket}/enriched/"}})
    settings = glue_settings(aws, workgroup="lakebox")
    open_catalog(settings, store).create_database("orders_db")
    store.put_object("raw/orders.csv", CSV)
    after = CatalogUpdater.open(settings, store).update_for_run
    assert process_object(settings, store, "raw/orders.csv", after=after).status == "ok"

    lake = Lake(settings)
    assert isinstance(lake.store, S3Store) and isinstance(lake.catalog, GlueCatalog)
    assert isinstance(lake.engine, AthenaEngine)
    app = create_app(dashboard_services(lake))
    client = app.test_client()
    tables = client.get("/api/tables")
    assert tables.status_code == 200, tables.data[:500]
    assert "orders_processed" in tables.get_data(as_text=True)
    runs = client.get("/api/runs")
    assert runs.status_code == 200 and "raw/orders.csv" in runs.get_data(as_text=True)
    page = client.get("/")
    assert page.status_code == 200
    app.extensions["lakebox"].close()  # stop background refreshes before the moto server goes away

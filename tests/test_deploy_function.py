"""The deployed function's behaviour that only shows on AWS: the region it writes to, and concurrent
invocations colliding on the table (moto over HTTP)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from conftest_aws import AwsEnv, aws_fixture, moto_server_fixture  # noqa: F401

pytestmark = pytest.mark.aws

CSV = b"OrderID,Customer,Amount,Status,OrderDate\n1,alice,10.50,shipped,2025-01-05\n"


@pytest.fixture(name="function_env")
def function_env_fixture(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsEnv]:
    """The environment the stack gives the function (no LAKEBOX_REGION: Lambda sets AWS_REGION)."""
    for var in list(os.environ):
        if var.startswith("LAKEBOX_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("LAKEBOX_LAKE", aws.lake())
    monkeypatch.setenv("LAKEBOX_CATALOG", "glue")
    monkeypatch.setenv("LAKEBOX_AS_OF", "2025-02-01")
    monkeypatch.setenv("HOME", "/tmp")  # noqa: S108 - as the template sets it
    yield aws


def _process(aws: AwsEnv, region: str) -> dict[str, Any]:
    from lakebox.events import build_event, build_record
    from lakebox.process.handler import lambda_handler

    where = AwsEnv(aws.endpoint_url, region, aws.bucket)
    s3 = where.client("s3")
    s3.create_bucket(Bucket=aws.bucket, **({} if region == "us-east-1" else
                                            {"CreateBucketConfiguration": {"LocationConstraint": region}}))
    s3.put_object(Bucket=aws.bucket, Key="raw/orders.csv", Body=CSV)
    where.client("glue").create_database(DatabaseInput={"Name": "orders_db"})
    return lambda_handler(build_event(build_record("raw/orders.csv", bucket=aws.bucket, size=len(CSV),
                                                   region=region)))


def test_the_function_writes_the_catalog_of_its_own_region(function_env: AwsEnv,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Lambda sets AWS_REGION; with no LAKEBOX_REGION the table lands in that region's Glue catalog."""
    aws = function_env
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    out = _process(aws, "eu-west-1")
    assert out["runs"][0]["status"] == "ok", out
    ireland = AwsEnv(aws.endpoint_url, "eu-west-1", aws.bucket).client("glue")
    assert ireland.get_table(DatabaseName="orders_db", Name="orders_processed")["Table"]["Name"]
    virginia = aws.client("glue")  # us-east-1
    assert [d["Name"] for d in virginia.get_databases()["DatabaseList"]] == []


def test_update_table_retries_a_concurrent_modification(function_env: AwsEnv) -> None:
    """Glue answers ConcurrentModificationException when two invocations update the table at once; the
    catalog retries instead of failing the whole event. The collision is injected on the wire (moto never
    reports one): the first UpdateTable gets Glue's 400 answer."""
    from deploy_wire import answer, answering, header

    from lakebox.events import build_event, build_record
    from lakebox.process.handler import lambda_handler

    aws = function_env
    assert _process(aws, "us-east-1")["runs"][0]["status"] == "ok"
    aws.client("s3").put_object(Bucket=aws.bucket, Key="raw/orders.csv", Body=CSV + b"2,bob,1.00,shipped,2025-01-06\n")
    collisions: list[str] = []

    def collide_once(request: Any) -> Any:
        if (header(request, "X-Amz-Target") or "").endswith("UpdateTable") and not collisions:
            collisions.append("UpdateTable")
            return answer(request, 400, b'{"__type": "ConcurrentModificationException", '
                                        b'"Message": "Update table failed due to concurrent modifications."}')
        return None

    with answering("glue", collide_once):
        out = lambda_handler(build_event(build_record("raw/orders.csv", bucket=aws.bucket, size=10)))
    assert collisions, "the collision was injected"
    assert out["runs"][0]["status"] == "ok", out
    table = aws.client("glue").get_table(DatabaseName="orders_db", Name="orders_processed")["Table"]
    assert table["Parameters"]["recordCount"] == "2"

"""S3Store against moto running as a real HTTP server (boto3 over HTTP, no in-process mocks), and the handler
processing an S3 object through it (outputs on S3, the table in Glue, the Lambda entry point).

The moto fixtures and the shared helpers (``CSV``, ``make_store``, ``glue_settings``) are in ``conftest_aws``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from conftest_aws import (
    CSV,
    AwsEnv,
    aws_fixture,  # noqa: F401 - the fixture aws
    glue_settings,
    make_store,
    moto_server_fixture,  # noqa: F401 - the fixture moto_server
)

from lakebox.catalog.crawl import open_catalog
from lakebox.catalog.glue import GlueCatalog
from lakebox.events import build_event, build_record
from lakebox.store import open_store
from lakebox.store.base import InvalidKeyError, NoSuchKeyError
from lakebox.store.s3 import S3Store

pytestmark = pytest.mark.aws


# --- S3Store ------------------------------------------------------------------------------------------------

def test_s3store_is_lazy_and_parses_urls() -> None:
    store = open_store("s3://my-bucket/some/prefix/", endpoint_url="http://127.0.0.1:1", region="eu-west-1")
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix, store.url) == ("my-bucket", "some/prefix/", "s3://my-bucket/some/prefix")
    assert store._clients._client is None  # no client (and no credentials) needed until the first call
    assert S3Store.from_url("s3://b").url == "s3://b"
    assert store.local_path("raw/a.csv") is None


def test_s3store_round_trip(aws: AwsEnv) -> None:
    store = make_store(aws)
    info = store.put_object("raw/a.csv", b"x,y\n1,2\n")
    assert info.size == 8 and '"' not in info.etag and len(info.etag) == 32
    assert store.get_object("raw/a.csv") == b"x,y\n1,2\n"
    head = store.head_object("raw/a.csv")
    assert (head.size, head.etag) == (8, info.etag)
    assert head.modified.tzinfo is not None
    with store.open_object("raw/a.csv") as body:  # streaming: read in pieces
        assert body.read(3) == b"x,y" and body.read() == b"\n1,2\n"
    assert store.exists("raw/a.csv") and not store.exists("raw/b.csv")
    with pytest.raises(NoSuchKeyError):
        store.get_object("raw/b.csv")
    with pytest.raises(NoSuchKeyError):
        store.head_object("raw/b.csv")
    store.delete_object("raw/a.csv")
    store.delete_object("raw/a.csv")  # deleting twice is fine, as on S3 and locally
    assert not store.exists("raw/a.csv")


def test_s3store_listing_sorted_paginated_and_hides_temp_names(aws: AwsEnv) -> None:
    store = make_store(aws)
    keys = [f"processed/part-{i:04d}.parquet" for i in range(1005)]  # > 1000: ListObjectsV2 pages
    client = aws.client("s3")
    for k in reversed(keys):
        client.put_object(Bucket=aws.bucket, Key=k, Body=b"p")
    client.put_object(Bucket=aws.bucket, Key="processed/.lakebox-tmp-abc-x.parquet.tmp", Body=b"half")
    client.put_object(Bucket=aws.bucket, Key="raw/x.csv", Body=b"r")
    listed = [o.key for o in store.list_objects_v2("processed/")]
    assert listed == keys
    assert [o.key for o in store.list_objects_v2()][-1] == "raw/x.csv"
    assert [o.key for o in store.list_objects_v2("raw/")] == ["raw/x.csv"]


def test_s3store_prefix_is_transparent(aws: AwsEnv) -> None:
    store = make_store(aws, "lakes/one")
    store.put_object("raw/a.csv", b"1")
    raw = aws.client("s3").list_objects_v2(Bucket=aws.bucket)["Contents"]
    assert [o["Key"] for o in raw] == ["lakes/one/raw/a.csv"]
    assert [o.key for o in store.list_objects_v2()] == ["raw/a.csv"]
    other = S3Store(aws.bucket, "lakes/two", endpoint_url=aws.endpoint_url, region=aws.region)
    assert list(other.list_objects_v2()) == []


@pytest.mark.parametrize("key", ["", "/abs/key", "a/../b", "a//b", "a\\b", "./a", "nul\x00key", "x" * 1100])
def test_s3store_key_rules_match_local(aws: AwsEnv, key: str) -> None:
    store = make_store(aws)
    with pytest.raises(InvalidKeyError):
        store.put_object(key, b"1")
    with pytest.raises(InvalidKeyError):
        store.get_object(key)


def test_s3store_multipart_upload_for_large_files(aws: AwsEnv, tmp_path: Path) -> None:
    mib = 1024 * 1024
    store = make_store(aws, multipart_threshold=5 * mib, multipart_chunksize=5 * mib)
    src = tmp_path / "big.parquet"
    payload = bytes(range(256)) * (11 * mib // 256)  # 11 MiB -> 3 parts of at most 5 MiB
    src.write_bytes(payload)
    info = store.upload_file("processed/big.parquet", src)
    assert info.etag.endswith("-3"), info.etag  # S3's multipart ETag: <md5 of part md5s>-<parts>
    assert info.size == len(payload)
    assert store.get_object("processed/big.parquet") == payload
    assert src.exists()  # the caller owns its file, as with LocalStore's copy


def test_s3store_readers_never_see_half_an_object(aws: AwsEnv) -> None:
    """Writers replace an object while readers read it: every read is entirely the old or the new body."""
    store = make_store(aws)
    size = 256 * 1024
    bodies = [b"a" * size, b"b" * size]
    store.put_object("processed/x.parquet", bodies[0])
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for i in range(30):
                store.put_object("processed/x.parquet", bodies[i % 2])
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
            raise
        finally:
            stop.set()

    t = threading.Thread(target=writer)
    t.start()
    reads = 0
    while not stop.is_set() or reads < 5:
        data = store.get_object("processed/x.parquet")
        assert data in bodies, f"torn read: {len(data)} bytes, {set(data)}"
        reads += 1
        if reads > 500:
            break
    t.join(timeout=60)
    assert not errors


# --- the handler on S3 --------------------------------------------------------------------------------------

def test_handler_processes_an_s3_object_and_updates_glue(aws: AwsEnv) -> None:
    from lakebox.catalog.crawl import CatalogUpdater
    from lakebox.process.handler import process_object

    store = make_store(aws)
    settings = glue_settings(aws)
    open_catalog(settings, store).create_database("orders_db")  # the stack creates it on AWS
    store.put_object("raw/orders.csv", CSV)
    after = CatalogUpdater.open(settings, store).update_for_run
    run = process_object(settings, store, "raw/orders.csv", after=after)
    assert run.status == "ok", run.error
    assert (run.rows_read, run.rows_kept, run.rows_dropped, run.rows_quarantined) == (4, 2, 1, 1)
    assert run.balanced
    s3 = aws.client("s3")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=aws.bucket)["Contents"]}
    assert {"processed/orders.parquet", "quarantine/orders.csv"} <= keys
    assert s3.get_object(Bucket=aws.bucket, Key="processed/orders.parquet")["Body"].read(4) == b"PAR1"
    quarantine = store.get_object("quarantine/orders.csv").decode()
    assert "bob" in quarantine and "decimal" in quarantine
    assert any(k.startswith("_lakebox/state/") for k in keys)

    table = open_catalog(settings, store).get_table("orders_db", "orders_processed")
    assert table is not None
    assert [c.name for c in table.columns][:2] == ["order_id", "customer_id"]
    assert table.location == "processed/" and table.row_count == 2 and table.format == "parquet"
    glue_raw = aws.client("glue").get_table(DatabaseName="orders_db", Name="orders_processed")["Table"]
    assert glue_raw["StorageDescriptor"]["Location"] == f"s3://{aws.bucket}/processed/"
    assert glue_raw["TableType"] == "EXTERNAL_TABLE"

    # Same ETag again: idempotent, nothing written.
    again = process_object(settings, store, "raw/orders.csv", after=after)
    assert again.status == "skipped"


def test_lambda_handler_entry_point_on_s3(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    from lakebox.process.handler import lambda_handler

    store = make_store(aws)
    store.put_object("raw/2025/orders one.csv", CSV)
    monkeypatch.setenv("LAKEBOX_LAKE", aws.lake())
    monkeypatch.setenv("LAKEBOX_ENDPOINT_URL", aws.endpoint_url)
    monkeypatch.setenv("LAKEBOX_CATALOG", "glue")
    monkeypatch.setenv("LAKEBOX_AS_OF", "2025-02-01")
    GlueCatalog(aws.lake(), endpoint_url=aws.endpoint_url, region=aws.region).create_database("orders_db")
    event = build_event(build_record("raw/2025/orders one.csv", bucket=aws.bucket, size=len(CSV)))
    out = lambda_handler(event, None)
    assert out["status"] == "ok"
    assert [r["status"] for r in out["runs"]] == ["ok"]
    assert store.exists("processed/2025/orders one.parquet")
    assert store.exists("quarantine/2025/orders one.csv")
    assert lambda_handler({"Event": "s3:TestEvent", "Service": "Amazon S3"}, None)["runs"] == []

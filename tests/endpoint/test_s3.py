"""S3 through the endpoint, driven by boto3 over HTTP: buckets, objects, listings, ranges, copies, multipart
uploads with S3's ETags, and the S3 event that runs lakebox's own processing."""

from __future__ import annotations

import hashlib
import http.client
import os
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from waiting import wait_until

from .conftest import Endpoint, error_code

B = "lakebox"


def test_buckets(s3: Any, endpoint: Endpoint) -> None:
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [B]
    s3.head_bucket(Bucket=B)
    s3.create_bucket(Bucket="my-orders-bucket")
    assert {b["Name"] for b in s3.list_buckets()["Buckets"]} == {B, "my-orders-bucket"}
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="my-orders-bucket")
    assert error_code(e) == "BucketAlreadyOwnedByYou"
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="nope-bucket")
    assert e.value.response["Error"]["Code"] == "404"
    s3.put_object(Bucket="my-orders-bucket", Key="x.txt", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="my-orders-bucket")
    assert error_code(e) == "BucketNotEmpty"
    s3.delete_object(Bucket="my-orders-bucket", Key="x.txt")
    s3.delete_bucket(Bucket="my-orders-bucket")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [B]


def test_put_get_head_delete_with_md5_etags(s3: Any, endpoint: Endpoint) -> None:
    body = b"OrderID,Customer\nO1,Bob\n"
    put = s3.put_object(Bucket=B, Key="notes/a b+c.csv", Body=body, ContentType="text/csv",
                        Metadata={"source": "test"})
    md5 = '"' + hashlib.md5(body).hexdigest() + '"'
    assert put["ETag"] == md5
    got = s3.get_object(Bucket=B, Key="notes/a b+c.csv")
    assert got["Body"].read() == body
    assert (got["ETag"], got["ContentType"], got["Metadata"]) == (md5, "text/csv", {"source": "test"})
    head = s3.head_object(Bucket=B, Key="notes/a b+c.csv")
    assert (head["ContentLength"], head["ETag"]) == (len(body), md5)
    assert (endpoint.lake / "notes" / "a b+c.csv").read_bytes() == body  # the object is a file in the lake
    s3.delete_object(Bucket=B, Key="notes/a b+c.csv")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=B, Key="notes/a b+c.csv")
    assert error_code(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=B, Key="notes/a b+c.csv")
    assert e.value.response["Error"]["Code"] == "404"
    s3.delete_object(Bucket=B, Key="never/existed")  # S3 answers 204 for a missing key too


def test_objects_written_by_lakebox_get_their_md5(s3: Any, endpoint: Endpoint) -> None:
    (endpoint.lake / "processed" / "side.csv").write_bytes(b"a,b\n1,2\n")
    head = s3.head_object(Bucket=B, Key="processed/side.csv")
    assert head["ETag"] == '"' + hashlib.md5(b"a,b\n1,2\n").hexdigest() + '"'


def test_ranges(s3: Any) -> None:
    s3.put_object(Bucket=B, Key="r.bin", Body=bytes(range(100)))
    part = s3.get_object(Bucket=B, Key="r.bin", Range="bytes=10-19")
    assert part["Body"].read() == bytes(range(10, 20))
    assert part["ContentRange"] == "bytes 10-19/100"
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert s3.get_object(Bucket=B, Key="r.bin", Range="bytes=-5")["Body"].read() == bytes(range(95, 100))
    assert s3.get_object(Bucket=B, Key="r.bin", Range="bytes=98-")["Body"].read() == bytes([98, 99])
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=B, Key="r.bin", Range="bytes=100-200")
    assert error_code(e) == "InvalidRange"


def test_copy_and_delete_objects(s3: Any) -> None:
    s3.put_object(Bucket=B, Key="src/one.txt", Body=b"one", ContentType="text/plain")
    out = s3.copy_object(Bucket=B, Key="dst/one.txt", CopySource={"Bucket": B, "Key": "src/one.txt"})
    assert out["CopyObjectResult"]["ETag"] == '"' + hashlib.md5(b"one").hexdigest() + '"'
    assert s3.get_object(Bucket=B, Key="dst/one.txt")["ContentType"] == "text/plain"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=B, Key="dst/two.txt", CopySource={"Bucket": B, "Key": "src/missing.txt"})
    assert error_code(e) == "NoSuchKey"
    res = s3.delete_objects(Bucket=B, Delete={"Objects": [{"Key": "src/one.txt"}, {"Key": "dst/one.txt"},
                                                          {"Key": "_lakebox/catalog.sqlite"}]})
    assert sorted(d["Key"] for d in res["Deleted"]) == ["dst/one.txt", "src/one.txt"]
    assert [(x["Key"], x["Code"]) for x in res["Errors"]] == [("_lakebox/catalog.sqlite", "AccessDenied")]
    assert s3.list_objects_v2(Bucket=B, Prefix="src/")["KeyCount"] == 0


def test_list_objects_v2_prefix_delimiter_and_pages(s3: Any) -> None:
    keys = [f"data/{d}/f{i:03d}.csv" for d in ("a", "b") for i in range(7)] + ["data/top.csv", "other.csv"]
    for k in keys:
        s3.put_object(Bucket=B, Key=k, Body=b"x")
    top = s3.list_objects_v2(Bucket=B, Prefix="data/", Delimiter="/")
    assert [c["Prefix"] for c in top["CommonPrefixes"]] == ["data/a/", "data/b/"]
    assert [o["Key"] for o in top["Contents"]] == ["data/top.csv"]
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=B, Prefix="data/", PaginationConfig={
        "PageSize": 4}))
    assert len(pages) == 4
    assert all(p["KeyCount"] <= 4 for p in pages)
    listed = [o["Key"] for p in pages for o in p.get("Contents", [])]
    assert listed == sorted(k for k in keys if k.startswith("data/"))
    first = s3.list_objects_v2(Bucket=B, MaxKeys=2)
    assert first["IsTruncated"] and first["KeyCount"] == 2
    rest = s3.list_objects_v2(Bucket=B, ContinuationToken=first["NextContinuationToken"])
    assert not rest["IsTruncated"]
    everything = [o["Key"] for o in first["Contents"] + rest["Contents"]]
    assert everything == sorted(keys)  # lakebox's own _lakebox/ state is never listed
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=B, StartAfter="data/b/f006.csv")["Contents"]] == \
        ["data/top.csv", "other.csv"]
    assert [o["Key"] for o in s3.list_objects(Bucket=B, Prefix="data/a/", MaxKeys=3)["Contents"]] == keys[:3]


def test_multipart_upload_of_20_mb_file(s3: Any, tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = os.urandom(20 * 1024 * 1024)
    path.write_bytes(data)
    cfg = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024)
    s3.upload_file(str(path), B, "uploads/big.bin", Config=cfg)
    head = s3.head_object(Bucket=B, Key="uploads/big.bin")
    chunks = [data[i:i + 8 * 1024 * 1024] for i in range(0, len(data), 8 * 1024 * 1024)]
    expected = hashlib.md5(b"".join(hashlib.md5(c).digest() for c in chunks)).hexdigest() + "-3"
    assert head["ETag"] == f'"{expected}"'
    assert head["ContentLength"] == len(data)
    out = tmp_path / "back.bin"
    s3.download_file(B, "uploads/big.bin", str(out), Config=cfg)  # ranged GETs in parallel
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(data).digest()


def test_multipart_api_parts_abort_and_errors(s3: Any) -> None:
    up = s3.create_multipart_upload(Bucket=B, Key="mp/x.bin")["UploadId"]
    p1 = s3.upload_part(Bucket=B, Key="mp/x.bin", UploadId=up, PartNumber=1, Body=b"a" * (5 * 1024 * 1024))
    p2 = s3.upload_part(Bucket=B, Key="mp/x.bin", UploadId=up, PartNumber=2, Body=b"tail")
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=B, Key="mp/x.bin", UploadId=up)["Parts"]] == [1, 2]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=B, Key="mp/x.bin", UploadId=up, MultipartUpload={"Parts": [
            {"PartNumber": 2, "ETag": p2["ETag"]}, {"PartNumber": 1, "ETag": p1["ETag"]}]})
    assert error_code(e) == "InvalidPartOrder"
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=B, Key="mp/x.bin", UploadId=up, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": '"0000"'}]})
    assert error_code(e) == "InvalidPart"
    s3.complete_multipart_upload(Bucket=B, Key="mp/x.bin", UploadId=up, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]})
    assert s3.get_object(Bucket=B, Key="mp/x.bin", Range="bytes=-4")["Body"].read() == b"tail"
    small = s3.create_multipart_upload(Bucket=B, Key="mp/y.bin")["UploadId"]
    q1 = s3.upload_part(Bucket=B, Key="mp/y.bin", UploadId=small, PartNumber=1, Body=b"short")
    q2 = s3.upload_part(Bucket=B, Key="mp/y.bin", UploadId=small, PartNumber=2, Body=b"short")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=B, Key="mp/y.bin", UploadId=small, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": q1["ETag"]}, {"PartNumber": 2, "ETag": q2["ETag"]}]})
    assert error_code(e) == "EntityTooSmall"
    s3.abort_multipart_upload(Bucket=B, Key="mp/y.bin", UploadId=small)
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=B, Key="mp/y.bin", UploadId=small, PartNumber=3, Body=b"late")
    assert error_code(e) == "NoSuchUpload"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=B, Prefix="mp/")["Contents"]] == ["mp/x.bin"]


def test_virtual_hosted_style(endpoint: Endpoint, s3: Any) -> None:
    """``<bucket>.localhost`` in the Host header names the bucket (this machine need not resolve it)."""
    port = int(endpoint.url.rsplit(":", 1)[1])
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    con.request("PUT", "/vh/key.txt", body=b"virtual", headers={"Host": f"{B}.localhost:{port}"})
    assert con.getresponse().read() == b""
    assert (endpoint.lake / "vh" / "key.txt").read_bytes() == b"virtual"
    con.request("GET", "/?list-type=2&prefix=vh/", headers={"Host": f"{B}.s3.localhost:{port}"})
    assert b"<Key>vh/key.txt</Key>" in con.getresponse().read()
    assert s3.get_object(Bucket=B, Key="vh/key.txt")["Body"].read() == b"virtual"


def test_upload_to_raw_runs_lakebox_processing(s3: Any, athena: Any, glue: Any, endpoint: Endpoint,
                                               orders_csv: Path) -> None:
    s3.upload_file(str(orders_csv), B, "raw/orders.csv")

    def records() -> int:
        tables = glue.get_tables(DatabaseName="orders_db")["TableList"]
        return sum(int(t["Parameters"]["recordCount"]) for t in tables if t["Name"] == "orders_processed")

    kept = wait_until(records, what="the processed table in the catalog")
    from .test_athena import run_query

    rows = run_query(athena, "SELECT count(*) FROM orders_db.orders_processed")
    assert int(rows[1][0]) == kept
    s3.copy_object(Bucket=B, Key="raw/copy/orders.csv", CopySource=f"{B}/raw/orders.csv")
    wait_until(lambda: records() == 2 * kept, what="the copied file's rows in the table")
    assert (endpoint.lake / "processed" / "copy" / "orders.parquet").exists()
    up = s3.create_multipart_upload(Bucket=B, Key="raw/mp/orders.csv")["UploadId"]
    part = s3.upload_part(Bucket=B, Key="raw/mp/orders.csv", UploadId=up, PartNumber=1, Body=orders_csv.read_bytes())
    s3.complete_multipart_upload(Bucket=B, Key="raw/mp/orders.csv", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    wait_until(lambda: records() == 3 * kept, what="the multipart upload's rows in the table")


@pytest.mark.parametrize("body, sha", [
    (b"5;chunk-signature=" + b"a" * 64 + b"\r\nhello\r\n6;chunk-signature=" + b"b" * 64 + b"\r\n world\r\n"
     b"0;chunk-signature=" + b"c" * 64 + b"\r\n\r\n", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
    (b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
])
def test_aws_chunked_uploads_are_decoded(endpoint: Endpoint, s3: Any, body: bytes, sha: str) -> None:
    """SDKs stream uploads as ``aws-chunked`` (chunk signatures or trailing checksums); the object is the payload."""
    port = int(endpoint.url.rsplit(":", 1)[1])
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    con.request("PUT", f"/{B}/chunked.txt", body=body, headers={
        "Content-Encoding": "aws-chunked", "x-amz-content-sha256": sha, "x-amz-decoded-content-length": "11"})
    resp = con.getresponse()
    assert resp.status == 200, resp.read()
    assert resp.getheader("ETag") == '"' + hashlib.md5(b"hello world").hexdigest() + '"'
    assert s3.get_object(Bucket=B, Key="chunked.txt")["Body"].read() == b"hello world"


def test_conditional_get(s3: Any) -> None:
    etag = s3.put_object(Bucket=B, Key="c.txt", Body=b"v1")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=B, Key="c.txt", IfNoneMatch=etag)
    assert e.value.response["Error"]["Code"] == "304"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=B, Key="c.txt", IfMatch='"other"')
    assert error_code(e) == "PreconditionFailed"
    assert s3.get_object(Bucket=B, Key="c.txt", IfMatch=etag)["Body"].read() == b"v1"


def test_processing_in_another_bucket_lands_in_the_account_catalog(s3: Any, glue: Any, athena: Any,
                                                                    orders_csv: Path) -> None:
    s3.create_bucket(Bucket="my-orders-bucket")
    s3.upload_file(str(orders_csv), "my-orders-bucket", "raw/orders.csv")

    def table() -> dict[str, Any] | None:
        try:
            return glue.get_table(DatabaseName="orders_db", Name="orders_processed")["Table"]  # type: ignore[no-any-return]
        except ClientError:
            return None

    t = wait_until(table, what="the other bucket's table in the catalog")
    assert t["StorageDescriptor"]["Location"] == "s3://my-orders-bucket/processed/"
    from .test_athena import run_query

    rows = run_query(athena, "SELECT count(*) FROM orders_db.orders_processed")
    assert int(rows[1][0]) == int(t["Parameters"]["recordCount"]) > 0


def test_managed_copy_of_a_large_object_uses_part_copies(s3: Any) -> None:
    data = os.urandom(9 * 1024 * 1024)
    s3.put_object(Bucket=B, Key="big/src.bin", Body=data)
    cfg = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    s3.copy({"Bucket": B, "Key": "big/src.bin"}, B, "big/dst.bin", Config=cfg)  # UploadPartCopy x2
    head = s3.head_object(Bucket=B, Key="big/dst.bin")
    assert head["ETag"].endswith('-2"') and head["ContentLength"] == len(data)
    assert s3.get_object(Bucket=B, Key="big/dst.bin")["Body"].read() == data


def test_listing_from_the_top_keeps_s3_key_order(s3: Any, endpoint: Endpoint) -> None:
    for key in ("a.txt", "a/b.txt", "a-b.txt", "a0.txt", "z.txt"):
        s3.put_object(Bucket=B, Key=key, Body=b"x")
    (endpoint.lake / ".lakebox-tmp-123-half.csv.tmp").write_bytes(b"partial")  # a write in progress
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=B)["Contents"]]
    assert keys == sorted(keys) == ["a-b.txt", "a.txt", "a/b.txt", "a0.txt", "z.txt"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=B, Prefix="a")["Contents"]] == keys[:4]


def test_boto3_resource_api(endpoint: Endpoint) -> None:
    import boto3

    from .conftest import CREDS

    s3 = boto3.resource("s3", endpoint_url=endpoint.url, **CREDS)
    bucket = s3.Bucket(B)
    for i in range(5):
        bucket.put_object(Key=f"res/{i}.txt", Body=f"v{i}".encode())
    assert s3.Object(B, "res/3.txt").get()["Body"].read().decode("utf-8") == "v3"
    assert [o.key for o in bucket.objects.filter(Prefix="res/").page_size(2)] == [f"res/{i}.txt" for i in range(5)]
    bucket.objects.filter(Prefix="res/").delete()  # DeleteObjects in batches
    assert list(bucket.objects.filter(Prefix="res/")) == []


def test_empty_objects(s3: Any, endpoint: Endpoint) -> None:
    """boto3 sends Expect: 100-continue with an empty body; the endpoint must still answer."""
    assert s3.put_object(Bucket=B, Key="empty.txt", Body=b"")["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert s3.get_object(Bucket=B, Key="empty.txt")["Body"].read() == b""
    s3.put_object(Bucket=B, Key="folder/", Body=b"")  # the console's "create folder"
    assert (endpoint.lake / "folder").is_dir()

"""Bad requests get AWS's own errors, in each protocol's format, never a 500 with a traceback: unknown and
unsupported actions, missing and out-of-range parameters, bad bucket names, keys outside the lake, bad
signatures (when credentials are set), malformed XML and JSON, foreign Host headers."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree as ET

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lakebox.config import load_settings
from lakebox.endpoint.server import EndpointError, make_server

from .conftest import Endpoint, error_code

B = "lakebox"


def raw(endpoint: Endpoint, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
        ) -> tuple[int, dict[str, str], bytes]:
    port = int(endpoint.url.rsplit(":", 1)[1])
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    con.request(method, path, body=body, headers=headers or {})
    resp = con.getresponse()
    data = resp.read()
    con.close()
    assert resp.status < 500 or resp.status == 501, data
    assert b"Traceback" not in data
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def s3_error(body: bytes) -> dict[str, str]:
    root = ET.fromstring(body)
    assert root.tag == "Error"
    return {c.tag: c.text or "" for c in root}


def json_error(endpoint: Endpoint, target: str, body: bytes) -> tuple[int, dict[str, Any]]:
    status, headers, data = raw(endpoint, "POST", "/", body, {
        "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"})
    err = json.loads(data)
    assert headers["x-amzn-errortype"] == err["__type"]
    return status, err


def test_unknown_and_unsupported_actions(endpoint: Endpoint) -> None:
    status, err = json_error(endpoint, "AWSGlue.NoSuchAction", b"{}")
    assert (status, err["__type"]) == (400, "UnknownOperationException")
    glue = endpoint.client("glue")
    with pytest.raises(ClientError) as e:
        glue.create_job(Name="j", Role="r", Command={"Name": "glueetl"})
    assert error_code(e) == "UnknownOperationException" and "CreateJob" in str(e.value)
    s3 = endpoint.client("s3")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket=B)
    assert error_code(e) == "NotImplemented"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    status, _, body = raw(endpoint, "PATCH", f"/{B}/x")
    assert status == 405 and s3_error(body)["Code"] == "MethodNotAllowed"


def test_missing_and_invalid_parameters(endpoint: Endpoint) -> None:
    athena = endpoint.client("athena", parameter_validation=False)
    with pytest.raises(ClientError) as e:
        athena.start_query_execution()
    assert error_code(e) == "ValidationException"
    assert "Value null at 'queryString' failed to satisfy constraint: Member must not be null" in str(e.value)
    with pytest.raises(ClientError) as e:
        athena.get_query_results(QueryExecutionId="x" * 36, MaxResults=5000)
    assert error_code(e) == "ValidationException" and "less than or equal to 1000" in str(e.value)
    glue = endpoint.client("glue", parameter_validation=False)
    with pytest.raises(ClientError) as e:
        glue.get_table(DatabaseName="orders_db")
    assert error_code(e) == "ValidationException" and "'name'" in str(e.value)
    status, err = json_error(endpoint, "AmazonAthena.StartQueryExecution", b'{"QueryString": 5}')
    assert (status, err["__type"]) == (400, "SerializationException")
    with pytest.raises(ClientError) as e:
        athena.get_query_execution(QueryExecutionId="00000000-0000-0000-0000-000000000000")
    assert error_code(e) == "InvalidRequestException"


def test_malformed_json_and_xml(endpoint: Endpoint) -> None:
    for body in (b"{not json", b"[1, 2]", b'"text"'):
        status, err = json_error(endpoint, "AmazonAthena.ListWorkGroups", body)
        assert (status, err["__type"]) == (400, "SerializationException")
    status, _, body = raw(endpoint, "POST", f"/{B}?delete", b"<Delete><Object><Key>a</Key></Delete>")
    assert status == 400 and s3_error(body)["Code"] == "MalformedXML"
    status, _, body = raw(endpoint, "POST", f"/{B}?delete", b'<!DOCTYPE x [<!ENTITY a "b">]><Delete/>')
    assert status == 400 and s3_error(body)["Code"] == "MalformedXML"
    s3 = endpoint.client("s3")
    up = s3.create_multipart_upload(Bucket=B, Key="k")["UploadId"]
    status, _, body = raw(endpoint, "POST", f"/{B}/k?uploadId={up}", b"<NotAnUpload/>")
    assert status == 400 and s3_error(body)["Code"] == "MalformedXML"


def test_bad_bucket_names(endpoint: Endpoint) -> None:
    s3 = endpoint.client("s3")
    for name in ("Bad_Bucket", "ab", "a..b", "192.168.1.1"):
        with pytest.raises(ClientError) as e:
            s3.create_bucket(Bucket=name)
        assert error_code(e) == "InvalidBucketName", name
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="no-such-bucket")
    assert error_code(e) == "NoSuchBucket"


def test_keys_outside_the_lake(endpoint: Endpoint, tmp_path: Any) -> None:
    s3 = endpoint.client("s3")
    for key in ("../escape.txt", "a/../../escape.txt", "a//b.txt", "./x"):
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=B, Key=key, Body=b"x")
        assert error_code(e) == "InvalidArgument", key
    status, _, body = raw(endpoint, "PUT", f"/{B}/%2E%2E/%2E%2E/escape.txt", b"x")
    assert status == 400 and s3_error(body)["Code"] == "InvalidArgument"
    assert not list(tmp_path.rglob("escape.txt"))
    for key in ("_lakebox/catalog.sqlite", "_lakebox/runs/x.json"):
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket=B, Key=key)
        assert error_code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=B, Key="_lakebox/catalog.sqlite", Body=b"overwrite")
    assert error_code(e) == "AccessDenied"
    status, headers, body = raw(endpoint, "HEAD", f"/{B}/missing.txt")
    assert status == 404 and body == b""


def test_foreign_host_header_is_refused(endpoint: Endpoint) -> None:
    status, _, body = raw(endpoint, "GET", "/", headers={"Host": "evil.example:80"})
    assert status == 403 and s3_error(body)["Code"] == "AccessDenied"


@pytest.fixture
def secured(start_endpoint: Callable[..., Endpoint]) -> Endpoint:
    return start_endpoint(endpoint_access_key="AKIDLAKEBOX", endpoint_secret_key="lakebox-secret")


def _client(ep: Endpoint, service: str, key: str, secret: str) -> Any:
    return boto3.client(service, endpoint_url=ep.url, aws_access_key_id=key, aws_secret_access_key=secret,
                        region_name="us-east-1", config=Config(retries={"max_attempts": 1}))


def test_signatures_when_credentials_are_set(secured: Endpoint) -> None:
    good = {s: _client(secured, s, "AKIDLAKEBOX", "lakebox-secret") for s in ("s3", "glue", "athena")}
    good["s3"].put_object(Bucket=B, Key="signed/a b.txt", Body=b"ok")
    assert good["s3"].get_object(Bucket=B, Key="signed/a b.txt")["Body"].read() == b"ok"
    assert good["s3"].list_objects_v2(Bucket=B, Prefix="signed/")["KeyCount"] == 1
    assert good["glue"].get_databases()["DatabaseList"]
    assert good["athena"].list_work_groups()["WorkGroups"]
    url = good["s3"].generate_presigned_url("get_object", Params={"Bucket": B, "Key": "signed/a b.txt"})
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - a local http URL
        assert resp.read() == b"ok"

    v4 = boto3.client("s3", endpoint_url=secured.url, aws_access_key_id="AKIDLAKEBOX",
                      aws_secret_access_key="lakebox-secret", region_name="us-east-1",
                      config=Config(signature_version="s3v4"))
    put_url = v4.generate_presigned_url("put_object", Params={"Bucket": B, "Key": "signed/put.txt"})
    req = urllib.request.Request(put_url, data=b"presigned", method="PUT")
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - a local http URL
        assert resp.status == 200
    assert good["s3"].get_object(Bucket=B, Key="signed/put.txt")["Body"].read() == b"presigned"
    tampered = put_url.replace("signed%2Fput.txt", "signed%2Fother.txt").replace("signed/put.txt", "signed/other.txt")
    with pytest.raises(urllib.error.HTTPError) as http_err:
        urllib.request.urlopen(urllib.request.Request(tampered, data=b"x", method="PUT"), timeout=10)  # noqa: S310
    assert http_err.value.code == 403

    bad = {s: _client(secured, s, "AKIDLAKEBOX", "wrong-secret") for s in ("s3", "glue", "athena")}
    with pytest.raises(ClientError) as e:
        bad["s3"].get_object(Bucket=B, Key="signed/a b.txt")
    assert error_code(e) == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as e:
        bad["glue"].get_databases()
    assert error_code(e) == "InvalidSignatureException"
    with pytest.raises(ClientError) as e:
        bad["athena"].list_work_groups()
    assert error_code(e) == "InvalidSignatureException"
    with pytest.raises(ClientError) as e:
        _client(secured, "s3", "AKIDOTHER", "lakebox-secret").list_buckets()
    assert error_code(e) == "InvalidAccessKeyId"
    with pytest.raises(ClientError) as e:
        _client(secured, "glue", "AKIDOTHER", "lakebox-secret").get_databases()
    assert error_code(e) == "UnrecognizedClientException"
    status, _, body = raw(secured, "GET", f"/{B}/signed/a%20b.txt")
    assert status == 403 and s3_error(body)["Code"] == "AccessDenied"
    status, err = json_error(secured, "AWSGlue.GetDatabases", b"{}")
    assert status == 403 and err["__type"] == "MissingAuthenticationTokenException"


def test_beyond_loopback_needs_credentials(tmp_path: Any) -> None:
    settings = load_settings({"lake": str(tmp_path / "lake")}, env={})
    with pytest.raises(EndpointError, match="without credentials"):
        make_server(settings, "0.0.0.0", 0)  # noqa: S104 - the point of the test


def test_unexpected_failure_is_an_aws_error_without_traceback(endpoint: Endpoint,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> list[str]:
        raise RuntimeError("disk on fire at /secret/path")

    monkeypatch.setattr(endpoint.app.backend, "databases", boom)
    port = int(endpoint.url.rsplit(":", 1)[1])
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    con.request("POST", "/", body=b"{}", headers={"X-Amz-Target": "AWSGlue.GetDatabases"})
    resp = con.getresponse()
    body = resp.read()
    assert resp.status == 500
    assert json.loads(body)["__type"] == "InternalFailure"
    assert b"Traceback" not in body and b"/secret/path" not in body
    assert endpoint.client("s3").list_buckets()["Buckets"]  # the endpoint keeps serving


def test_cross_site_browser_requests_are_refused(endpoint: Endpoint) -> None:
    s3 = endpoint.client("s3")
    s3.put_object(Bucket=B, Key="keep/me.txt", Body=b"x")
    delete = b"<Delete><Object><Key>keep/me.txt</Key></Object></Delete>"
    for headers in ({"Origin": "http://evil.example", "Content-Type": "text/plain"},
                    {"Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"}):
        status, _, body = raw(endpoint, "POST", f"/{B}?delete", delete, headers)
        assert status == 403 and s3_error(body)["Code"] == "AccessDenied"
    assert s3.get_object(Bucket=B, Key="keep/me.txt")["Body"].read() == b"x"


def test_get_bucket_location(endpoint: Endpoint) -> None:
    s3 = endpoint.client("s3")
    assert s3.get_bucket_location(Bucket=B)["LocationConstraint"] is None  # us-east-1, as S3 answers it
    with pytest.raises(ClientError) as e:
        s3.get_bucket_location(Bucket="nope-bucket")
    assert error_code(e) == "NoSuchBucket"


@pytest.mark.parametrize("location", ["/etc/", "file:///etc/", "s3://lakebox/../../etc/", "s3://lakebox/a/../../x/",
                                      "s3://lakebox/_lakebox/", "s3://no-such-bucket/x/", "s3://../x/",
                                      "s3://../../etc/"])
def test_table_locations_cannot_leave_the_lake(endpoint: Endpoint, location: str) -> None:
    glue = endpoint.client("glue")
    table = {"Name": "t", "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "string"}], "Location": location}}
    with pytest.raises(ClientError) as e:
        glue.create_table(DatabaseName="orders_db", TableInput=table)
    assert error_code(e) == "InvalidInputException"
    athena = endpoint.client("athena")
    qid = athena.start_query_execution(QueryString=f"CREATE EXTERNAL TABLE t2 (a string) LOCATION '{location}'")[
        "QueryExecutionId"]
    from .test_athena import finish

    ex = finish(athena, qid)
    assert ex["Status"]["State"] == "FAILED" and "INVALID_TABLE_PROPERTY" in ex["Status"]["StateChangeReason"]
    assert glue.get_tables(DatabaseName="orders_db")["TableList"] == []


@pytest.mark.parametrize("output", ["/tmp/results/", "s3://lakebox/../../tmp/", "s3://lakebox/_lakebox/x/",
                                    "s3://no-such-bucket/results/", "s3://../", "s3://../x/"])
def test_output_locations_cannot_leave_the_lake(endpoint: Endpoint, output: str) -> None:
    with pytest.raises(ClientError) as e:
        endpoint.client("athena").start_query_execution(QueryString="SELECT 1",
                                                        ResultConfiguration={"OutputLocation": output})
    assert error_code(e) == "InvalidRequestException"


def test_s3_request_missing_a_parameter(endpoint: Endpoint) -> None:
    up = endpoint.client("s3").create_multipart_upload(Bucket=B, Key="k")["UploadId"]
    status, _, body = raw(endpoint, "PUT", f"/{B}/k?partNumber=1", b"data")  # no uploadId
    assert status == 400 and s3_error(body)["Code"] == "InvalidRequest" and "uploadId" in s3_error(body)["Message"]
    status, _, body = raw(endpoint, "PUT", f"/{B}/k?uploadId={up}", b"data")  # no partNumber
    assert status == 400 and "partNumber" in s3_error(body)["Message"]
    status, _, _ = raw(endpoint, "HEAD", f"/{B}/k")
    assert status == 404  # nothing was written as a plain PutObject


def test_configured_bucket_names_follow_s3s_rules(tmp_path: Any) -> None:
    settings = load_settings({"lake": str(tmp_path / "lake"), "endpoint_bucket": "My_Lake"}, env={})
    with pytest.raises(EndpointError, match="My_Lake"):
        make_server(settings, "127.0.0.1", 0)


def test_a_key_and_a_prefix_of_the_same_name(endpoint: Endpoint) -> None:
    s3 = endpoint.client("s3")
    s3.put_object(Bucket=B, Key="clash", Body=b"file")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=B, Key="clash/inside.txt", Body=b"x")
    assert error_code(e) == "InvalidArgument"
    s3.put_object(Bucket=B, Key="dir/inside.txt", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=B, Key="dir", Body=b"file")
    assert error_code(e) == "InvalidArgument"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=B, Key="marker/", Body=b"not empty")
    assert error_code(e) == "InvalidArgument"
    s3.put_object(Bucket=B, Key="marker/", Body=b"")
    assert s3.get_object(Bucket=B, Key="clash")["Body"].read() == b"file"

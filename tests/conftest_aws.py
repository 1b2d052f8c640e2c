"""Fixtures for the AWS backends: moto running as a real HTTP server, boto3 talking to it over HTTP.

Import them explicitly from a test module (``from conftest_aws import aws_fixture, moto_server_fixture``;
the fixtures are named ``aws`` and ``moto_server``); this is not a
conftest, so nothing here is active for tests that do not ask for it.

The server is started once per session on a free loopback port (port 0: the OS picks it, so parallel runs
never collide) and reset between tests through moto's ``/moto-api/reset``. Credentials and the region are set
to dummy values with monkeypatch, and ``AWS_CONFIG_FILE``/``AWS_SHARED_CREDENTIALS_FILE`` point at nothing,
so a developer's real profile can never be used by a test.

It also holds the helpers the AWS test modules share: the ``CSV`` sample, ``make_store`` (an S3Store on
the test's bucket) and ``glue_settings`` (Settings for the Glue catalog and the Athena engine on moto).
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from lakebox.config import Settings
from lakebox.store.s3 import S3Store

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account


@pytest.fixture(scope="session", name="moto_server")
def moto_server_fixture() -> Iterator[str]:
    """The base URL of a moto server running in a thread of this process."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def moto_api(url: str, path: str, body: dict[str, Any] | None = None) -> int:
    """POST to moto's control API (reset, state transitions, queued Athena results); returns the status."""
    data = json.dumps(body or {}).encode()
    req = urllib.request.Request(url + path, data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback moto server only
        return int(resp.status)


@dataclass
class AwsEnv:
    """What a test needs to reach moto: the endpoint, the region and a fresh bucket name."""

    endpoint_url: str
    region: str
    bucket: str

    def client(self, service: str) -> Any:
        import boto3

        return boto3.session.Session().client(service, endpoint_url=self.endpoint_url, region_name=self.region)

    def lake(self, prefix: str = "") -> str:
        return f"s3://{self.bucket}" + (f"/{prefix}" if prefix else "")

    def queue_athena_results(self, results: list[dict[str, Any]]) -> None:
        """Queue results that moto hands to the next GetQueryResults calls, one per execution."""
        status = moto_api(self.endpoint_url, "/moto-api/static/athena/query-results",
                          {"account_id": ACCOUNT, "region": self.region, "results": results})
        assert status == 201

    def set_athena_transition(self, transition: dict[str, Any]) -> None:
        """How fast moto's executions advance QUEUED -> RUNNING -> SUCCEEDED (e.g. after N polls)."""
        moto_api(self.endpoint_url, "/moto-api/state-manager/set-transition",
                 {"model_name": "athena::execution", "transition": transition})


@pytest.fixture(name="aws")
def aws_fixture(moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[AwsEnv]:
    """Point boto3 at the moto server with dummy credentials; reset moto's state before and after."""
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    moto_api(moto_server, "/moto-api/reset")
    env = AwsEnv(moto_server, REGION, f"lakebox-test-{uuid.uuid4().hex[:10]}")
    try:
        yield env
    finally:
        moto_api(moto_server, "/moto-api/state-manager/unset-transition", {"model_name": "athena::execution"})
        moto_api(moto_server, "/moto-api/reset")


# --- helpers shared by the AWS test modules -----------------------------------------------------------------

CSV = (b"OrderID,Customer,Amount,Status,OrderDate\n"
       b"1,alice,10.50,shipped,2025-01-05\n"
       b"2,bob,abc,shipped,2025-01-06\n"       # bad amount: quarantined
       b"3,carol,7.25,pending,2024-01-01\n"    # pending and old: dropped by the rule
       b"4,dave,3.00,Shipped,2025-01-20\n")


def make_store(aws: AwsEnv, prefix: str = "", **kw: Any) -> S3Store:
    store = S3Store(aws.bucket, prefix, endpoint_url=aws.endpoint_url, region=aws.region, **kw)
    store.create_bucket()
    return store


def glue_settings(aws: AwsEnv, **kw: Any) -> Settings:
    return Settings(lake=aws.lake(), endpoint_url=aws.endpoint_url, region=aws.region, catalog="glue",
                    engine="athena", as_of=dt.date(2025, 2, 1), **kw)

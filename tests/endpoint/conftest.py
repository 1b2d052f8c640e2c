"""Fixtures for the local AWS endpoint: a server on a free loopback port over a temp lake, in a thread, spoken
to over real HTTP by real clients (boto3, the AWS CLI, PyAthena, awswrangler)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lakebox.config import Settings, load_settings
from lakebox.endpoint.server import make_server, stop_server

CREDS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}
AS_OF = "2025-05-01"


@dataclass
class Endpoint:
    """A running endpoint: its URL, settings and lake folder, and a factory for boto3 clients."""

    url: str
    settings: Settings
    lake: Path
    app: Any

    def client(self, service: str, **config: Any) -> Any:
        cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, **config)
        return boto3.client(service, endpoint_url=self.url, config=cfg, **CREDS)

    def env(self) -> dict[str, str]:
        """Environment for a subprocess client (the AWS CLI): dummy credentials, no user config."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({"AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                    "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull,
                    "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true"})
        return env


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    """The AWS error code botocore raised (``ClientError.response['Error']['Code']``)."""
    return str(exc.value.response["Error"]["Code"])


@pytest.fixture
def start_endpoint(tmp_path: Path) -> Iterator[Callable[..., Endpoint]]:
    """Start an endpoint over a fresh lake; keyword arguments are settings (as CLI flags would be)."""
    servers: list[Any] = []

    def start(**overrides: Any) -> Endpoint:
        cli: dict[str, Any] = {"lake": str(tmp_path / f"lake{len(servers)}"), "as_of": AS_OF,
                               "retry_delays": "0.05,0.05"}
        cli.update(overrides)
        settings = load_settings(cli, env={})
        server = make_server(settings, "127.0.0.1", 0)
        thread = threading.Thread(target=_run_quietly, args=(server,), daemon=True)
        thread.start()
        servers.append((server, thread))
        return Endpoint(server.endpoint_app.base_url, settings, Path(settings.lake).resolve(), server.endpoint_app)

    yield start
    for server, _thread in servers:
        stop_server(server)  # the loop thread (a daemon) ends at its next poll


def _run_quietly(server: Any) -> None:
    try:
        server.run()
    except OSError:  # the socket closed under the loop at shutdown
        pass


@pytest.fixture
def endpoint(start_endpoint: Callable[..., Endpoint]) -> Endpoint:
    return start_endpoint()


@pytest.fixture
def s3(endpoint: Endpoint) -> Any:
    return endpoint.client("s3")


@pytest.fixture
def glue(endpoint: Endpoint) -> Any:
    return endpoint.client("glue")


@pytest.fixture
def athena(endpoint: Endpoint) -> Any:
    return endpoint.client("athena")

"""``lakebox endpoint`` as a process, and the docs' table of supported actions, generated from the code."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from lakebox.endpoint.actions import actions_table

ROOT = Path(__file__).resolve().parents[2]


def test_docs_list_the_supported_actions() -> None:
    docs = (ROOT / "docs" / "endpoint.md").read_text(encoding="utf-8")
    assert actions_table() in docs, "docs/endpoint.md is stale: paste `python -m lakebox.endpoint.actions`"
    assert "(docs/endpoint.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_lakebox_endpoint_command(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAKEBOX_"))}
    proc = subprocess.Popen([sys.executable, "-m", "lakebox", "--lake", str(tmp_path / "lake"), "endpoint",
                             "--port", "0", "--bucket", "my-bucket"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until the server announces itself (or the process dies)
        m = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert m, line
        s3 = boto3.client("s3", endpoint_url=m.group(0), aws_access_key_id="x", aws_secret_access_key="x",
                          region_name="us-east-1")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["my-bucket"]
        s3.put_object(Bucket="my-bucket", Key="hello.txt", Body=b"hi")
        assert (tmp_path / "lake" / "hello.txt").read_bytes() == b"hi"
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.mark.slow
def test_up_starts_the_endpoint_next_to_the_dashboard(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dashboard_port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAKEBOX_"))}
    env["LAKEBOX_ENDPOINT_PORT"] = "0"
    proc = subprocess.Popen([sys.executable, "-m", "lakebox", "--lake", str(tmp_path / "lake"), "--as-of",
                             "2025-05-01", "up", "--port", str(dashboard_port), "--sample-rows", "100",
                             "--no-watch"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert proc.stdout is not None
        urls: list[str] = []
        while len(urls) < 2:
            line = proc.stdout.readline()
            assert line, "lakebox up exited before printing both URLs"
            urls += re.findall(r"http://127\.0\.0\.1:\d+", line)
        endpoint = next(u for u in urls if not u.endswith(f":{dashboard_port}"))
        glue = boto3.client("glue", endpoint_url=endpoint, aws_access_key_id="x", aws_secret_access_key="x",
                            region_name="us-east-1")
        assert [t["Name"] for t in glue.get_tables(DatabaseName="orders_db")["TableList"]] == ["orders_processed"]
    finally:
        proc.terminate()
        proc.wait(20)

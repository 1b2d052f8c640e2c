"""The Lambda zip: it builds reproducibly, stays under the limit, and runs the handler from a clean venv.

The runtime test uses the Lambda runtime's Python (3.12) when an interpreter for it is on the machine
(``python3.12`` on PATH, or pyenv's 3.12), and otherwise the local Python with the same code path (pip for
the manylinux platform, ``--only-binary``). It imports the handler from the unpacked zip in a fresh venv that
has only boto3 (as the Lambda runtime does) and processes a real S3 event against moto over HTTP. Wheels come
from the configured package index; when they cannot be fetched the tests skip with the reason.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest_aws import AwsEnv, aws_fixture, moto_server_fixture  # noqa: F401 - fixtures aws, moto_server

from lakebox.deploy.package import (
    CONSTRAINTS,
    FIXED_TIME,
    UNZIPPED_LIMIT,
    PackageError,
    PackageInfo,
    build_zip,
)

pytestmark = [pytest.mark.slow, pytest.mark.aws]

LOCAL_PY = f"{sys.version_info.major}.{sys.version_info.minor}"


def lambda_python() -> tuple[str, str]:
    """(interpreter, X.Y) for the runtime test: Lambda's python3.12 if this machine has one, else ours."""
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    found = shutil.which("python3.12")
    for exe in ([found] if found else []) + candidates:
        ok = subprocess.run([exe, "-c", "import venv"], capture_output=True, check=False)  # noqa: S603
        if ok.returncode == 0:
            return exe, "3.12"
    return getattr(sys, "_base_executable", sys.executable), LOCAL_PY


RUNTIME_EXE, RUNTIME_PY = lambda_python()
CSV = (b"OrderID,Customer,Amount,Status,OrderDate\n"
       b"1,alice,10.50,shipped,2025-01-05\n"
       b"2,bob,abc,shipped,2025-01-06\n"
       b"3,carol,7.25,pending,2024-01-01\n")


def build_or_skip(out: Path, python_version: str = LOCAL_PY) -> PackageInfo:
    try:
        return build_zip(out, "x86_64", python_version)
    except PackageError as exc:
        pytest.skip(f"Lambda wheels cannot be fetched from the package index here: {exc}")


@pytest.fixture(scope="module")
def lambda_zip(tmp_path_factory: pytest.TempPathFactory) -> PackageInfo:
    return build_or_skip(tmp_path_factory.mktemp("zip") / "lambda.zip", RUNTIME_PY)


def test_zip_is_reproducible_and_small(lambda_zip: PackageInfo, tmp_path: Path) -> None:
    again = build_or_skip(tmp_path / "again.zip", RUNTIME_PY)
    assert again.sha256 == lambda_zip.sha256  # same inputs, byte-identical zip
    assert lambda_zip.unzipped_bytes < UNZIPPED_LIMIT
    with zipfile.ZipFile(lambda_zip.path) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        assert all(i.date_time == FIXED_TIME for i in infos)
        assert {(i.external_attr >> 16) & 0o777 for i in infos} <= {0o644, 0o755}
        assert "lakebox/process/handler.py" in names
        assert any(n.startswith("duckdb/") for n in names)
        assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
        # The handler's zip carries neither the dashboard's dependencies nor boto3 (the runtime has it).
        tops = {n.split("/")[0] for n in names}
        assert not tops & {"flask", "plotly", "boto3", "botocore", "werkzeug"}
        # DuckDB's version is the one pinned in constraints.txt, not whatever the index has today.
        pinned = next(line.split("==")[1] for line in CONSTRAINTS.read_text().splitlines()
                      if line.startswith("duckdb=="))
        assert f"duckdb-{pinned}.dist-info/METADATA" in names
        assert "lakebox/deploy/constraints.txt" in names


def test_lambda_platform_wheels_resolve(tmp_path: Path) -> None:
    """The real target: cp312 wheels for the Lambda platform (what `deploy package` builds)."""
    info = build_or_skip(tmp_path / "py312.zip", "3.12")
    with zipfile.ZipFile(info.path) as zf:
        tags = [n for n in zf.namelist() if n.startswith("duckdb") and n.endswith(".dist-info/WHEEL")]
        wheel = zf.read(tags[0]).decode()
    assert "cp312" in wheel and "x86_64" in wheel


def clean_venv(path: Path) -> Path:
    """A venv of the runtime's Python with only boto3, like the Lambda Python runtime."""
    subprocess.run([RUNTIME_EXE, "-m", "venv", str(path)], check=True)  # noqa: S603
    py = path / "bin" / "python"
    proc = subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "boto3"],  # noqa: S603
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"boto3 cannot be installed into a clean venv here: {proc.stderr.strip()[-500:]}")
    return py


RUNNER = r"""
import json, sys
task_root = sys.argv[1]
sys.path.insert(0, task_root)  # Lambda puts the unpacked zip (LAMBDA_TASK_ROOT) first on sys.path
import lakebox.process.handler as h
assert h.__file__.startswith(task_root), h.__file__
import duckdb
assert duckdb.__file__.startswith(task_root), duckdb.__file__
event = json.loads(sys.stdin.read())
print(json.dumps(h.lambda_handler(event, None)))
"""


def test_handler_runs_from_the_unpacked_zip_in_a_clean_venv(lambda_zip: PackageInfo, aws: AwsEnv,
                                                             tmp_path: Path) -> None:
    run_from_zip(lambda_zip, aws, tmp_path, "us-east-1")


def test_handler_from_the_zip_uses_the_region_lambda_sets(lambda_zip: PackageInfo, aws: AwsEnv,
                                                          tmp_path: Path) -> None:
    """Lambda sets AWS_REGION; the stack sets no LAKEBOX_REGION. The table must land in that region."""
    run_from_zip(lambda_zip, aws, tmp_path, "eu-west-1")
    glue = AwsEnv(aws.endpoint_url, "eu-west-1", aws.bucket).client("glue")
    assert glue.get_table(DatabaseName="orders_db", Name="orders_processed")["Table"]["Name"]
    assert aws.client("glue").get_databases()["DatabaseList"] == []  # nothing in us-east-1


def run_from_zip(lambda_zip: PackageInfo, aws: AwsEnv, tmp_path: Path, region: str) -> None:
    from lakebox.catalog.glue import GlueCatalog
    from lakebox.events import build_event, build_record
    from lakebox.store.s3 import S3Store

    task_root = tmp_path / "task"
    with zipfile.ZipFile(lambda_zip.path) as zf:
        zf.extractall(task_root)
    py = clean_venv(tmp_path / "venv")
    version = subprocess.run([str(py), "-c", "import sys; print(sys.version_info[:2])"],  # noqa: S603
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version == str(tuple(int(x) for x in RUNTIME_PY.split(".")))

    store = S3Store(aws.bucket, endpoint_url=aws.endpoint_url, region=region)
    store.create_bucket()
    store.put_object("raw/orders.csv", CSV)
    GlueCatalog(aws.lake(), endpoint_url=aws.endpoint_url, region=region).create_database("orders_db")
    event = build_event(build_record("raw/orders.csv", bucket=aws.bucket, size=len(CSV), region=region))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "LAKEBOX_"))}
    # What Lambda and the stack set: AWS_REGION from Lambda, no LAKEBOX_REGION.
    env.update({"LAKEBOX_LAKE": aws.lake(), "LAKEBOX_CATALOG": "glue", "LAKEBOX_ENDPOINT_URL": aws.endpoint_url,
                "LAKEBOX_AS_OF": "2025-02-01", "HOME": str(tmp_path), "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region})
    proc = subprocess.run([str(py), "-c", RUNNER, str(task_root)], input=json.dumps(event),  # noqa: S603
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == "ok" and out["runs"][0]["status"] == "ok", out
    run = out["runs"][0]
    assert (run["rows_read"], run["rows_kept"], run["rows_quarantined"]) == (3, 1, 1)
    assert store.get_object("processed/orders.parquet")[:4] == b"PAR1"
    assert b"bob" in store.get_object("quarantine/orders.csv")

"""The store contract suite's fixture: one ``store`` per Store implementation.

``local`` is a LocalStore in a temp folder; ``s3`` and ``s3-prefix`` are S3Stores on moto running as a real
HTTP server (marked ``aws``), the second inside a key prefix of its bucket.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest_aws import (  # noqa: F401 - the fixtures aws and moto_server
    AwsEnv,
    aws_fixture,
    make_store,
    moto_server_fixture,
)

from lakebox.store.base import Store
from lakebox.store.local import LocalStore


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.aws),
                        pytest.param("s3-prefix", marks=pytest.mark.aws)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "local":
        return LocalStore(tmp_path / "lake")
    aws: AwsEnv = request.getfixturevalue("aws")
    # Small multipart settings so the contract covers multipart uploads and copies with small files.
    return make_store(aws, "lake/sub" if request.param == "s3-prefix" else "",
                      multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)

"""The catalog contract suite's fixture: one ``backend`` per Catalog implementation.

``local`` is a LocalCatalog in a temp folder; ``glue`` is a GlueCatalog on moto running as a real HTTP server
(marked ``aws``), with an S3Store on moto for its per-file cache.
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

from catalog.backends import CatalogBackend
from lakebox.catalog.glue import GlueCatalog
from lakebox.catalog.local import LocalCatalog


def _local(tmp_path: Path) -> CatalogBackend:
    cat = LocalCatalog(tmp_path / "catalog.sqlite")
    runs: list[str] = []
    return CatalogBackend("local", cat, lambda name: cat.register_crawler(name, lambda: runs.append(name)))


def _glue(aws: AwsEnv) -> CatalogBackend:
    cat = GlueCatalog(aws.lake(), endpoint_url=aws.endpoint_url, region=aws.region, store=make_store(aws))
    glue = aws.client("glue")

    def add_crawler(name: str) -> None:
        glue.create_crawler(Name=name, Role="arn:aws:iam::123456789012:role/crawler", DatabaseName="orders_db",
                            Targets={"S3Targets": [{"Path": f"s3://{aws.bucket}/processed/"}]})

    return CatalogBackend("glue", cat, add_crawler)


@pytest.fixture(params=["local", pytest.param("glue", marks=pytest.mark.aws)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> CatalogBackend:
    if request.param == "local":
        return _local(tmp_path)
    return _glue(request.getfixturevalue("aws"))

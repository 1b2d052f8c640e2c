"""The engine every conformance test queries: a lake with a small Glue-faithful table ``processed``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conformance.oracle import make_lake


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    lake = make_lake(tmp_path_factory.mktemp("conformance"))
    yield lake.engine
    lake.engine.close()

"""Shared fixtures: a temp lake, its settings, a Lake with the original sample ingested, an app and a client."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from lakebox.config import Settings, load_settings
from lakebox.lake import Lake

SHARED = Path(__file__).resolve().parents[2] / "shared"
ORDERS_CSV = SHARED / "data" / "orders.csv"
AS_OF = dt.date(2025, 5, 1)


def _orders_csv() -> Path:
    """The original sample (../shared/data/orders.csv); a copy ships in tests/data for other checkouts."""
    local = Path(__file__).parent / "data" / "orders.csv"
    return ORDERS_CSV if ORDERS_CSV.exists() else local


@pytest.fixture
def orders_csv() -> Path:
    return _orders_csv()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings for a fresh lake under tmp_path; keyword arguments override settings (as CLI flags would)."""

    def make(**overrides: object) -> Settings:
        cli = {"lake": str(tmp_path / "lake"), "as_of": AS_OF.isoformat()}
        cli.update({k: v for k, v in overrides.items()})
        return load_settings(cli, env={})

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def lake(settings: Settings) -> Lake:
    """An empty lake."""
    return Lake(settings)


@pytest.fixture
def orders_lake(lake: Lake, orders_csv: Path, tmp_path: Path) -> Lake:
    """A lake with the original orders.csv ingested (as of 2025-05-01)."""
    src = tmp_path / "orders.csv"
    shutil.copyfile(orders_csv, src)
    items = lake.ingest([src])
    assert items[0].run.status == "ok"
    return lake

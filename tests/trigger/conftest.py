"""Fixtures for the watcher tests: a lake with fast watcher settings, its raw/ folder, started watchers, sample
CSVs and the oracle (helpers in ``trigger_helpers``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from trigger_helpers import AS_OF, FAST, Oracle

from lakebox.config import Settings
from lakebox.lake import Lake
from lakebox.process.sample import write_sample
from lakebox.trigger.watcher import Watcher


@pytest.fixture
def oracle(tmp_path: Path) -> Oracle:
    return Oracle(tmp_path / "oracle-lake")


@pytest.fixture
def samples(tmp_path: Path) -> Callable[..., Path]:
    """``samples(rows, seed)`` -> a CSV of sample orders outside the lake (cached per rows/seed)."""
    folder = tmp_path / "samples"
    folder.mkdir()

    def make(rows: int, seed: int = 1) -> Path:
        path = folder / f"orders_{rows}_{seed}.csv"
        if not path.exists():
            write_sample(path, rows, AS_OF, seed=seed)
        return path

    return make


@pytest.fixture
def wlake(make_settings: Callable[..., Settings]) -> Lake:
    lake = Lake(make_settings(**FAST))
    _ = lake.store  # create the layout
    return lake


@pytest.fixture
def raw(wlake: Lake) -> Path:
    return Path(wlake.store.local_path("raw/"))  # type: ignore[arg-type]


@pytest.fixture
def watchers() -> Iterator[Callable[..., Watcher]]:
    """``watchers(lake, **kw)`` -> a started Watcher, stopped at teardown."""
    made: list[Watcher] = []

    def start(lake: Lake, **kw: Any) -> Watcher:
        w = lake.watcher(**kw)
        w.start()
        made.append(w)
        return w

    yield start
    for w in made:
        w.stop()

"""Helpers and fixtures for the watcher tests (tests/test_trigger_*.py).

Use them from a test module with ``pytest_plugins = ["trigger_fixtures"]`` and import the helpers by name.

Real folders, real watchdog, real DuckDB. Expected row counts come from an *oracle*: the same CSV processed
sequentially by ``Lake.ingest`` in a separate lake, with no watcher involved. Tests never sleep for timing:
they wait on a condition with a deadline (``wait_until``).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from waiting import wait_until  # noqa: F401 - re-exported for the tests that import it from here

from lakebox.config import Settings, load_settings
from lakebox.events import parse_event
from lakebox.lake import Lake
from lakebox.process.sample import write_sample
from lakebox.trigger.watcher import Watcher

AS_OF = dt.date(2025, 5, 1)
TABLE = "orders_db.orders_processed"
FAST = {"settle_seconds": 0.1, "rescan_seconds": 0.5, "retry_delays": "0.05,0.1", "workers": 4}


# --- helpers --------------------------------------------------------------------------------------------


def land(raw: Path, name: str, src: Path) -> Path:
    """Upload the recommended way: copy under a temporary name, then rename into place."""
    part = raw / (name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, part)
    dest = raw / name
    os.replace(part, dest)
    return dest


def states(lake: Lake) -> dict[str, Any]:
    return {s.raw_key: s for s in lake.ledger.states()}


def ok_keys(lake: Lake) -> set[str]:
    return {k for k, s in states(lake).items() if s.status == "ok"}


def count_rows(lake: Lake) -> int:
    res = lake.engine.run_query(f"SELECT count(*) FROM {TABLE}")
    assert res.state == "SUCCEEDED", res.error
    return int(res.rows[0][0])


def queryable_rows(lake: Lake) -> int | None:
    """Rows a query sees now, or None while the table does not exist yet (for wait predicates)."""
    res = lake.engine.run_query(f"SELECT count(*) FROM {TABLE}")
    return int(res.rows[0][0]) if res.state == "SUCCEEDED" else None


def run_records(lake: Lake, key: str | None = None) -> list[Any]:
    return [r for r in lake.ledger.recent(0) if key is None or r.raw_key == key]


class Oracle:
    """Row counts from processing a CSV alone, sequentially, in a separate lake (no watcher)."""

    def __init__(self, root: Path) -> None:
        self.lake = Lake(load_settings({"lake": str(root), "as_of": AS_OF.isoformat()}, env={}))
        self._cache: dict[Path, Any] = {}

    def run(self, csv: Path) -> Any:
        if csv not in self._cache:
            self._cache[csv] = self.lake.ingest([csv])[0].run
        return self._cache[csv]

    def kept(self, csv: Path) -> int:
        return int(self.run(csv).rows_kept)


class Spy:
    """Wraps ``lake.handle_event``: counts calls and concurrency per key, optionally fails or blocks."""

    def __init__(self, lake: Lake, fail: Callable[[str, int], BaseException | None] | None = None,
                 gate: threading.Event | None = None) -> None:
        self.inner = lake.handle_event
        self.fail = fail
        self.gate = gate
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.active: Counter[str] = Counter()
        self.max_active: Counter[str] = Counter()
        self.total = 0
        self.max_total = 0
        lake.handle_event = self  # type: ignore[method-assign]

    def __call__(self, event: dict[str, Any]) -> Any:
        key = next(parse_event(event)).key
        with self.lock:
            self.calls[key] += 1
            n = self.calls[key]
            self.times[key].append(time.monotonic())
            self.active[key] += 1
            self.max_active[key] = max(self.max_active[key], self.active[key])
            self.total += 1
            self.max_total = max(self.max_total, self.total)
        try:
            if self.gate is not None:
                self.gate.wait(30)
            exc = self.fail(key, n) if self.fail else None
            if exc is not None:
                raise exc
            return self.inner(event)
        finally:
            with self.lock:
                self.active[key] -= 1
                self.total -= 1


# --- fixtures -------------------------------------------------------------------------------------------


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

"""Helpers for the watcher tests (tests/trigger/): landing files, reading the lake's state, the oracle and the
handler spy. The fixtures that use them are in tests/trigger/conftest.py.

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lakebox.config import load_settings
from lakebox.events import parse_event
from lakebox.lake import Lake

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
    if res.state != "SUCCEEDED":
        raise AssertionError(f"count query failed: {res.error}")
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
        # The spy must see every event: answer the watcher's batch probe with "no batching now".
        lake.handle_batch = lambda keys: None  # type: ignore[method-assign,assignment,return-value]

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

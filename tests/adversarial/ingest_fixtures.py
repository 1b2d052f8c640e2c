"""Helpers for the adversarial ingest tests: run the real CLI in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HEADER = "OrderID,Customer,Amount,Status,OrderDate"
AS_OF = "2025-05-01"


def orders(n: int, start: int = 1) -> list[str]:
    """``n`` valid shipped orders (never dropped by the rule), one CSV line each."""
    return [f"O{i},Cust{i % 7},{i % 90 + 1}.25,shipped,2025-04-{1 + i % 28:02d}" for i in range(start, start + n)]


def lakebox(lake: Path, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """``lakebox --lake LAKE --as-of 2025-05-01 ARGS`` in a subprocess (the installed entry point)."""
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
    proc = subprocess.run(
        [sys.executable, "-m", "lakebox", "--lake", str(lake), "--as-of", AS_OF, *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"lakebox {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def query(lake: Path, sql: str) -> list[list[Any]]:
    """Rows of ``sql`` through ``lakebox query --format json``."""
    out = lakebox(lake, "query", sql, "--format", "json", check=True).stdout
    return list(json.loads(out)["rows"])


def status(lake: Path) -> dict[str, Any]:
    return dict(json.loads(lakebox(lake, "status", "--json", check=True).stdout))

"""What the benchmark scripts share: the lake each builds, the machine line under every table, and how a
table is published (printed, and written where ``update_readme.py`` copies it into the README from).

The scripts run as ``python benchmarks/<name>.py``, so this folder is on ``sys.path``: ``from _common import ...``.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakebox.lake import Lake


def bench_lake(root: Path, as_of: dt.date, *, config_file: Path | None = None, **settings: Any) -> Lake:
    """A lake at ``root`` with the given settings, ignoring the caller's ``LAKEBOX_*`` environment (a benchmark
    measures the defaults unless it says otherwise)."""
    from lakebox.config import load_settings
    from lakebox.lake import Lake

    values = {"lake": str(root), "as_of": as_of.isoformat(), **settings}
    return Lake(load_settings(values, env={}, config_file=config_file))


def machine(load: str) -> str:
    """The machine line every result table carries; ``load`` says when the load average was read."""
    return (f"{platform.machine()}, {os.cpu_count()} cores shared with other work (load average {load}), "
            f"Python {platform.python_version()}, {dt.date.today()}")


def publish(text: str, out: Path) -> None:
    """Print a result table and write it to ``out`` (``benchmarks/results/<name>.md`` by default)."""
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")

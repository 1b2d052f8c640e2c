"""Fetching a DuckDB result into Python rows, as fast as DuckDB's own ``fetchall``.

DuckDB's ``fetchall`` builds the Python values (Decimal, date, datetime, lists, dicts) itself, faster than
converting an Arrow or NumPy result column by column would (and with exactly the types every caller
expects). What costs on top is Python's cyclic garbage collector: every row is a new container, so a
50,000-row result sets off hundreds of collections that walk the growing result and find nothing (rows of
values hold no cycles). The collector is paused while rows are built, and resumed after; the pause is
counted across threads, so concurrent queries never leave it off.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

_lock = threading.Lock()
_pausers = 0
_was_enabled = False


class Fetches(Protocol):
    def fetchall(self) -> list[Any]: ...

    def fetchmany(self, size: int = ..., /) -> list[Any]: ...


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (reference counting still frees everything). The
    first of overlapping blocks pauses it, the last resumes it if it was running before the first."""
    global _pausers, _was_enabled
    with _lock:
        if _pausers == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pausers += 1
    try:
        yield
    finally:
        with _lock:
            _pausers -= 1
            if _pausers == 0 and _was_enabled:
                gc.enable()


def fetch_rows(result: Fetches, max_rows: int | None) -> tuple[list[list[Any]], bool]:
    """All rows of ``result`` as lists (at most ``max_rows``), and whether rows were left out."""
    with collector_paused():
        if max_rows is None:
            return list(map(list, result.fetchall())), False
        rows = result.fetchmany(max_rows + 1)
        return list(map(list, rows[:max_rows])), len(rows) > max_rows

"""Waiting on a condition with a deadline: the one way tests wait (never a bare sleep for timing)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(pred: Callable[[], Any], timeout: float = 30.0, what: str = "condition",
               interval: float = 0.01) -> Any:
    """Poll ``pred`` until it is truthy (and return its value) or the deadline passes (then fail, naming
    what we waited for)."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)

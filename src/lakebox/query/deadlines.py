"""One thread per engine that interrupts DuckDB queries when they are stopped or run out of time.

A thread started per query cost more than a small query itself (``SELECT 1`` took milliseconds, most of it
starting and joining the watcher thread). Here every running query registers its cursor, its deadline and
its "stopped" flag; one daemon thread sleeps until the nearest deadline or a stop, and then interrupts the
query again every 50 ms until it has ended (an interrupt that lands before DuckDB started the statement
would otherwise be lost).
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from typing import Protocol


class Interruptible(Protocol):
    def interrupt(self) -> None: ...


@dataclass
class _Watch:
    cursor: Interruptible
    deadline: float
    stopped: threading.Event


#: How often a due query is interrupted again until it ends.
REPEAT_SECONDS = 0.05


class Interrupter:
    """Watches running queries; :meth:`watch` before executing, :meth:`release` after (in ``finally``)."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._watches: dict[int, _Watch] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None
        #: When the thread will next look at the watches (None: not until notified). A new watch whose
        #: deadline is later needs no wake-up: waking the thread for every query cost ``SELECT 1`` a
        #: thread switch and the GIL.
        self._wake_at: float | None = None

    def watch(self, cursor: Interruptible, timeout: float, stopped: threading.Event) -> int:
        """Interrupt ``cursor`` once ``timeout`` seconds have passed or ``stopped`` is set (call :meth:`poke`
        after setting it). Returns the token for :meth:`release`."""
        with self._cv:
            token = next(self._ids)
            deadline = time.monotonic() + timeout
            self._watches[token] = _Watch(cursor, deadline, stopped)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="lakebox-query-deadlines", daemon=True)
                self._thread.start()
            elif self._wake_at is None or deadline < self._wake_at:
                self._cv.notify()
        return token

    def release(self, token: int) -> None:
        """The query has ended: stop watching it."""
        with self._cv:
            self._watches.pop(token, None)

    def poke(self) -> None:
        """A query was stopped: look at the watches now rather than at the next deadline."""
        with self._cv:
            self._cv.notify()

    def _loop(self) -> None:
        # Interrupts are sent holding the lock, so once release() has returned no interrupt can reach the
        # cursor's next statement.
        with self._cv:
            while True:
                now = time.monotonic()
                due = [w for w in self._watches.values() if w.stopped.is_set() or now >= w.deadline]
                for w in due:
                    w.cursor.interrupt()
                nearest = min((w.deadline for w in self._watches.values()), default=None)
                if due:
                    self._wake_at = now + REPEAT_SECONDS
                    self._cv.wait(REPEAT_SECONDS)
                else:
                    self._wake_at = nearest
                    self._cv.wait(None if nearest is None else max(nearest - now, 0.0))

"""Admission control for queries: a fixed number of running slots and a bounded wait queue.

A query first takes a slot; when every slot is taken it waits in the queue, and when the queue is full too it
is refused at once with :class:`TooManyQueries` (HTTP 429 with ``Retry-After``), as Athena refuses
StartQueryExecution beyond an account's concurrency quota with ``TooManyRequestsException``. Waiting is bounded
too: a query that has waited ``max_wait`` seconds without a slot is refused the same way. The waiters and the
running queries never hold a thread of the web server beyond ``slots + queue``, so the server keeps threads free
for everything else (``/healthz``, cached pages).

Pure logic on a condition variable: no I/O, no clock but ``time.monotonic``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from lakebox.core.errors import LakeboxError


class TooManyQueries(LakeboxError, code="TooManyRequestsException", exit_code=1, http_status=429):
    """Every query slot is busy and the wait queue is full (or the wait ran out); retry after ``retry_after``
    seconds. The web API sends it as ``Retry-After``."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Admission:
    """``slots`` queries run at once, ``queue`` more wait for a slot (first come, first served), the rest are
    refused. Use :meth:`slot` around the query."""

    def __init__(self, slots: int, queue: int, *, max_wait: float, retry_after: float = 1.0) -> None:
        if slots < 1 or queue < 0:
            raise ValueError(f"slots must be >= 1 and queue >= 0, got {slots} and {queue}")
        self.slots = slots
        self.queue = queue
        self.max_wait = max_wait
        self.retry_after = retry_after
        self._cond = threading.Condition()
        self._running = 0
        self._tickets: list[int] = []  # waiting tickets in arrival order
        self._next = 0
        #: Counters for the benchmark and tests: admitted, refused, and the most ever waiting at once.
        self.admitted = 0
        self.refused = 0
        self.peak_waiting = 0

    @property
    def running(self) -> int:
        with self._cond:
            return self._running

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._tickets)

    def _refuse(self, why: str) -> TooManyQueries:
        self.refused += 1
        # Roughly when a slot frees: the queue ahead of the caller, one retry_after each, at least 1 s.
        seconds = max(1, math.ceil(self.retry_after * (1 + len(self._tickets) / self.slots)))
        return TooManyQueries(
            f"too many queries at once: {self._running} running and {len(self._tickets)} waiting "
            f"(settings query_workers={self.slots}, query_queue={self.queue}){why}; retry in {seconds} s",
            retry_after=seconds)

    def acquire(self) -> None:
        """Take a slot, waiting in the queue if there is room; raise :class:`TooManyQueries` otherwise."""
        with self._cond:
            if self._running < self.slots and not self._tickets:
                self._running += 1
                self.admitted += 1
                return
            if len(self._tickets) >= self.queue:
                raise self._refuse("")
            ticket = self._next
            self._next += 1
            self._tickets.append(ticket)
            self.peak_waiting = max(self.peak_waiting, len(self._tickets))
            deadline = time.monotonic() + self.max_wait
            try:
                while not (self._tickets[0] == ticket and self._running < self.slots):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise self._refuse(f" and this one waited {self.max_wait:g} s")
                    self._cond.wait(left)
            finally:
                self._tickets.remove(ticket)
                self._cond.notify_all()  # the next ticket may now be first in line
            self._running += 1
            self.admitted += 1

    def release(self) -> None:
        with self._cond:
            self._running -= 1
            self._cond.notify_all()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a slot for the ``with`` body (see :meth:`acquire`)."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

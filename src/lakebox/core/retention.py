"""Which query results to delete: the retention policy for ``enriched/``, as a pure function.

Every query the embedded engine runs leaves a result pair in ``enriched/`` (``<id>.csv`` and
``<id>.csv.metadata``). Athena leaves the same pair in its output location and relies on an S3 lifecycle rule
to expire it; lakebox applies this policy instead: results older than the retention period expire, and while
the results together are larger than the cap the oldest go first. Pinned results (the latest result of each
named query, and one just written) are never deleted, but their bytes count towards the cap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

#: Why a result is deleted.
EXPIRED = "expired"
OVER_CAP = "over cap"


@dataclass(frozen=True)
class ResultEntry:
    """One result pair as the lister saw it: its execution id, the pair's bytes and newest modification."""

    execution_id: str
    size: int
    modified: dt.datetime
    pinned: bool = False


@dataclass(frozen=True)
class Removal:
    """A result the policy deletes, and why (:data:`EXPIRED` or :data:`OVER_CAP`)."""

    entry: ResultEntry
    reason: str


def results_to_delete(entries: Iterable[ResultEntry], now: dt.datetime, retention_days: float,
                      max_bytes: int) -> list[Removal]:
    """The results to delete, oldest first.

    ``retention_days`` <= 0 keeps results of any age; ``max_bytes`` <= 0 sets no cap. A result modified more
    than ``retention_days`` before ``now`` expires; then, while the remaining results (pinned ones included)
    total more than ``max_bytes``, the oldest unpinned result goes. Ties in age are broken by id so the
    answer does not depend on listing order. The pinned results alone may exceed the cap: they are kept.
    """
    ordered = sorted(entries, key=lambda e: (e.modified, e.execution_id))
    cutoff = now - dt.timedelta(days=retention_days) if retention_days > 0 else None
    removed: list[Removal] = []
    kept: list[ResultEntry] = []
    for e in ordered:
        if cutoff is not None and not e.pinned and e.modified < cutoff:
            removed.append(Removal(e, EXPIRED))
        else:
            kept.append(e)
    if max_bytes > 0:
        total = sum(e.size for e in kept)
        for e in kept:
            if total <= max_bytes:
                break
            if not e.pinned:
                removed.append(Removal(e, OVER_CAP))
                total -= e.size
    removed.sort(key=lambda r: (r.entry.modified, r.entry.execution_id))
    return removed

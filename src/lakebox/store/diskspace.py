"""Disk-full errors, recognised structurally and reported as what could not be written.

A full disk shows up as ``OSError(ENOSPC)`` from Python, as an ``IOException`` from DuckDB and as
"disk I/O error" from SQLite; only the first carries an errno. So a failed write is classed as disk-full when
its errno says so or when the file system it wrote to has (almost) no space left right after the failure —
never by reading the message text.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from lakebox.store.base import StorageFullError

#: Below this much free space, a failed write is taken to have failed for lack of space.
NEARLY_FULL_BYTES = 1 << 20


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def _free(where: Path) -> int | None:
    probe = where
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return None


def disk_full(exc: BaseException, what: str, where: Path, needed: int | None = None) -> StorageFullError | None:
    """A :class:`StorageFullError` for ``exc`` if it is a disk-full failure writing ``what`` under ``where``,
    else None (the caller re-raises ``exc``). ``needed`` is the size of what was being written, if known."""
    free = _free(where)
    by_errno = isinstance(exc, OSError) and exc.errno == errno.ENOSPC
    if not by_errno and (free is None or free >= max(needed or 0, NEARLY_FULL_BYTES)):
        return None
    need = f"about {_mib(needed)} needed, " if needed else ""
    have = f"{_mib(free)} free" if free is not None else "free space unknown"
    return StorageFullError(
        f"no space left on device: could not write {what} ({need}{have} under {where}); "
        "free some space and run the command again")

"""When has an upload landed? Completion detection for files in ``raw/``.

A local folder has no "PUT completed" moment, so a file is processed only when all of these hold:

1. it matches the trigger (``raw/`` prefix, ``.csv`` suffix; the store's ``.lakebox-tmp-*.tmp`` names and
   ``*.part`` uploads never match);
2. it is *settled*: its (size, mtime, inode) signature has not changed for ``settle_seconds``, judged by
   its mtime or, when the clock and mtime disagree, by our own observations; a file *renamed into* place
   (the recommended way to upload) skips this wait, since a rename is atomic;
3. no process has it open for writing (Linux: ``/proc/<pid>/fdinfo``; this catches slow writers that pause
   longer than ``settle_seconds`` while keeping the file open).

Processing a file that still changed afterwards is not a correctness problem either: its new version has a
new ETag, so it is processed again and the output replaced. Detection only avoids wasted half-file runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_ACCMODE = 0o3  # O_ACCMODE: 0 read-only, 1 write-only, 2 read-write


@dataclass(frozen=True)
class Signature:
    """What changes whenever a file's content can have changed."""

    size: int
    mtime_ns: int
    ino: int


def signature(path: Path) -> Signature | None:
    """The file's signature, or None when it does not exist (or is not a regular file)."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not os.path.isfile(path):
        return None
    return Signature(st.st_size, st.st_mtime_ns, st.st_ino)


def can_detect_writers() -> bool:
    """True where :func:`open_for_writing` can see other processes' open files (Linux procfs)."""
    return (_PROC / "self" / "fdinfo").is_dir()


def open_for_writing(paths: set[Path]) -> set[Path]:
    """Which of ``paths`` some process (that we may inspect) has open for writing.

    One sweep over ``/proc/*/fd`` for the whole batch, so checking 200 files costs the same as checking one.
    Processes of other users are invisible without privileges; for them only the settle time protects.
    """
    if not paths or not can_detect_writers():
        return set()
    wanted = {str(p) for p in paths}
    found: set[Path] = set()
    try:
        pids = [e.name for e in os.scandir(_PROC) if e.name.isdigit()]
    except OSError:
        return found
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            entries = list(os.scandir(fd_dir))
        except OSError:
            continue  # exited, or not ours to inspect
        for entry in entries:
            try:
                target = os.readlink(entry.path)
            except OSError:
                continue
            if target not in wanted:
                continue
            try:
                with open(f"/proc/{pid}/fdinfo/{entry.name}", encoding="ascii") as fh:
                    flags = next((int(line.split()[1], 8) for line in fh if line.startswith("flags:")), 0)
            except (OSError, ValueError, IndexError):
                continue
            if flags & _ACCMODE in (1, 2):
                found.add(Path(target))
    return found

"""A full disk (issue 12): `ingest` showed a DuckDB IOException traceback, `query` a sqlite "disk I/O error",
and the watcher died writing its lock file. Each must say what could not be written, leave nothing
half-written, and keep going. The lake sits on a real, tiny tmpfs (root only; skipped elsewhere)."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .ingest_fixtures import HEADER, lakebox, orders

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(path: Path) -> None:
    """Use up the file system but for a few KiB (unbuffered writes: nothing is left to flush on close)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                os.write(fd, b"\0" * 65536)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
    finally:
        os.close(fd)
    st = os.statvfs(path.parent)
    assert st.f_bavail * st.f_frsize < 65536


def _temp_files(lake: Path) -> list[Path]:
    return [p for p in lake.rglob("*") if p.is_file() and (p.name.startswith(".") or p.suffix == ".tmp")]


def test_ingest_on_a_full_disk_says_what_could_not_be_written(small_disk: Path, tmp_path: Path) -> None:
    lake = small_disk / "lake"
    first = tmp_path / "first.csv"
    first.write_text("\n".join([HEADER, *orders(50)]) + "\n")
    assert lakebox(lake, "ingest", str(first)).returncode == 0
    _fill(small_disk / "filler.bin")
    big = tmp_path / "big.csv"
    big.write_text("\n".join([HEADER, *orders(20000)]) + "\n")
    proc = lakebox(lake, "ingest", str(big))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "no space left" in proc.stderr.lower()
    assert "raw/big.csv" in proc.stderr
    assert _temp_files(lake) == []
    assert not (lake / "processed" / "big.parquet").exists()
    # The lake still answers for what it holds.
    (small_disk / "filler.bin").unlink()
    out = lakebox(lake, "query", "SELECT count(*) FROM orders_db.orders_processed", "--format", "csv")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1].strip('"') == "50"


def test_query_on_a_full_disk_is_a_clear_error(small_disk: Path, tmp_path: Path) -> None:
    lake = small_disk / "lake"
    src = tmp_path / "o.csv"
    src.write_text("\n".join([HEADER, *orders(50)]) + "\n")
    assert lakebox(lake, "ingest", str(src)).returncode == 0
    _fill(small_disk / "filler.bin")
    proc = lakebox(lake, "query", "SELECT count(*) FROM orders_db.orders_processed")
    assert "Traceback" not in proc.stderr
    if proc.returncode != 0:
        assert "no space left" in proc.stderr.lower()


def test_the_watcher_on_a_full_disk_fails_the_file_and_keeps_going(small_disk: Path, tmp_path: Path) -> None:
    """The watcher died writing its lock file; now a file that cannot be written fails with the reason
    (retried, then dead-lettered if space allows), and `watch --once` ends with a non-zero exit code."""
    lake = small_disk / "lake"
    src = tmp_path / "o.csv"
    src.write_text("\n".join([HEADER, *orders(50)]) + "\n")
    assert lakebox(lake, "ingest", str(src)).returncode == 0
    big = lake / "raw" / "big.csv"
    big.write_text("\n".join([HEADER, *orders(3000)]) + "\n")
    _fill(small_disk / "filler.bin")
    proc = lakebox(lake, "watch", "--once", "--settle-seconds", "0", "--retry-delays", "0,0")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode != 0
    assert "raw/big.csv" in proc.stdout + proc.stderr
    assert "no space left" in (proc.stdout + proc.stderr).lower()
    assert _temp_files(lake) == []
    # With space again, the same watcher command processes the file.
    (small_disk / "filler.bin").unlink()
    again = lakebox(lake, "watch", "--once", "--settle-seconds", "0", "--retry-delays", "0,0")
    assert again.returncode == 0, again.stdout + again.stderr
    out = lakebox(lake, "query", "SELECT count(*) FROM orders_db.orders_processed", "--format", "csv")
    assert out.stdout.strip().splitlines()[-1].strip('"') == "3050"

"""Read-only commands never create a lake (issue 12): `lakebox --lake /nonexistent/x status` created that
folder and a catalog inside it, printed empty tables and exited 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from .ingest_fixtures import lakebox


@pytest.mark.parametrize("args", [
    ("status",),
    ("status", "--json"),
    ("query", "SELECT 1"),
    ("history",),
])
def test_read_only_commands_do_not_create_a_lake(tmp_path: Path, args: tuple[str, ...]) -> None:
    lake = tmp_path / "nonexistent" / "x"
    proc = lakebox(lake, *args)
    assert proc.returncode != 0
    assert not lake.exists() and not lake.parent.exists()
    assert "Traceback" not in proc.stderr
    assert f"no lake at {lake}" in proc.stderr
    assert "lakebox ingest" in proc.stderr  # says how to make one


def test_ingest_still_creates_the_lake(tmp_path: Path) -> None:
    lake = tmp_path / "new" / "lake"
    src = tmp_path / "o.csv"
    src.write_text("OrderID,Customer,Amount,Status,OrderDate\nO1,Bob,1.00,shipped,2025-04-01\n")
    assert lakebox(lake, "ingest", str(src)).returncode == 0
    assert (lake / "processed").is_dir()

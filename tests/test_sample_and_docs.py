"""Sample data in the original's format, and docs that stay in sync with the code."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from click.testing import CliRunner

from lakebox.cli import main
from lakebox.config import SETTINGS, markdown_table
from lakebox.process.sample import write_sample

ROOT = Path(__file__).resolve().parents[1]


def test_sample_has_the_original_format(tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    write_sample(out, 20_000, dt.date(2025, 5, 1))
    rows = list(csv.DictReader(out.open(newline="")))
    assert list(rows[0]) == ["OrderID", "Customer", "Amount", "Status", "OrderDate"]
    assert len(rows) == 20_000
    assert {r["Status"] for r in rows} == {"pending", "cancelled", "shipped", "confirmed"}
    dates = sorted(r["OrderDate"] for r in rows)
    assert dates[0] >= "2025-01-01" and dates[-1] <= "2025-05-01"
    assert len({r["Customer"] for r in rows}) > 500
    assert len({r["OrderID"] for r in rows}) == 20_000


def test_sample_is_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_sample(a, 500, dt.date(2025, 5, 1), seed=7)
    write_sample(b, 500, dt.date(2025, 5, 1), seed=7)
    assert a.read_bytes() == b.read_bytes()


def test_sample_cli_to_stdout() -> None:
    res = CliRunner().invoke(main, ["--as-of", "2025-05-01", "sample", "--rows", "3"])
    assert res.exit_code == 0
    assert res.output.splitlines()[0] == "OrderID,Customer,Amount,Status,OrderDate"
    assert len(res.output.splitlines()) == 4


def test_readme_shows_the_two_commands_and_every_setting() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
    for s in SETTINGS:
        assert f"`{s.name}`" in readme and f"LAKEBOX_{s.name.upper()}" in readme, s.name
        assert s.help in readme, f"README help text for {s.name} is stale"


def test_readme_settings_table_is_the_generated_one() -> None:
    """The README's table is exactly what the settings' single declaration generates (regenerate it with
    ``python -c 'from lakebox.config import markdown_table; print(markdown_table())'``)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = markdown_table()
    assert table in readme, "README settings table differs from lakebox.config.markdown_table()"
    assert table.count("\n") == len(SETTINGS) + 1
    assert "| `region` | `LAKEBOX_REGION` | `None` |" in table


def test_settings_command_lists_every_setting() -> None:
    res = CliRunner().invoke(main, ["settings"])
    assert res.exit_code == 0
    for s in SETTINGS:
        assert s.name in res.output

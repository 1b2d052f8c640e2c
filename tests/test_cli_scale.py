"""The CLI's scale features: `lakebox compact`, and commands that import only what they use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from lakebox.cli import main
from lakebox.process.sample import write_sample

HEAVY = ("duckdb", "sqlglot", "boto3", "botocore", "flask", "watchdog")


def _modules_after(*argv: str) -> set[str]:
    """The modules a fresh interpreter has imported after running ``lakebox argv``."""
    code = (f"import sys, json\nfrom lakebox.cli import main\ntry:\n    main({list(argv)!r})\n"
            "except SystemExit:\n    pass\nprint(json.dumps(sorted(m for m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_help_and_status_import_no_engine_sdk_or_web(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    runner = CliRunner()
    src = tmp_path / "o.csv"
    write_sample(src, 50, __import__("datetime").date(2025, 5, 1))
    assert runner.invoke(main, ["--lake", str(lake), "ingest", str(src)]).exit_code == 0
    for argv in (["--help"], ["--lake", str(lake), "status"]):
        loaded = _modules_after(*argv)
        assert not {m for m in loaded if m.split(".")[0] in HEAVY}, argv
    # --help prints no table: not even rich is imported; nor the deploy group, a TOML parser (there is
    # no lakebox.toml), difflib (nothing was misspelt) or the datasets' models (no settings are loaded).
    loaded = _modules_after("--help")
    assert not {m for m in loaded if m.split(".")[0] == "rich"}
    assert not {"lakebox.deploy.cli", "tomllib", "difflib", "lakebox.core.dataset"} & loaded


def test_help_lists_lazy_groups_with_their_own_help() -> None:
    out = CliRunner().invoke(main, ["--help"]).output
    for name, (module, attr, line) in main.lazy_commands.items():
        real = getattr(__import__(module, fromlist=[attr]), attr)
        # The line shown without importing the group is the group's own first docstring line.
        assert line == (real.help or "").strip().splitlines()[0]
        assert f"  {name} " in out
    result = CliRunner().invoke(main, ["deploy", "--help"])
    assert result.exit_code == 0 and "template" in result.output


def test_compact_merges_and_keeps_answers(tmp_path: Path) -> None:
    runner = CliRunner()
    lake = ["--lake", str(tmp_path / "lake"), "--as-of", "2025-05-01"]
    for i in range(3):
        src = tmp_path / f"o{i}.csv"
        write_sample(src, 40, __import__("datetime").date(2025, 5, 1), seed=i)
        assert runner.invoke(main, [*lake, "ingest", str(src)]).exit_code == 0
    count = [*lake, "query", "SELECT count(*) AS n, sum(order_amount) AS s FROM orders_processed", "--format", "csv"]
    before = runner.invoke(main, count).output
    out = runner.invoke(main, [*lake, "compact"])
    assert out.exit_code == 0 and out.output == "compacted 3 files into 1\n"
    assert runner.invoke(main, count).output == before
    assert runner.invoke(main, [*lake, "compact"]).output == "nothing to compact\n"


def _rich_table(header: list[tuple[str, str]], rows: list[list[str | None]]) -> str:
    """What the rich path of ``lakebox query`` prints for this table on an unstyled 200-column stdout."""
    import io

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    out = io.StringIO()
    t = Table()
    for name, typ in header:
        t.add_column(f"{escape(name)}\n[dim]{escape(typ)}[/dim]")
    for row in rows:
        t.add_row(*["[dim]NULL[/dim]" if v is None else escape(v) for v in row])
    Console(file=out, width=200, emoji=False).print(t)
    return out.getvalue()


def test_the_plain_table_is_what_rich_prints() -> None:
    """A piped `lakebox query` writes its table without importing rich: character for character rich's."""
    import random

    from lakebox.cli import _plain_table

    rng = random.Random(7)
    alphabet = "abcXYZ 019_-.,:;[]/'\"()#*=+<>!?@$%^&{}|~`"  # a backslash goes to rich (see _plain_table)
    cases: list[tuple[list[tuple[str, str]], list[list[str | None]]]] = [
        ([("a", "varchar")], []),
        ([("order_status", "varchar"), ("n", "bigint")], [["", "1"], [None, "2"]]),
        ([("x", "decimal(38,2)")], [["[bold]not markup[/bold]"], ["back\\slash"], ["  padded  "]]),
    ]
    for _ in range(200):
        ncols = rng.randint(1, 5)
        header = [("".join(rng.choices(alphabet, k=rng.randint(1, 12))), rng.choice(["varchar", "bigint", "date"]))
                  for _ in range(ncols)]
        rows: list[list[str | None]] = [
            [None if rng.random() < 0.1 else "".join(rng.choices(alphabet, k=rng.randint(0, 30)))
             for _ in range(ncols)] for _ in range(rng.randint(0, 6))]
        cases.append((header, rows))
    cases.append(([("wide", "varchar")], [["x" * 197]]))  # 201 columns wide: rich shrinks it
    cases.append(([("fits", "varchar")], [["x" * 196]]))
    compared = 0
    for header, rows in cases:
        plain = _plain_table(header, rows)
        if plain is not None:
            assert plain == _rich_table(header, rows), (header, rows)
            compared += 1
    assert compared >= 200
    assert _plain_table([("wide", "varchar")], [["x" * 197]]) is None
    assert _plain_table([("é", "varchar")], []) is None


def test_a_piped_query_prints_its_table_without_rich(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    src = tmp_path / "o.csv"
    write_sample(src, 50, __import__("datetime").date(2025, 5, 1))
    assert CliRunner().invoke(main, ["--lake", str(lake), "ingest", str(src)]).exit_code == 0
    loaded = _modules_after("--lake", str(lake), "query", "SELECT 1 AS one")
    assert not {m for m in loaded if m.split(".")[0] == "rich"}


def test_a_named_query_imports_no_processing(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    src = tmp_path / "o.csv"
    write_sample(src, 50, __import__("datetime").date(2025, 5, 1))
    assert CliRunner().invoke(main, ["--lake", str(lake), "ingest", str(src)]).exit_code == 0
    loaded = _modules_after("--lake", str(lake), "query", "--name", "order_status_summary")
    assert "lakebox.query.engine" in loaded
    # The "Lambda", the deploy group and the saved queries are not what a built-in named query needs.
    assert not {"lakebox.process.handler", "lakebox.deploy.cli", "lakebox.web.saved"} & loaded

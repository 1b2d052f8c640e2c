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
    # --help prints no table: not even rich is imported.
    assert not {m for m in _modules_after("--help") if m.split(".")[0] == "rich"}


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

"""Profiles: `lakebox init` writes a commented lakebox.toml; `--profile glue-crawler` gives the crawler-built
`processed` table with Glue's CSV types without any file."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lakebox.cli import main
from lakebox.config import load_settings
from lakebox.core.dataset import default_dataset
from lakebox.core.profiles import PROFILES

GLUE_COLUMNS = [["orderid", "varchar"], ["customer", "varchar"], ["amount", "double"], ["status", "varchar"],
                ["orderdate", "varchar"]]


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_init_writes_a_commented_file_that_resolves_to_the_profile(tmp_path: Path, profile: str) -> None:
    out = tmp_path / "lakebox.toml"
    res = CliRunner().invoke(main, ["init", "--profile", profile, "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert sum(line.lstrip().startswith("#") for line in text.splitlines()) >= 5
    from_file = load_settings(env={}, config_file=out)
    from_flag = load_settings({"profile": profile}, env={})
    for name in ("table_prefix", "database", "output_format"):
        assert getattr(from_file, name) == getattr(from_flag, name)
    assert from_file.datasets == from_flag.datasets


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "lakebox.toml"
    out.write_text("port = 1\n")
    res = CliRunner().invoke(main, ["init", "--out", str(out)])
    assert res.exit_code == 2 and "already exists" in res.output and out.read_text() == "port = 1\n"
    assert CliRunner().invoke(main, ["init", "--out", str(out), "--force"]).exit_code == 0
    assert "[datasets.orders.columns]" in out.read_text()


def test_typed_profile_is_the_default() -> None:
    s = load_settings(env={})
    assert s.profile == "typed" and s.table_prefix == "orders_" and s.datasets == (default_dataset(),)


def test_file_env_and_flags_override_the_profile(tmp_path: Path) -> None:
    cfg = tmp_path / "lakebox.toml"
    cfg.write_text('table_prefix = "t_"\n')
    s = load_settings({"profile": "glue-crawler"}, env={}, config_file=cfg)
    assert s.table_prefix == "t_" and s.datasets[0].glue_csv and s.sources["table_prefix"] == str(cfg)
    s = load_settings(env={"LAKEBOX_PROFILE": "glue-crawler", "LAKEBOX_DATABASE": "d"})
    assert s.database == "d" and s.table_prefix == "" and s.sources["table_prefix"] == "profile glue-crawler"
    bad = CliRunner().invoke(main, ["--profile", "nope", "settings"])
    assert bad.exit_code == 2 and "glue-crawler" in bad.output


def test_glue_crawler_profile_without_a_file_gives_the_crawlers_table(tmp_path: Path, orders_csv: Path) -> None:
    runner = CliRunner()
    base = ["--lake", str(tmp_path / "L"), "--as-of", "2025-05-01", "--profile", "glue-crawler"]
    res = runner.invoke(main, [*base, "ingest", str(orders_csv)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, [*base, "query", "--format", "json",
                               "SELECT column_name, data_type FROM information_schema.columns "
                               "WHERE table_name = 'processed' ORDER BY ordinal_position"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["rows"] == GLUE_COLUMNS
    res = runner.invoke(main, [*base, "query", "--format", "json",
                               'SELECT Customer, ROUND(SUM(Amount), 2) AS s FROM "processed" GROUP BY Customer '
                               "ORDER BY s DESC LIMIT 1"])
    assert json.loads(res.output)["rows"] == [["Bob", 10328.04]]


@pytest.mark.slow
def test_up_with_the_glue_crawler_profile_needs_no_file(tmp_path: Path, orders_csv: Path) -> None:
    lake = tmp_path / "lake"
    (lake / "raw").mkdir(parents=True)
    shutil.copyfile(orders_csv, lake / "raw" / "orders.csv")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAKEBOX_"))}
    proc = subprocess.Popen([sys.executable, "-m", "lakebox", "--lake", str(lake), "--as-of", "2025-05-01", "up",
                             "--profile", "glue-crawler", "--port", str(port), "--no-watch", "--no-endpoint"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert proc.stdout is not None
        while True:
            line = proc.stdout.readline()
            assert line, "lakebox up exited before serving"
            if re.search(rf"http://127\.0\.0\.1:{port}", line):
                break
        res = CliRunner().invoke(main, ["--lake", str(lake), "--profile", "glue-crawler", "query", "--format",
                                        "csv", "SELECT count(*), typeof(amount) FROM processed GROUP BY 2"])
        assert res.exit_code == 0, res.output
        assert res.output.splitlines()[1] == '"130","double"'
    finally:
        proc.terminate()
        proc.wait(20)

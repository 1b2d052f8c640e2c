"""The ``lakebox`` entry point (``lakebox.launcher``): ``lakebox --help`` from a cache that is exactly click's
text, re-rendered whenever anything it depends on changes; every other command line goes to click."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lakebox.launcher import _modules, cache_file, help_key


def _launch(*argv: str, cache: Path, columns: str = "80") -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run the console script's ``main`` in a fresh interpreter; its output and the modules it imported."""
    code = ("import sys, json\nsys.argv = ['lakebox', *json.loads(sys.argv[1])]\n"
            "from lakebox.launcher import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write('\\nMODULES ' + json.dumps(sorted(sys.modules)))\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "COLUMNS": columns}
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(list(argv))], capture_output=True, text=True,
                          env=env, check=True)
    modules = set(json.loads(proc.stderr.rsplit("\nMODULES ", 1)[1]))
    return proc, modules


def _clicks_own_help(columns: str = "80") -> str:
    code = "import sys\nsys.argv = ['lakebox', '--help']\nfrom lakebox.cli import main\nmain()\n"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "COLUMNS": columns}).stdout


def test_help_comes_from_the_cache_and_is_clicks_own_text(tmp_path: Path) -> None:
    first, loaded = _launch("--help", cache=tmp_path)
    assert "click" in loaded  # rendered once
    second, loaded = _launch("--help", cache=tmp_path)
    assert "click" not in loaded and "lakebox.config" not in loaded  # then printed from the cache
    assert first.stdout == second.stdout == _clicks_own_help()
    assert "Commands:" in second.stdout and "deploy" in second.stdout
    short, _ = _launch("-h", cache=tmp_path)
    assert short.stdout == first.stdout


def test_a_cache_for_another_key_is_never_printed(tmp_path: Path) -> None:
    _launch("--help", cache=tmp_path)
    (path,) = (tmp_path / "lakebox").iterdir()
    key, sep, text = path.read_text().partition("\n\x00\n")
    path.write_text(f"{key}{sep}cached text\n")
    assert _launch("--help", cache=tmp_path)[0].stdout == "cached text\n"  # the cache is what is printed...
    path.write_text(f"{key} but older{sep}stale text\n")
    assert _launch("--help", cache=tmp_path)[0].stdout == _clicks_own_help()  # ...only for its exact key


def test_the_key_follows_the_terminal_and_the_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    narrow = help_key()
    monkeypatch.setenv("COLUMNS", "200")
    assert help_key() != narrow and cache_file(help_key()) != cache_file(narrow)
    wide = _launch("--help", cache=tmp_path, columns="200")[0].stdout
    assert wide == _clicks_own_help("200")
    module = tmp_path / "pkg" / "mod.py"
    module.parent.mkdir()
    module.write_text("x = 1\n")
    before = _modules(str(module.parent))
    module.write_text("x = 22\n")  # another size (and time): the help is rendered again
    assert _modules(str(module.parent)) != before


def test_an_unwritable_cache_still_prints_the_help(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    proc, _ = _launch("--help", cache=blocker)
    assert proc.stdout == _clicks_own_help()
    assert not list(tmp_path.glob("**/*.tmp"))


def test_no_cache_without_an_absolute_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # ignored, as the XDG specification says
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Path(str(cache_file("k"))).parent == tmp_path / ".cache" / "lakebox"
    monkeypatch.setenv("HOME", "not/absolute")
    assert cache_file("k") is None
    monkeypatch.chdir(tmp_path)
    proc, _ = _launch("--help", cache=Path("relative"))
    assert proc.stdout.startswith("Usage: lakebox")
    assert not list(tmp_path.iterdir())  # nothing written under the working folder


def test_other_command_lines_go_to_click(tmp_path: Path) -> None:
    proc, loaded = _launch("settings", cache=tmp_path)
    assert "click" in loaded and "lake" in proc.stdout
    assert not (tmp_path / "lakebox").exists()

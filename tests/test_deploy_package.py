"""The dashboard host's wheel: built from the installed lakebox, reproducible, installable by pip, carrying
the constraints the host installs with."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import subprocess
import sys
import zipfile
from pathlib import Path

from lakebox.deploy.package import CONSTRAINTS, build_wheel


def test_wheel_is_reproducible_and_content_addressed(tmp_path: Path) -> None:
    a, b = build_wheel(tmp_path / "a"), build_wheel(tmp_path / "b")
    assert a.sha256 == b.sha256 == hashlib.sha256(a.path.read_bytes()).hexdigest()
    assert a.path.name.endswith("-py3-none-any.whl")
    assert a.s3_key == f"lakebox/wheels/{a.sha256}/{a.path.name}"


def test_wheel_record_matches_its_files_and_pip_installs_it(tmp_path: Path) -> None:
    info = build_wheel(tmp_path / "w")
    with zipfile.ZipFile(info.path) as zf:
        names = zf.namelist()
        record_name = next(n for n in names if n.endswith(".dist-info/RECORD"))
        rows = list(csv.reader(io.StringIO(zf.read(record_name).decode())))
        assert {r[0] for r in rows} == set(names)
        for path, digest, _size in rows:
            if path == record_name:
                continue
            want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(zf.read(path)).digest()).rstrip(b"=").decode()
            assert digest == want, path
        assert zf.read("lakebox/deploy/constraints.txt") == CONSTRAINTS.read_bytes()
        assert b"lakebox = lakebox.launcher:main" in zf.read(next(n for n in names if n.endswith("entry_points.txt")))
    target = tmp_path / "installed"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",  # noqa: S603
                           "--disable-pip-version-check", "--target", str(target), str(info.path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (target / "lakebox" / "process" / "handler.py").is_file()
    assert (target / "bin" / "lakebox").is_file()  # the console script the host's service runs

"""The Lambda function's package: zip size per architecture, and the handler's cold-start import time.

For x86_64 and arm64 it builds the zip exactly as ``lakebox deploy package`` does (pip ``--platform
manylinux2014_<arch>`` and ``manylinux_2_28_<arch>``, ``--only-binary=:all:``, Python 3.12, versions from
``src/lakebox/deploy/constraints.txt``). For the architecture of this machine it then unpacks the zip next to
a clean Python 3.12 venv that holds only boto3 (what the Lambda runtime provides) and measures, in fresh
processes, the time to ``import lakebox.process.handler`` with the zip first on ``sys.path`` (Lambda's task
root): the part of a cold start lakebox controls. The other architecture's wheels cannot run here, so its
import time is not measured (the table says so). A Graviton machine measures the arm64 row.

Usage: ``python benchmarks/bench_lambda.py [--runs 15] [--python /path/to/python3.12]``. Prints a markdown
table and writes it to ``benchmarks/results/lambda.md``.
"""

from __future__ import annotations

import argparse
import glob
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from lakebox.deploy.package import ARCHES, CONSTRAINTS, LAMBDA_PYTHON, build_zip

RESULTS = Path(__file__).resolve().parent / "results" / "lambda.md"
IMPORT = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
t0 = time.perf_counter()
import lakebox.process.handler
t1 = time.perf_counter()
assert lakebox.process.handler.__file__.startswith(sys.argv[1])
print(f"{(t1 - t0) * 1000:.1f}")
"""


def find_python312(explicit: str | None) -> str | None:
    """A Python 3.12 interpreter (Lambda's runtime): the flag, python3.12 on PATH, or pyenv's."""
    candidates = [explicit] if explicit else []
    candidates += [shutil.which("python3.12") or ""]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    for exe in candidates:
        if exe and subprocess.run([exe, "-c", "import venv"], capture_output=True, check=False).returncode == 0:
            return exe
    return None


def native_arch() -> str:
    machine = platform.machine().lower()
    return "arm64" if machine in ("aarch64", "arm64") else "x86_64"


def import_times(zip_path: Path, python: str, runs: int, work: Path) -> tuple[list[float], list[float]]:
    """Milliseconds to import the handler from the unpacked zip, one fresh process per run: as shipped (no
    bytecode: Lambda's task root is read-only, so every cold start compiles lakebox's modules), and with
    the task root compiled in advance (what shipping .pyc files would give)."""
    task_root = work / "task"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(task_root)
    venv = work / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    subprocess.run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "boto3"], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # Lambda's task root is read-only: no .pyc cache between runs
    subprocess.run([py, "-c", IMPORT, str(task_root)], check=True, capture_output=True, env=env)  # warm the disk
    def measure() -> list[float]:
        out = []
        for _ in range(runs):
            proc = subprocess.run([py, "-c", IMPORT, str(task_root)], check=True, capture_output=True, text=True,
                                  env=env)
            out.append(float(proc.stdout.strip().splitlines()[-1]))
        return out

    shipped = measure()
    subprocess.run([py, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(task_root)],
                   check=True)
    return shipped, measure()


def _summary(ms: list[float]) -> str:
    return f"{statistics.median(ms):.0f} ms ({min(ms):.0f}-{max(ms):.0f})"


def pinned(name: str) -> str:
    return next(line.split("==")[1] for line in CONSTRAINTS.read_text().splitlines()
                if line.lower().startswith(f"{name}=="))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--python", default=None, help="a Python 3.12 interpreter for the clean venv")
    args = parser.parse_args()
    python = find_python312(args.python)
    here = native_arch()
    rows = []
    for arch in ARCHES:
        with tempfile.TemporaryDirectory(prefix=f"bench-lambda-{arch}-") as tmp:
            info = build_zip(Path(tmp) / f"lambda-{arch}.zip", arch, LAMBDA_PYTHON)
            if arch != here:
                timing = compiled = f"not measured: {arch} wheels do not run on this {platform.machine()} machine"
            elif python is None:
                timing = compiled = "not measured: no Python 3.12 on this machine"
            else:
                shipped, precompiled = import_times(info.path, python, args.runs, Path(tmp))
                timing, compiled = _summary(shipped), _summary(precompiled)
            rows.append((arch, info.zipped_bytes, info.unzipped_bytes, info.files, timing, compiled))
    lines = [
        f"Lambda package, Python {LAMBDA_PYTHON}, duckdb {pinned('duckdb')} (pinned in "
        f"src/lakebox/deploy/constraints.txt); machine: {platform.machine()}, {platform.processor() or '?'}, "
        f"{os.cpu_count()} cores, {platform.system()} {platform.release()}; interpreter for the import: "
        f"{python or 'none'}",
        "",
        "| arch | zip | unzipped (limit 250 MiB) | files | handler cold-start import, as shipped | "
        "same, bytecode compiled in advance |",
        "|---|---|---|---|---|---|",
    ]
    for arch, zipped, unzipped, files, timing, compiled in rows:
        lines.append(f"| {arch} | {zipped / 2**20:.1f} MiB | {unzipped / 2**20:.1f} MiB | {files} | {timing} "
                     f"| {compiled} |")
    lines += ["", f"Import time: clean Python 3.12 venv with only boto3 (the Lambda runtime's), the unpacked zip first "
              f"on sys.path, {args.runs} fresh processes each; median (min-max)."]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    sys.exit(0)


if __name__ == "__main__":
    main()

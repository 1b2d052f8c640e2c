"""``lakebox deploy package``: the Lambda function's zip.

Contents: lakebox's own source (the handler is ``lakebox.process.handler.lambda_handler``) and the wheels of
the runtime dependencies the handler imports that the Lambda runtime lacks. That is DuckDB only: boto3 ships
with the Python runtime, and Flask, plotly, sqlglot and the rest serve the CLI and the dashboard, which never
run in the function.

Wheels come from the configured package index through pip, for the Lambda platform and Python version
(``--platform manylinux2014_<arch>`` plus ``manylinux_2_28_<arch>``, since the python3.12 runtime is Amazon
Linux 2023 with glibc 2.34, so newer DuckDB wheels that need glibc 2.28 are usable; ``--only-binary=:all:``
so nothing is compiled for the wrong machine). ``--find-links DIR --no-index`` builds fully offline from
downloaded wheels.

Reproducible: entries sorted, every timestamp 1980-01-01, permissions 0644 (0755 for the few executables
pip marks so), no directory entries, no ``__pycache__``; the same inputs give a byte-identical zip, so its
SHA-256 names it in the artifacts bucket and an unchanged function is never redeployed. Versions are pinned
by ``constraints.txt`` next to this module (``pip --constraint``), so the same lakebox always ships the same
DuckDB.

:func:`build_wheel` builds lakebox's own wheel (pure Python, from the installed package and its metadata) for
the dashboard host, which installs exactly that file after checking its SHA-256.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lakebox.core.errors import LakeboxError

#: Lambda's limit for a function's unzipped deployment package (code and layers), in bytes.
UNZIPPED_LIMIT = 250 * 1024 * 1024
LAMBDA_PYTHON = "3.12"
ARCHES = {"x86_64": "x86_64", "arm64": "aarch64"}
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
#: What the handler needs beyond the Lambda runtime (which has boto3); versions come from CONSTRAINTS.
HANDLER_REQUIREMENTS = ("duckdb",)
#: The pinned versions of everything `deploy` ships (the zip's DuckDB, the host's dependencies).
CONSTRAINTS = Path(__file__).with_name("constraints.txt")
_SKIP_DIRS = {"__pycache__", "tests", ".pytest_cache"}
_SKIP_SUFFIXES = (".pyc", ".pyo")


class PackageError(LakeboxError, RuntimeError, code="PackageError"):
    """The zip cannot be built (pip failed, or it would exceed Lambda's size limit)."""


@dataclass(frozen=True)
class PackageInfo:
    """What was built."""

    path: Path
    sha256: str
    files: int
    unzipped_bytes: int
    zipped_bytes: int
    arch: str
    python_version: str

    @property
    def s3_key(self) -> str:
        """Content-addressed key in the artifacts bucket."""
        if self.arch == "wheel":
            return f"lakebox/wheels/{self.sha256}/{self.path.name}"
        return zip_key(self.arch, self.sha256)


def zip_key(arch: str, sha256: str) -> str:
    """The function zip's content-addressed key in the artifacts bucket."""
    return f"lakebox/lambda-{arch}-{sha256[:16]}.zip"


def platforms(arch: str) -> list[str]:
    """pip ``--platform`` tags for a Lambda architecture (``x86_64`` or ``arm64``)."""
    try:
        machine = ARCHES[arch]
    except KeyError:
        raise PackageError(f"unknown architecture {arch!r}; use x86_64 or arm64") from None
    return [f"manylinux2014_{machine}", f"manylinux_2_28_{machine}"]


def pip_install_command(
    target: Path,
    arch: str,
    python_version: str,
    requirements: Sequence[str],
    *,
    find_links: Sequence[str] = (),
    no_index: bool = False,
    python: str = sys.executable,
    constraints: Path | None = CONSTRAINTS,
) -> list[str]:
    """The pip command that fetches the Lambda platform's wheels into ``target`` (exposed for tests/docs)."""
    cmd = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
           "--target", str(target), "--only-binary=:all:", "--implementation", "cp",
           "--python-version", python_version]
    if constraints is not None:
        cmd += ["--constraint", str(constraints)]
    for p in platforms(arch):
        cmd += ["--platform", p]
    for link in find_links:
        cmd += ["--find-links", str(link)]
    if no_index:
        cmd.append("--no-index")
    return cmd + list(requirements)


def lakebox_source() -> Path:
    """The installed ``lakebox`` package folder (the source tree in an editable install)."""
    import lakebox

    return Path(lakebox.__file__).resolve().parent


def _collect(root: Path, arc_prefix: str = "") -> dict[str, Path]:
    """Files under ``root`` as {archive name: path}, skipping caches; names use ``/`` on every OS."""
    out: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.endswith(".egg-info"))
        for name in filenames:
            if name.endswith(_SKIP_SUFFIXES):
                continue
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            out[arc_prefix + rel] = path
    return out


def write_reproducible_zip(files: dict[str, Path], out: Path) -> None:
    """Write ``files`` in sorted order with fixed timestamps and permissions."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(files):
            path = files[name]
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            mode = 0o755 if os.access(path, os.X_OK) and path.suffix not in (".py", ".pyi", ".txt") else 0o644
            info.external_attr = (0o100000 | mode) << 16  # regular file + permission bits
            info.create_system = 3  # Unix, so the permission bits are honoured when unpacked
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as fh:
                zf.writestr(info, fh.read(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    os.replace(tmp, out)


def build_zip(
    out: Path,
    arch: str = "x86_64",
    python_version: str = LAMBDA_PYTHON,
    *,
    requirements: Sequence[str] = HANDLER_REQUIREMENTS,
    find_links: Sequence[str] = (),
    no_index: bool = False,
    source: Path | None = None,
    limit: int = UNZIPPED_LIMIT,
) -> PackageInfo:
    """Build the function zip at ``out`` and return what it holds. Raises PackageError on failure."""
    platforms(arch)  # validate before any work
    work = Path(tempfile.mkdtemp(prefix="lakebox-package-"))
    try:
        deps = work / "deps"
        cmd = pip_install_command(deps, arch, python_version, requirements,
                                  find_links=find_links, no_index=no_index)
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603 - fixed argv
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise PackageError(f"pip could not fetch {', '.join(requirements)} for {arch}/"
                               f"cp{python_version.replace('.', '')}:\n{tail}")
        files = _collect(deps)
        # pip --target may leave console scripts in bin/; the function never runs them.
        files = {k: v for k, v in files.items() if not k.startswith("bin/")}
        src = source or lakebox_source()
        files.update(_collect(src, "lakebox/"))
        unzipped = sum(p.stat().st_size for p in files.values())
        if unzipped > limit:
            raise PackageError(f"the package would be {unzipped / 2**20:.1f} MiB unzipped; Lambda's limit is "
                               f"{limit / 2**20:.0f} MiB")
        write_reproducible_zip(files, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    return PackageInfo(out, digest, len(files), unzipped, out.stat().st_size, arch, python_version)


def build_wheel(out_dir: Path) -> PackageInfo:
    """lakebox's wheel (``py3-none-any``) from the installed package and its metadata, reproducibly: the
    dashboard host installs exactly this file. Returns its path and SHA-256 (``arch`` is ``"wheel"``)."""
    import base64
    import importlib.metadata as md

    dist = md.distribution("lakebox")
    name, version = "lakebox", dist.version
    info_dir = f"{name}-{version}.dist-info"
    work = Path(tempfile.mkdtemp(prefix="lakebox-wheel-"))
    try:
        files = _collect(lakebox_source(), "lakebox/")
        meta = {
            "METADATA": dist.read_text("METADATA") or f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
            "WHEEL": "Wheel-Version: 1.0\nGenerator: lakebox\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
            "entry_points.txt": dist.read_text("entry_points.txt") or "",
        }
        record_lines = []
        for arc, path in sorted(files.items()):
            data = path.read_bytes()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record_lines.append(f"{arc},sha256={digest},{len(data)}")
        for fname, text in meta.items():
            path = work / fname
            path.write_text(text, encoding="utf-8")
            files[f"{info_dir}/{fname}"] = path
            digest = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).rstrip(b"=").decode()
            record_lines.append(f"{info_dir}/{fname},sha256={digest},{path.stat().st_size}")
        record = work / "RECORD"
        record.write_text("\n".join([*record_lines, f"{info_dir}/RECORD,,"]) + "\n", encoding="utf-8")
        files[f"{info_dir}/RECORD"] = record
        out = Path(out_dir) / f"{name}-{version}-py3-none-any.whl"
        write_reproducible_zip(files, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    size = sum(p.stat().st_size for p in files.values() if p.exists())
    return PackageInfo(out, digest, len(files), size, out.stat().st_size, "wheel", "py3")

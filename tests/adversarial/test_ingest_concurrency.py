"""Uploads racing each other and the watcher, against a real `lakebox up` (server + watcher) process.

Reproductions from the hardening review (issue 12): under `lakebox up` every upload was processed twice
(the upload and the watcher both processed it), and ten simultaneous uploads of one name answered with
another upload's counts and left the object pending.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from waiting import wait_until

from .ingest_fixtures import AS_OF, HEADER, orders, status

pytestmark = pytest.mark.slow


@dataclass
class Up:
    url: str
    lake: Path
    session: requests.Session
    csrf: str

    def upload(self, name: str, body: bytes) -> dict[str, Any]:
        resp = self.session.post(f"{self.url}/api/upload", files={"file": (name, body, "text/csv")},
                                 headers={"X-CSRF-Token": self.csrf}, timeout=60)
        assert resp.status_code == 201, resp.text
        return dict(resp.json())

    def runs_for(self, key: str) -> list[dict[str, Any]]:
        runs = self.session.get(f"{self.url}/api/runs", params={"limit": 500}, timeout=30).json()
        items = runs["runs"] if isinstance(runs, dict) else runs
        return [r for r in items if r["raw_key"] == key]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    lake = tmp_path / "lake"
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lakebox", "--lake", str(lake), "--as-of", AS_OF, "up", "--port", str(port),
         "--sample-rows", "20"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=dict(os.environ, NO_COLOR="1"))
    url = f"http://127.0.0.1:{port}"
    session = requests.Session()

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"lakebox up exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            return session.get(f"{url}/healthz", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_until(healthy, timeout=90, what="lakebox up to answer /healthz")
        csrf = session.get(f"{url}/api/csrf", timeout=10).json()["csrf_token"]
        yield Up(url, lake, session, csrf)
    finally:
        proc.terminate()
        proc.wait(30)


def _sentinel_processed(up: Up, name: str) -> None:
    """Drop a file into raw/ the way a user would (rename in) and wait for the watcher to process it: by
    then, anything the watcher would have done with earlier uploads has happened."""
    tmp = up.lake / "raw" / f".{name}.part"
    tmp.write_text("\n".join([HEADER, *orders(2)]) + "\n")
    tmp.rename(up.lake / "raw" / name)
    wait_until(lambda: any(r["status"] == "ok" for r in up.runs_for(f"raw/{name}")), timeout=60,
               what=f"the watcher to process raw/{name}")


def test_an_upload_under_up_is_processed_once(up: Up) -> None:
    body = ("\n".join([HEADER, *orders(40)]) + "\n").encode()
    answer = up.upload("once.csv", body)
    assert answer["run"]["rows_kept"] == 40
    _sentinel_processed(up, "zz-sentinel.csv")
    runs = [r for r in up.runs_for("raw/once.csv") if r["status"] != "skipped"]
    assert len(runs) == 1, runs


def test_concurrent_uploads_of_one_name_report_their_own_counts(up: Up) -> None:
    bodies = {n: ("\n".join([HEADER, *orders(n)]) + "\n").encode() for n in range(200, 210)}
    answers: dict[int, dict[str, Any]] = {}
    errors: list[BaseException] = []

    def send(n: int) -> None:
        try:
            answers[n] = up.upload("same.csv", bodies[n])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    for n, answer in answers.items():
        run = answer["run"]
        assert run["rows_read"] == n, (n, run)
        assert run["rows_read"] == run["rows_kept"] + run["rows_dropped"] + run["rows_quarantined"]
    _sentinel_processed(up, "zz-after-same.csv")
    st = status(up.lake)
    assert "raw/same.csv" not in st["pending"]
    final_rows = (up.lake / "raw" / "same.csv").read_text().count("\n") - 1
    latest = [r for r in st["runs"] if r["raw_key"] == "raw/same.csv" and r["status"] == "ok"][0]
    assert latest["rows_read"] == final_rows

"""Fixtures for the dashboard tests: a Flask app and client, a live waitress server, headless Chromium.

Use them from a test module with ``pytest_plugins = ["web_fixtures"]``. The API tests (tests/test_web_api_*.py)
also share ``NAMES`` (the named queries, in dashboard order) and ``assert_json_error`` from here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from waiting import wait_until  # noqa: F401 - re-exported for the tests that import it from here

from lakebox.cli import dashboard_services
from lakebox.lake import Lake

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
XSS_NAME = "<img src=x onerror=alert(1)>"
NAMES = ["total_sales_by_customer", "monthly_order_volume", "order_status_summary",
         "average_order_value_by_customer", "top_orders_february_2025"]


def assert_json_error(resp: Any, status: int, kind: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.data
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert set(body) == {"error"} and body["error"]["message"]
    if kind:
        assert body["error"]["type"] == kind
    assert b"Traceback" not in resp.data
    return body["error"]


def write_csv(path: Path, rows: list[tuple[str, str, str, str, str]]) -> Path:
    lines = ["OrderID,Customer,Amount,Status,OrderDate"] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@contextmanager
def dashboard_app(lake: Lake) -> Iterator[Flask]:
    """The dashboard's Flask app over ``lake`` in testing mode, its services closed afterwards."""
    from lakebox.web.app import create_app

    flask_app = create_app(dashboard_services(lake))
    flask_app.testing = True
    try:
        yield flask_app
    finally:
        flask_app.extensions["lakebox"].close()


@pytest.fixture
def app(orders_lake: Lake) -> Iterator[Flask]:
    with dashboard_app(orders_lake) as flask_app:
        yield flask_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def csrf(client: FlaskClient) -> dict[str, str]:
    """Headers carrying the CSRF token (as the page's JavaScript sends it)."""
    return {"X-CSRF-Token": client.get("/api/csrf").get_json()["csrf_token"]}


@dataclass
class LiveServer:
    """A waitress server running the dashboard in a thread."""

    url: str
    lake: Lake
    server: Any
    thread: threading.Thread
    extra: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        self.server.close()
        self.server.task_dispatcher.shutdown(timeout=5)
        self.thread.join(timeout=10)
        self.server.lakebox_app.extensions["lakebox"].close()


def start_live_server(lake: Lake, **config: Any) -> LiveServer:
    from lakebox.web.server import make_server

    server = make_server(dashboard_services(lake), "127.0.0.1", 0, threads=8, **config)
    thread = threading.Thread(target=_run_quietly, args=(server,), name="lakebox-waitress", daemon=True)
    thread.start()
    return LiveServer(f"http://127.0.0.1:{server.effective_port}", lake, server, thread)


def _run_quietly(server: Any) -> None:
    try:
        server.run()
    except OSError:  # the socket closed under the loop at shutdown
        pass


@pytest.fixture
def live_server(orders_lake: Lake) -> Iterator[LiveServer]:
    srv = start_live_server(orders_lake)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@dataclass
class PageRecorder:
    """A page plus what it did that it should not have: dialogs, page errors, requests to other hosts."""

    page: Any
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)


def set_sql(page: Any, sql: str) -> None:
    """Replace the SQL editor's text (CodeMirror's contenteditable), as typing would."""
    page.locator("#sql-editor .cm-content").fill(sql)


def record(context: Any, server: LiveServer) -> PageRecorder:
    """A new page in ``context`` that records dialogs, page errors and requests leaving ``server``."""
    pg = context.new_page()
    rec = PageRecorder(pg)

    def on_dialog(dialog: Any) -> None:
        rec.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_request(request: Any) -> None:
        if not request.url.startswith((server.url, "data:", "blob:", "about:")):
            rec.foreign.append(request.url)

    pg.on("dialog", on_dialog)
    pg.on("pageerror", lambda exc: rec.errors.append(str(exc)))
    pg.on("request", on_request)
    pg.set_default_timeout(15_000)
    return rec


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[PageRecorder]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="en-US", timezone_id="UTC")
    yield record(context, live_server)
    context.close()

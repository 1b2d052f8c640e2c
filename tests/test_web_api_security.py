"""The dashboard's server-side safety: read-only SQL, CSRF, origin and host checks, escaping, token auth,
binding, and errors without traces.

Fixtures (``app``, ``client``, ``csrf``) and ``assert_json_error`` are in ``web_fixtures``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from lakebox.cli import dashboard_services
from lakebox.lake import Lake
from lakebox.web.app import create_app

pytest_plugins = ["web_fixtures"]
pytest.register_assert_rewrite("web_fixtures")

from web_fixtures import XSS_NAME, assert_json_error, write_csv  # noqa: E402

# --- read-only SQL, CSRF, origin and host -------------------------------------------------------------------


@pytest.mark.parametrize("sql", [
    "COPY orders_processed TO '/tmp/stolen.csv'",
    "ATTACH '/tmp/other.duckdb' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SELECT * FROM read_csv('/etc/passwd')",
    "CREATE TABLE t AS SELECT 1",
    "DROP TABLE orders_processed",
])
def test_sql_refuses_writes_and_external_access(client: FlaskClient, csrf: dict[str, str], sql: str) -> None:
    err = assert_json_error(client.post("/api/sql", json={"sql": sql}, headers=csrf), 400)
    assert err["type"] in {"NOT_SUPPORTED", "FUNCTION_NOT_FOUND", "PERMISSION_DENIED"}
    assert "root:" not in err["message"]


def test_post_without_csrf_token_is_refused(client: FlaskClient) -> None:
    assert_json_error(client.post("/api/sql", json={"sql": "SELECT 1"}), 403, "CSRF_FAILED")
    assert_json_error(client.post("/api/sql", json={"sql": "SELECT 1"}, headers={"X-CSRF-Token": "forged"}),
                      403, "CSRF_FAILED")
    assert_json_error(client.post("/api/upload", data={"file": (io.BytesIO(b"a,b\n"), "x.csv")}), 403, "CSRF_FAILED")


def test_cross_origin_post_is_refused(client: FlaskClient, csrf: dict[str, str]) -> None:
    headers = dict(csrf, Origin="http://evil.example")
    assert_json_error(client.post("/api/sql", json={"sql": "SELECT 1"}, headers=headers), 403, "CSRF_FAILED")


def test_foreign_host_header_is_refused(client: FlaskClient) -> None:
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 must not read the API."""
    assert_json_error(client.get("/api/queries", headers={"Host": "evil.example"}), 403, "BAD_HOST")
    assert client.get("/api/queries", headers={"Host": "localhost:5000"}).status_code == 200


# --- escaping -----------------------------------------------------------------------------------------------


def test_values_are_escaped_in_the_page(orders_lake: Lake, tmp_path: Path) -> None:
    orders_lake.ingest([write_csv(tmp_path / "xss.csv", [("X1", XSS_NAME, "99999.00", "shipped", "2025-02-11")])])
    c = create_app(dashboard_services(orders_lake)).test_client()
    c.get("/api/dashboard")  # compute every view, so the page embeds the data
    html = c.get("/").get_data(as_text=True)
    assert XSS_NAME not in html and "<img" not in html
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in html
    api = c.get("/api/queries/total_sales_by_customer").get_json()
    assert api["rows"][0][0] == XSS_NAME  # the API returns the value as data, unchanged


# --- token auth and binding ---------------------------------------------------------------------------------


@pytest.fixture
def token_client(orders_lake: Lake) -> FlaskClient:
    return create_app(dashboard_services(orders_lake), TOKEN="s3cret-token").test_client()


def test_token_required_everywhere_but_health(token_client: FlaskClient) -> None:
    assert token_client.get("/healthz").status_code == 200
    assert_json_error(token_client.get("/api/queries"), 401, "UNAUTHORIZED")
    assert_json_error(token_client.get("/api/queries", headers={"Authorization": "Bearer nope"}), 401)
    resp = token_client.get("/")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")


def test_token_header_auth_needs_no_csrf(token_client: FlaskClient) -> None:
    h = {"Authorization": "Bearer s3cret-token"}
    assert token_client.get("/api/queries", headers=h).status_code == 200
    assert token_client.get("/api/runs", headers={"X-Lakebox-Token": "s3cret-token"}).status_code == 200
    assert token_client.post("/api/sql", json={"sql": "SELECT 1"}, headers=h).status_code == 200


def test_token_login_link_sets_a_cookie(token_client: FlaskClient) -> None:
    resp = token_client.get("/?token=s3cret-token")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "s3cret-token" not in cookie
    assert token_client.get("/").status_code == 200
    assert token_client.get("/api/queries").status_code == 200
    # the cookie is ambient, so POSTs still need the CSRF token
    assert_json_error(token_client.post("/api/sql", json={"sql": "SELECT 1"}), 403, "CSRF_FAILED")


def test_login_form(token_client: FlaskClient) -> None:
    page = token_client.get("/login?next=/%23sql").get_data(as_text=True)
    csrf_token = page.split('name="csrf_token" value="')[1].split('"')[0]
    bad = token_client.post("/login", data={"token": "wrong", "csrf_token": csrf_token, "next": "/"})
    assert bad.status_code == 401
    assert_json_error(token_client.post("/login", data={"token": "s3cret-token"}), 403, "CSRF_FAILED")
    ok = token_client.post("/login", data={"token": "s3cret-token", "csrf_token": csrf_token,
                                           "next": "https://evil.example/"})
    assert ok.status_code == 302 and ok.headers["Location"] == "/"
    assert token_client.get("/api/tables").status_code == 200


def test_non_loopback_bind_needs_a_token(make_settings: Any) -> None:
    from lakebox.web.server import ServeError, make_server

    lake = Lake(make_settings(host="0.0.0.0"))
    with pytest.raises(ServeError, match="token"):
        make_server(dashboard_services(lake), port=0)
    server = make_server(dashboard_services(lake), port=0, TOKEN="t0ken")
    try:
        assert int(server.effective_port) > 0
    finally:
        server.close()
        server.lakebox_app.extensions["lakebox"].close()


def test_unexpected_errors_are_json_without_trace(app: Any, client: FlaskClient,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    dash = app.extensions["lakebox"]
    monkeypatch.setattr(dash, "overview", lambda: 1 / 0)
    err = assert_json_error(client.get("/api/overview"), 500, "INTERNAL_ERROR")
    assert "ZeroDivision" not in err["message"]
    assert_json_error(client.get("/api/no/such/thing"), 404, "NOT_FOUND")
    resp = client.get("/no-such-page")
    assert resp.status_code == 404 and b"Traceback" not in resp.data

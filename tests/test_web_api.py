"""The dashboard's JSON API and server-side safety: every endpoint, bad input, auth, CSRF, caching."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from lakebox.lake import Lake
from lakebox.web.app import create_app
from lakebox.web.dashboard import MAX_SQL_BYTES

pytest_plugins = ["web_fixtures"]
pytest.register_assert_rewrite("web_fixtures")

from web_fixtures import XSS_NAME, write_csv  # noqa: E402

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


# --- pages, health, assets ---------------------------------------------------------------------------------


def test_index_renders_every_panel_with_local_assets_only(client: FlaskClient) -> None:
    resp = client.get("/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    for name in NAMES:
        assert f'id="panel-{name}"' in html
    assert '<script src="/vendor/plotly.min.js">' in html
    assert "https://" not in html.split("<main>")[0] and "cdn" not in html.lower()
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"


def test_plotly_is_served_from_the_plotly_package(client: FlaskClient) -> None:
    import plotly

    resp = client.get("/vendor/plotly.min.js")
    assert resp.status_code == 200 and resp.mimetype == "text/javascript"
    shipped = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert resp.get_data() == shipped.read_bytes()
    resp.close()
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200


def test_healthz(client: FlaskClient) -> None:
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["version"]


def test_openapi_describes_every_endpoint(client: FlaskClient) -> None:
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    for path in ["/api/queries", "/api/queries/{name}", "/api/queries/{name}.csv", "/api/sql", "/api/tables",
                 "/api/runs", "/api/upload", "/healthz"]:
        assert path in doc["paths"], path
    assert doc["paths"]["/api/sql"]["post"] and doc["paths"]["/api/upload"]["post"]
    name_param = doc["paths"]["/api/queries/{name}"]["get"]["parameters"][0]
    assert name_param["schema"]["enum"] == NAMES


# --- named queries -----------------------------------------------------------------------------------------


def test_list_queries(client: FlaskClient) -> None:
    body = client.get("/api/queries").get_json()
    assert [q["name"] for q in body["queries"]] == NAMES
    top = body["queries"][-1]
    assert top["params"][0]["name"] == "month" and top["params"][0]["default"] == "2025-02"
    assert all(q["sql"] and q["chart"]["type"] for q in body["queries"])


@pytest.mark.parametrize("name", NAMES)
def test_each_named_query(client: FlaskClient, name: str) -> None:
    body = client.get(f"/api/queries/{name}").get_json()
    assert body["name"] == name and body["state"] == "SUCCEEDED"
    assert body["columns"] and body["rows"] and body["row_count"] == len(body["rows"])
    assert body["truncated"] is False
    stats = body["stats"]
    assert stats["time_ms"] >= 0 and stats["rows"] == body["row_count"] and stats["bytes_scanned"] > 0


def test_total_sales_matches_the_data(client: FlaskClient) -> None:
    body = client.get("/api/queries/total_sales_by_customer").get_json()
    assert body["columns"][0] == {"name": "customer_id", "type": "varchar"}
    assert body["rows"][0] == ["Bob", 10328.04]


def test_month_parameter_changes_the_result(client: FlaskClient) -> None:
    feb = client.get("/api/queries/top_orders_february_2025").get_json()
    mar = client.get("/api/queries/top_orders_february_2025?month=2025-03").get_json()
    assert feb["params"] == {"month": "2025-02"} and mar["params"] == {"month": "2025-03"}
    assert all(r[4].startswith("2025-02") for r in feb["rows"])
    assert all(r[4].startswith("2025-03") for r in mar["rows"])
    assert "'2025-03'" in mar["sql"]


def test_unknown_query_is_404(client: FlaskClient) -> None:
    assert_json_error(client.get("/api/queries/drop_everything"), 404, "NOT_FOUND")
    assert_json_error(client.get("/api/queries/drop_everything.csv"), 404, "NOT_FOUND")


@pytest.mark.parametrize("month", ["2025-13", "2025-2", "Feb", "2025-02' OR '1'='1", ""])
def test_bad_month_is_400(client: FlaskClient, month: str) -> None:
    err = assert_json_error(client.get("/api/queries/top_orders_february_2025", query_string={"month": month}),
                            400, "INVALID_PARAMETER")
    assert "month" in err["message"]
    assert_json_error(client.get("/api/queries/top_orders_february_2025.csv", query_string={"month": month}), 400)


def test_unknown_parameter_and_bad_limit_are_400(client: FlaskClient) -> None:
    assert_json_error(client.get("/api/queries/total_sales_by_customer?colour=red"), 400, "INVALID_PARAMETER")
    assert_json_error(client.get("/api/queries/total_sales_by_customer?limit=zero"), 400, "INVALID_PARAMETER")


def test_limit_caps_and_marks_truncated(client: FlaskClient) -> None:
    body = client.get("/api/queries/total_sales_by_customer?limit=2").get_json()
    assert len(body["rows"]) == 2 and body["truncated"] is True


def test_large_results_are_capped_and_marked_truncated(make_settings: Any, tmp_path: Path) -> None:
    from lakebox.process.sample import write_sample

    lake = Lake(make_settings(max_result_rows=50))
    src = tmp_path / "many.csv"
    write_sample(src, 20_000, lake.settings.reference_date(), customers=5_000)
    lake.ingest([src])
    c = create_app(lake).test_client()
    body = c.get("/api/queries/total_sales_by_customer").get_json()
    assert len(body["rows"]) == 50 and body["truncated"] is True
    csv_rows = c.get("/api/queries/total_sales_by_customer.csv").get_data(as_text=True).splitlines()
    assert len(csv_rows) > 1000  # the download has every row


def test_csv_download_is_athenas_result_file(client: FlaskClient) -> None:
    resp = client.get("/api/queries/top_orders_february_2025.csv?month=2025-03")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"] and "2025-03" in resp.headers["Content-Disposition"]
    lines = resp.get_data(as_text=True).splitlines()
    resp.close()
    assert lines[0] == '"order_id","customer_id","order_amount","order_status","order_date"'
    assert len(lines) == 11 and all('"2025-03-' in line for line in lines[1:])


def test_json_download(client: FlaskClient) -> None:
    resp = client.get("/api/queries/order_status_summary.json")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    assert resp.get_json()["name"] == "order_status_summary"


# --- results are cached per data version -------------------------------------------------------------------


def test_results_are_cached_until_new_data(client: FlaskClient, orders_lake: Lake, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch, csrf: dict[str, str]) -> None:
    calls: list[str] = []
    real = orders_lake.engine.start_query_execution

    def counting(sql: str, *a: Any, **kw: Any) -> Any:
        calls.append(sql)
        return real(sql, *a, **kw)

    monkeypatch.setattr(orders_lake.engine, "start_query_execution", counting)
    before = client.get("/api/overview").get_json()
    v1 = client.get("/api/version").get_json()["version"]
    assert client.get("/api/dashboard").status_code == 200  # computes every view once
    n = len(calls)
    assert n == 6  # the overview and five panels
    for _ in range(3):
        for name in NAMES:
            client.get(f"/api/queries/{name}")
        client.get("/api/overview")
        client.get("/api/dashboard")
        client.get("/")
    assert len(calls) == n  # nothing ran again

    src = write_csv(tmp_path / "more.csv", [("N1", "Zoe", "100.00", "shipped", "2025-04-20")])
    resp = client.post("/api/upload", data={"file": (io.BytesIO(src.read_bytes()), "more.csv")}, headers=csrf)
    assert resp.status_code == 201
    assert client.get("/api/version").get_json()["version"] != v1
    after = client.get("/api/overview").get_json()
    assert after["orders"] == before["orders"] + 1


# --- ad-hoc SQL --------------------------------------------------------------------------------------------


def test_sql_runs_read_only_queries(client: FlaskClient, csrf: dict[str, str]) -> None:
    resp = client.post("/api/sql", json={"sql": "SELECT COUNT(*) AS n FROM orders_processed"}, headers=csrf)
    body = resp.get_json()
    assert resp.status_code == 200, body
    assert body["rows"] == [[130]] and body["columns"] == [{"name": "n", "type": "bigint"}]
    assert body["stats"]["bytes_scanned"] > 0 and body["result_location"].endswith(".csv")


def test_sql_with_database(client: FlaskClient, csrf: dict[str, str]) -> None:
    resp = client.post("/api/sql", json={"sql": "SHOW TABLES", "database": "orders_db"}, headers=csrf)
    assert resp.status_code == 200 and ["orders_processed"] in resp.get_json()["rows"]


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


def test_sql_errors_are_clear(client: FlaskClient, csrf: dict[str, str]) -> None:
    err = assert_json_error(client.post("/api/sql", json={"sql": "SELECT FROM WHERE"}, headers=csrf), 400)
    assert err["type"] == "SYNTAX_ERROR"
    err = assert_json_error(client.post("/api/sql", json={"sql": "SELECT * FROM nope"}, headers=csrf), 400)
    assert err["type"] == "TABLE_NOT_FOUND" and "nope" in err["message"]


def test_sql_bad_requests(client: FlaskClient, csrf: dict[str, str]) -> None:
    assert_json_error(client.post("/api/sql", data="SELECT 1", headers=csrf), 400, "INVALID_REQUEST")
    assert_json_error(client.post("/api/sql", json={"query": "SELECT 1"}, headers=csrf), 400, "INVALID_REQUEST")
    assert_json_error(client.post("/api/sql", json={"sql": "   "}, headers=csrf), 400, "INVALID_REQUEST")
    assert_json_error(client.post("/api/sql", json={"sql": "SELECT 1", "database": 3}, headers=csrf), 400)


def test_oversized_sql_is_413(client: FlaskClient, csrf: dict[str, str]) -> None:
    big = "SELECT 1 -- " + "x" * MAX_SQL_BYTES
    assert_json_error(client.post("/api/sql", json={"sql": big}, headers=csrf), 413, "QUERY_TOO_LARGE")
    huge = "SELECT 1 -- " + "x" * (3 * MAX_SQL_BYTES)
    assert_json_error(client.post("/api/sql", json={"sql": huge}, headers=csrf), 413, "QUERY_TOO_LARGE")


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


# --- pipeline: tables, runs, quarantine, failures ----------------------------------------------------------


def test_tables(client: FlaskClient) -> None:
    tables = client.get("/api/tables").get_json()["tables"]
    t = next(t for t in tables if t["name"] == "orders_processed")
    assert [c["name"] for c in t["columns"]] == ["order_id", "customer_id", "order_amount", "order_status",
                                                 "order_date"]
    assert t["row_count"] == 130 and t["versions"][0]["version"] == 1 and "partitions" in t


def test_runs(client: FlaskClient) -> None:
    body = client.get("/api/runs").get_json()
    run = body["runs"][0]
    assert run["raw_key"] == "raw/orders.csv" and run["status"] == "ok"
    assert (run["rows_read"], run["rows_kept"], run["rows_dropped"]) == (200, 130, 70)
    assert body["totals"]["rows_read"] == 200


def test_quarantine_and_failures(client: FlaskClient, orders_lake: Lake, tmp_path: Path) -> None:
    assert client.get("/api/quarantine").get_json()["rows"] == []
    bad = write_csv(tmp_path / "bad.csv", [("B1", "Zed", "abc", "shipped", "2025-03-01"),
                                           ("B2", "Yan", "5.00", "shipped", "2025-13-45")])
    orders_lake.ingest([bad])
    rows = client.get("/api/quarantine").get_json()["rows"]
    assert {r["line"] for r in rows} == {"2", "3"} and all(r["reason"] for r in rows)
    assert rows[0]["file"] == "quarantine/bad.csv"
    deadletter = pytest.importorskip("lakebox.trigger.deadletter")
    deadletter.record_failure(orders_lake.store, {"Records": []}, RuntimeError("disk on fire"), 3,
                              key="raw/broken.csv")
    orders_lake.ingest([write_csv(tmp_path / "nudge.csv", [("N9", "Al", "1.00", "shipped", "2025-04-01")])])
    failures = client.get("/api/failures").get_json()["failures"]
    assert failures[0]["key"] == "raw/broken.csv" and "disk on fire" in failures[0]["error"]
    assert "stackTrace" not in str(failures) and "Traceback" not in str(failures)


def test_overview_figures(client: FlaskClient) -> None:
    o = client.get("/api/overview").get_json()
    assert o["orders"] == 130 and o["customers"] == 5
    assert o["revenue"] == pytest.approx(34663.27)
    assert o["average_order_value"] == pytest.approx(34663.27 / 130, abs=0.005)
    assert o["removed_share"] == pytest.approx(70 / 200)
    assert o["last_arrival"]


def test_dashboard_bundle(client: FlaskClient) -> None:
    b = client.get("/api/dashboard").get_json()
    assert set(b) >= {"version", "overview", "panels", "pipeline"} and list(b["panels"]) == NAMES
    assert all(b["panels"].values()) and b["overview"]["orders"] == 130


def test_page_never_waits_for_queries(app: Any, client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """GET / embeds only what is computed at the current version; the page fetches the rest."""
    dash = app.extensions["lakebox"]
    monkeypatch.setattr(dash.warmer, "warm", lambda *a: None)  # keep the cache cold for this check
    html = client.get("/").get_data(as_text=True)
    boot = json.loads(html.split('<script id="boot" type="application/json">')[1].split("</script>")[0])
    assert boot["overview"] is None and set(boot["panels"].values()) == {None}
    client.get("/api/dashboard")
    html = client.get("/").get_data(as_text=True)
    boot = json.loads(html.split('<script id="boot" type="application/json">')[1].split("</script>")[0])
    assert boot["overview"]["orders"] == 130 and all(boot["panels"].values())


def test_empty_lake_renders(lake: Lake) -> None:
    c = create_app(lake).test_client()
    assert c.get("/").status_code == 200
    o = c.get("/api/overview").get_json()
    assert o["orders"] == 0 and o["empty"] is True and o["last_arrival"] is None
    err = assert_json_error(c.get("/api/queries/total_sales_by_customer"), 400)
    assert err["type"] == "TABLE_NOT_FOUND"


# --- upload ------------------------------------------------------------------------------------------------


def test_upload_lands_in_raw_and_is_processed(client: FlaskClient, orders_lake: Lake, csrf: dict[str, str],
                                              tmp_path: Path) -> None:
    src = write_csv(tmp_path / "u.csv", [("U1", "Uma", "10.00", "shipped", "2025-04-01"),
                                         ("U2", "Uma", "bad", "shipped", "2025-04-01")])
    resp = client.post("/api/upload", data={"file": (io.BytesIO(src.read_bytes()), "../../etc/new orders!.csv")},
                       headers=csrf)
    body = resp.get_json()
    assert resp.status_code == 201, body
    assert body["key"] == "raw/new orders_.csv"
    assert orders_lake.store.exists("raw/new orders_.csv")
    run = body["run"]
    assert run["status"] == "ok" and (run["rows_read"], run["rows_kept"], run["rows_quarantined"]) == (2, 1, 1)


def test_upload_of_a_non_csv_reports_the_rejection(client: FlaskClient, csrf: dict[str, str]) -> None:
    resp = client.post("/api/upload", data={"file": (io.BytesIO(b"\x00\x01 not a csv"), "photo.png")},
                       headers=csrf)
    body = resp.get_json()
    assert resp.status_code == 201 and body["key"] == "raw/photo.png.csv"
    assert body["run"]["status"] in {"rejected", "error"} and body["run"]["error"]


def test_upload_needs_a_file(client: FlaskClient, csrf: dict[str, str]) -> None:
    assert_json_error(client.post("/api/upload", data={}, headers=csrf), 400, "INVALID_REQUEST")


def test_upload_size_limit(make_settings: Any) -> None:
    lake = Lake(make_settings(max_upload_mb=1))
    c = create_app(lake).test_client()
    token = c.get("/api/csrf").get_json()["csrf_token"]
    big = b"OrderID,Customer,Amount,Status,OrderDate\n" + b"X,Y,1.00,shipped,2025-01-01\n" * 50_000
    resp = c.post("/api/upload", data={"file": (io.BytesIO(big), "big.csv")}, headers={"X-CSRF-Token": token})
    assert_json_error(resp, 413, "PAYLOAD_TOO_LARGE")
    assert not lake.store.exists("raw/big.csv")


# --- escaping ----------------------------------------------------------------------------------------------


def test_values_are_escaped_in_the_page(orders_lake: Lake, tmp_path: Path) -> None:
    orders_lake.ingest([write_csv(tmp_path / "xss.csv", [("X1", XSS_NAME, "99999.00", "shipped", "2025-02-11")])])
    c = create_app(orders_lake).test_client()
    c.get("/api/dashboard")  # compute every view, so the page embeds the data
    html = c.get("/").get_data(as_text=True)
    assert XSS_NAME not in html and "<img" not in html
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in html
    api = c.get("/api/queries/total_sales_by_customer").get_json()
    assert api["rows"][0][0] == XSS_NAME  # the API returns the value as data, unchanged


# --- token auth and binding --------------------------------------------------------------------------------


@pytest.fixture
def token_client(orders_lake: Lake) -> FlaskClient:
    return create_app(orders_lake, TOKEN="s3cret-token").test_client()


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
        make_server(lake, port=0)
    server = make_server(lake, port=0, TOKEN="t0ken")
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

"""The dashboard's JSON API, reading: pages and assets, named queries and their downloads, result caching
per data version, and ad-hoc SQL.

Fixtures (``app``, ``client``, ``csrf``) and ``assert_json_error`` are in ``web_fixtures``.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from lakebox.cli import dashboard_services
from lakebox.lake import Lake
from lakebox.web.app import create_app
from lakebox.web.dashboard import MAX_SQL_BYTES

pytest_plugins = ["web_fixtures"]
pytest.register_assert_rewrite("web_fixtures")

from web_fixtures import NAMES, assert_json_error, write_csv  # noqa: E402

# --- pages, health, assets ----------------------------------------------------------------------------------


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


def _api_routes(app: Flask) -> list[tuple[str, re.Pattern[str], set[str]]]:
    """The app's JSON routes: (rule, a pattern matching the OpenAPI paths it serves, its methods)."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "api.unknown" or not (rule.rule.startswith("/api/") or rule.rule == "/healthz"):
            continue  # the catch-all answers unknown /api/ paths with a 404
        pattern = "".join(
            (".+" if part.startswith("<path:") else "[^/]+") if part.startswith("<") else re.escape(part)
            for part in re.split(r"(<[^<>]+>)", rule.rule))
        out.append((rule.rule, re.compile(pattern), {m.lower() for m in rule.methods or ()} - {"head", "options"}))
    return out


def test_openapi_describes_every_endpoint(app: Flask, client: FlaskClient) -> None:
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, op) for path, ops in doc["paths"].items() for op in ops}
    routes = _api_routes(app)
    for path, op in documented:  # nothing documented that the app does not serve
        assert any(p.fullmatch(path) and op in methods for _, p, methods in routes), (path, op)
    for rule, p, methods in routes:  # nothing served that the document leaves out
        for op in methods:
            assert any(p.fullmatch(path) and op == d_op for path, d_op in documented), (rule, op)
    name_param = doc["paths"]["/api/queries/{name}"]["get"]["parameters"][0]
    assert name_param["schema"]["enum"] == NAMES


# --- named queries ------------------------------------------------------------------------------------------


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
    assert all(r[2].startswith("2025-02") for r in feb["rows"])
    assert all(r[2].startswith("2025-03") for r in mar["rows"])
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
    c = create_app(dashboard_services(lake)).test_client()
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
    assert lines[0] == '"order_id","customer_id","order_date","order_amount","order_status"'
    assert len(lines) == 11 and all('"2025-03-' in line for line in lines[1:])


def test_json_download(client: FlaskClient) -> None:
    resp = client.get("/api/queries/order_status_summary.json")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    assert resp.get_json()["name"] == "order_status_summary"


# --- results are cached per data version --------------------------------------------------------------------


def test_results_are_cached_until_new_data(client: FlaskClient, orders_lake: Lake, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch, csrf: dict[str, str]) -> None:
    calls: list[str] = []
    real = orders_lake.engine.run_query

    def counting(sql: str, *a: Any, **kw: Any) -> Any:
        calls.append(sql)
        return real(sql, *a, **kw)

    monkeypatch.setattr(orders_lake.engine, "run_query", counting)
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


# --- ad-hoc SQL ---------------------------------------------------------------------------------------------


def test_sql_runs_read_only_queries(client: FlaskClient, csrf: dict[str, str]) -> None:
    resp = client.post("/api/sql", json={"sql": "SELECT COUNT(*) AS n FROM orders_processed"}, headers=csrf)
    body = resp.get_json()
    assert resp.status_code == 200, body
    assert body["rows"] == [[130]] and body["columns"] == [{"name": "n", "type": "bigint"}]
    assert body["stats"]["bytes_scanned"] > 0 and body["result_location"].endswith(".csv")


def test_sql_with_database(client: FlaskClient, csrf: dict[str, str]) -> None:
    resp = client.post("/api/sql", json={"sql": "SHOW TABLES", "database": "orders_db"}, headers=csrf)
    assert resp.status_code == 200 and ["orders_processed"] in resp.get_json()["rows"]


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

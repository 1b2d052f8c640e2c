"""The SQL editor's workbench API: completions, history, full-result downloads, saved queries (web.workbench)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient

pytest_plugins = ["web_fixtures"]
pytest.register_assert_rewrite("web_fixtures")

from web_fixtures import assert_json_error  # noqa: E402

# 20,000 rows; Trino's sequence() has at most 10,000 entries, so two of them are crossed.
MANY = ("SELECT x, 'row ' || CAST(x AS VARCHAR) AS label FROM (SELECT a * 200 + b AS x FROM "
        "UNNEST(sequence(0, 99)) AS s(a) CROSS JOIN UNNEST(sequence(1, 200)) AS u(b)) ORDER BY x")


def run_sql(client: FlaskClient, csrf: dict[str, str], sql: str) -> dict:
    resp = client.post("/api/sql", json={"sql": sql}, headers=csrf)
    assert resp.status_code == 200, resp.data
    return resp.get_json()


def test_completions_list_catalog_tables_columns_and_trino_functions(client: FlaskClient) -> None:
    body = client.get("/api/completions").get_json()
    table = next(t for t in body["tables"] if t["name"] == "orders_processed")
    assert table["database"] == "orders_db"
    assert {"order_id", "customer_id", "order_amount", "order_date"} <= {c["name"] for c in table["columns"]}
    assert {"date_trunc", "approx_percentile", "regexp_extract"} <= set(body["functions"])
    assert "listagg" not in body["functions"]  # refused by lakebox, so not offered


def test_history_is_newest_first_and_one_entry_per_query(client: FlaskClient, csrf: dict[str, str]) -> None:
    run_sql(client, csrf, "SELECT 1 AS one")
    run_sql(client, csrf, "SELECT 2 AS two")
    run_sql(client, csrf, "SELECT  1 AS one")  # the same query again (whitespace differs)
    history = client.get("/api/executions").get_json()["executions"]
    sqls = [h["sql"] for h in history]
    assert sqls[:2] == ["SELECT  1 AS one", "SELECT 2 AS two"]
    assert sum(" ".join(s.split()) == "SELECT 1 AS one" for s in sqls) == 1
    assert history[0]["state"] == "SUCCEEDED" and history[0]["rows"] == 1
    assert_json_error(client.get("/api/executions?limit=0"), 400, "INVALID_PARAMETER")


def test_download_of_an_execution_has_every_row_past_the_cap(client: FlaskClient, csrf: dict[str, str]) -> None:
    res = run_sql(client, csrf, MANY)
    assert res["truncated"] is True and res["row_count"] == 10_000  # max_result_rows
    resp = client.get(f"/api/executions/{res['execution_id']}.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert rows[0] == ["x", "label"] and len(rows) == 20001 and rows[-1] == ["20000", "row 20000"]
    body = json.loads(client.get(f"/api/executions/{res['execution_id']}.json").get_data())
    assert body["row_count"] == 20000 and len(body["rows"]) == 20000 and body["rows"][4] == [5, "row 5"]
    assert body["columns"] == [{"name": "x", "type": "bigint"}, {"name": "label", "type": "varchar"}]
    assert_json_error(client.get("/api/executions/0123456789abcdef.csv"), 404, "NOT_FOUND")
    assert_json_error(client.get("/api/executions/not-an-id!.csv"), 400, "INVALID_PARAMETER")
    assert_json_error(client.get(f"/api/executions/{res['execution_id']}.xml"), 404)


def test_saved_query_is_listed_runs_as_a_panel_and_can_be_deleted(client: FlaskClient,
                                                                  csrf: dict[str, str]) -> None:
    version = client.get("/api/version").get_json()["version"]
    body = {"name": "orders_in_month", "title": "Orders in a month", "description": "Per status",
            "sql": "SELECT order_status, COUNT(*) AS n FROM orders_processed\n"
                   "WHERE date_format(order_date, '%Y-%m') = :month GROUP BY 1 ORDER BY 1",
            "chart": {"type": "bar", "x": "order_status", "y": ["n"]}, "params": {"month": "2025-02"}}
    resp = client.post("/api/queries", json=body, headers=csrf)
    assert resp.status_code == 201, resp.data
    assert client.get("/api/version").get_json()["version"] != version
    names = [q["name"] for q in client.get("/api/queries").get_json()["queries"]]
    assert names[-1] == "orders_in_month" and len(names) == 6
    feb = client.get("/api/queries/orders_in_month").get_json()
    assert feb["params"] == {"month": "2025-02"} and feb["chart"]["type"] == "bar"
    march = client.get("/api/queries/orders_in_month?month=2025-03").get_json()
    assert sum(r[1] for r in march["rows"]) != sum(r[1] for r in feb["rows"])
    assert b'id="panel-orders_in_month"' in client.get("/").data
    # a second save under the same name, a shipped name, a bad name, SQL that does not run
    assert_json_error(client.post("/api/queries", json=body, headers=csrf), 409)
    assert_json_error(client.post("/api/queries", json=dict(body, name="monthly_order_volume"), headers=csrf), 409)
    assert_json_error(client.post("/api/queries", json=dict(body, name="Bad Name"), headers=csrf), 400)
    bad = assert_json_error(client.post("/api/queries", json=dict(body, name="broken", params={}, sql="SELECT nope FROM x"),
                                        headers=csrf), 400)
    assert "does not run" in bad["message"]
    assert_json_error(client.post("/api/queries", json=dict(body, name="nodefault", params={}), headers=csrf), 400)
    # writes need the CSRF token like every other POST
    assert client.post("/api/queries", json=dict(body, name="other")).status_code == 403
    assert client.delete("/api/queries/orders_in_month", headers=csrf).status_code == 200
    assert_json_error(client.get("/api/queries/orders_in_month"), 404)
    assert_json_error(client.delete("/api/queries/monthly_order_volume", headers=csrf), 409)


def test_openapi_describes_the_workbench(client: FlaskClient) -> None:
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert {"get", "post"} <= set(paths["/api/queries"]) and "delete" in paths["/api/queries/{name}"]
    for path in ("/api/completions", "/api/executions", "/api/executions/{execution_id}.csv"):
        assert path in paths, path


def test_saved_query_file_round_trip_and_cache(tmp_path: Path) -> None:
    from lakebox.store.local import LocalStore
    from lakebox.web.saved import SavedQueries, SavedQueryError, SaveRequest

    now = [100.0]
    store = LocalStore(tmp_path / "lake")
    saved = SavedQueries(store, max_sql_bytes=262_144, ttl=5.0, clock=lambda: now[0])
    req = SaveRequest(name="by_day", title="Orders\nper day ", sql="-- note: a comment, not a header\n"
                      "SELECT :day AS d", chart={"type": "line", "x": "d", "y": ["d"]}, params={"day": "2025-02-01"})
    q = saved.save(req, reserved={})
    assert q.title == "Orders per day" and q.sql.startswith("-- note: a comment")  # the comment stayed SQL
    assert [p.name for p in q.params] == ["day"] and q.render({}).endswith("'2025-02-01' AS d")
    assert q.chart == {"type": "line", "x": "d", "y": ["d"]}
    assert saved.all()["by_day"] == q
    other = SavedQueries(store, max_sql_bytes=262_144, ttl=5.0, clock=lambda: now[0])
    store.delete_object("_lakebox/queries/by_day.sql")  # another process deletes it
    assert "by_day" in saved.all()  # cached...
    now[0] += 5.0
    assert saved.all() == {} and other.all() == {}  # ...for at most ttl seconds
    for bad, field in [(dict(name="x", title="t", sql="SELECT :sort"), "params.sort"),
                       (dict(name="x", title="t", sql="SELECT 1", chart={"type": "pie3d"}), "chart.type"),
                       (dict(name="x", title="t", sql="SELECT :a", params={"a": "two words"}), "params.a"),
                       (dict(name="x", title="t", sql="SELECT 1 -- " + "x" * 262_144), "sql")]:
        with pytest.raises(SavedQueryError) as err:
            saved.save(SaveRequest(**bad), reserved={})
        assert err.value.field == field


def test_a_download_past_the_export_limit_is_refused_not_cut(client: FlaskClient, csrf: dict[str, str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from lakebox.web import workbench

    res = run_sql(client, csrf, MANY)
    monkeypatch.setattr(workbench, "EXPORT_MAX_ROWS", 19_999)
    err = assert_json_error(client.get(f"/api/executions/{res['execution_id']}.csv"), 413, "RESULT_TOO_LARGE")
    assert "19,999" in err["message"]
    monkeypatch.setattr(workbench, "EXPORT_MAX_ROWS", 20_000)
    assert client.get(f"/api/executions/{res['execution_id']}.csv").status_code == 200

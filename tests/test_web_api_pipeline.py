"""The dashboard's JSON API for the pipeline: tables, runs, quarantine, failures, the overview and the page
bundle, and uploads.

Fixtures (``app``, ``client``, ``csrf``) and ``assert_json_error`` are in ``web_fixtures``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from lakebox.cli import dashboard_services
from lakebox.core.names import object_name
from lakebox.lake import Lake
from lakebox.web.app import create_app

pytest_plugins = ["web_fixtures"]
pytest.register_assert_rewrite("web_fixtures")

from web_fixtures import NAMES, assert_json_error, write_csv  # noqa: E402

# --- pipeline: tables, runs, quarantine, failures -----------------------------------------------------------


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
    c = create_app(dashboard_services(lake)).test_client()
    assert c.get("/").status_code == 200
    o = c.get("/api/overview").get_json()
    assert o["orders"] == 0 and o["empty"] is True and o["last_arrival"] is None
    err = assert_json_error(c.get("/api/queries/total_sales_by_customer"), 400)
    assert err["type"] == "TABLE_NOT_FOUND"


# --- upload -------------------------------------------------------------------------------------------------


def test_upload_lands_in_raw_and_is_processed(client: FlaskClient, orders_lake: Lake, csrf: dict[str, str],
                                              tmp_path: Path) -> None:
    src = write_csv(tmp_path / "u.csv", [("U1", "Uma", "10.00", "shipped", "2025-04-01"),
                                         ("U2", "Uma", "bad", "shipped", "2025-04-01")])
    resp = client.post("/api/upload", data={"file": (io.BytesIO(src.read_bytes()), "../../etc/new orders!.csv")},
                       headers=csrf)
    body = resp.get_json()
    assert resp.status_code == 201, body
    # The path is dropped and the name sanitised: visible, with a hash of the original because it changed.
    assert body["key"] == "raw/" + object_name("new orders!.csv")
    assert body["key"].startswith("raw/new orders-") and body["key"].endswith(".csv")
    assert orders_lake.store.exists(body["key"])
    run = body["run"]
    assert run["status"] == "ok" and (run["rows_read"], run["rows_kept"], run["rows_quarantined"]) == (2, 1, 1)


def test_upload_of_a_non_csv_reports_the_rejection(client: FlaskClient, csrf: dict[str, str]) -> None:
    resp = client.post("/api/upload", data={"file": (io.BytesIO(b"\x00\x01 not a csv"), "photo.png")},
                       headers=csrf)
    body = resp.get_json()
    assert resp.status_code == 201 and body["key"] == "raw/" + object_name("photo.png")
    assert body["key"].startswith("raw/photo.png-") and body["run"]["source_name"] == "photo.png"
    assert body["run"]["status"] in {"rejected", "error"} and body["run"]["error"]


def test_upload_needs_a_file(client: FlaskClient, csrf: dict[str, str]) -> None:
    assert_json_error(client.post("/api/upload", data={}, headers=csrf), 400, "INVALID_REQUEST")


def test_upload_size_limit(make_settings: Any) -> None:
    lake = Lake(make_settings(max_upload_mb=1))
    c = create_app(dashboard_services(lake)).test_client()
    token = c.get("/api/csrf").get_json()["csrf_token"]
    big = b"OrderID,Customer,Amount,Status,OrderDate\n" + b"X,Y,1.00,shipped,2025-01-01\n" * 50_000
    resp = c.post("/api/upload", data={"file": (io.BytesIO(big), "big.csv")}, headers={"X-CSRF-Token": token})
    assert_json_error(resp, 413, "PAYLOAD_TOO_LARGE")
    assert not lake.store.exists("raw/big.csv")

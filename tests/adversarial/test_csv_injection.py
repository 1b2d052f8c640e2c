"""Dashboard CSV downloads neutralise spreadsheet formulas (issue 12): "Dashboard CSV downloads carry
`=cmd|' /C calc'!A0` as written". Downloads prefix cells starting with =, +, -, @, tab or CR with a single
quote (OWASP); numeric columns stay numbers; Athena's result files under enriched/ keep their bytes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from lakebox.lake import Lake
from lakebox.web.csv_export import neutralise_csv

pytest.register_assert_rewrite("web_fixtures")
from web_fixtures import dashboard_app  # noqa: E402

SQL = ("SELECT '=cmd|'' /C calc''!A0' AS a, '@SUM(1)' AS b, chr(9) || '=1' AS c, -5 AS n, '-5' AS s, "
       "'+1' AS p, chr(13) || 'x' AS r, 'plain, \"quoted\"' AS t, CAST(NULL AS varchar) AS z, '' AS e")
HEADER = '"a","b","c","n","s","p","r","t","z","e"\n'
#: What Athena writes (and enriched/ keeps).
ATHENA_ROW = '"=cmd|\' /C calc\'!A0","@SUM(1)","\t=1","-5","-5","+1","\rx","plain, ""quoted""",,""\n'
#: What a download carries: text cells neutralised, the bigint -5 left a number, NULL still empty.
SAFE_ROW = '"\'=cmd|\' /C calc\'!A0","\'@SUM(1)","\'\t=1","-5","\'-5","\'+1","\'\rx","plain, ""quoted""",,""\n'


@pytest.fixture
def client(orders_lake: Lake) -> Iterator[FlaskClient]:
    with dashboard_app(orders_lake) as app:
        yield app.test_client()


def _csrf(client: FlaskClient) -> dict[str, str]:
    return {"X-CSRF-Token": client.get("/api/csrf").get_json()["csrf_token"]}


def _enriched(lake: Lake, execution_id: str) -> str:
    return (Path(lake.settings.lake) / "enriched" / f"{execution_id}.csv").read_bytes().decode("utf-8")


def test_named_query_download_is_neutralised(client: FlaskClient, orders_lake: Lake) -> None:
    body = {"name": "formulas", "title": "Formulas", "sql": SQL}
    assert client.post("/api/queries", json=body, headers=_csrf(client)).status_code == 201
    resp = client.get("/api/queries/formulas.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    assert resp.get_data(as_text=True) == HEADER + SAFE_ROW
    resp.close()
    # the result file the download came from is Athena's, byte for byte
    pointer = Path(orders_lake.settings.lake) / "_lakebox" / "queries" / "formulas.latest"
    assert _enriched(orders_lake, pointer.read_text()) == HEADER + ATHENA_ROW
    # a deleted saved query's last result is no longer pinned against the result retention
    assert client.delete("/api/queries/formulas", headers=_csrf(client)).status_code == 200
    assert not pointer.exists()


def test_execution_download_is_neutralised(client: FlaskClient, orders_lake: Lake) -> None:
    res = client.post("/api/sql", json={"sql": SQL}, headers=_csrf(client)).get_json()
    assert _enriched(orders_lake, res["execution_id"]) == HEADER + ATHENA_ROW
    resp = client.get(f"/api/executions/{res['execution_id']}.csv")
    assert resp.status_code == 200
    assert resp.get_data(as_text=True) == HEADER + SAFE_ROW


def test_uploaded_values_are_neutralised_in_the_panel_download(client: FlaskClient, tmp_path: Path) -> None:
    src = tmp_path / "evil.csv"
    src.write_text('OrderID,Customer,Amount,Status,OrderDate\n'
                   'E1,"=cmd|\' /C calc\'!A0",5.00,shipped,2025-04-02\n'
                   'E2,@SUM(1),6.00,shipped,2025-04-03\n', encoding="utf-8")
    up = client.post("/api/upload", data={"file": (src.open("rb"), "evil.csv")}, headers=_csrf(client))
    assert up.status_code == 201, up.data
    text = client.get("/api/queries/total_sales_by_customer.csv").get_data(as_text=True)
    assert '"\'=cmd|\' /C calc\'!A0"' in text and '"\'@SUM(1)"' in text
    assert '"=cmd' not in text and '"@SUM' not in text


def test_neutraliser_keeps_records_with_newlines_and_quotes_whole() -> None:
    lines = ['"h"\n', '"=a\n', '-b"\n', '"x"\n', '\n']
    assert list(neutralise_csv(lines, ["varchar"])) == ['"h"\n', '"\'=a\n-b"\n', '"x"\n', '\n']

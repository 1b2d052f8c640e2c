"""The original pipeline's own code, unchanged, against the endpoint: its Lambda (``--function``), a crawler
started with boto3 and its Flask dashboard. Plus the function runner's retries, dead letters and timeout."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import json
import re
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from waiting import wait_until

from .conftest import AS_OF, Endpoint

HERE = Path(__file__).parent / "pipeline"
B = "lakebox"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"user_{name}", HERE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _expected(orders_csv: Path) -> dict[str, Any]:
    """The five answers, computed here with plain Python from the CSV and the original's rule."""
    cutoff = dt.datetime.strptime(AS_OF, "%Y-%m-%d") - dt.timedelta(days=30)
    with orders_csv.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh)
                if not (r["Status"] in ("pending", "cancelled")
                        and dt.datetime.strptime(r["OrderDate"], "%Y-%m-%d") < cutoff)]
    totals: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    months: dict[str, int] = defaultdict(int)
    statuses: dict[str, int] = defaultdict(int)
    for r in rows:
        totals[r["Customer"]] += float(r["Amount"])
        counts[r["Customer"]] += 1
        months[r["OrderDate"][:7] + "-01"] += 1
        statuses[r["Status"]] += 1
    feb = sorted((r for r in rows if r["OrderDate"].startswith("2025-02")), key=lambda r: -float(r["Amount"]))
    return {"kept": len(rows), "totals": totals, "months": dict(months), "statuses": dict(statuses),
            "avg": {c: totals[c] / counts[c] for c in totals}, "feb": [r["OrderID"] for r in feb[:10]]}


def _tables(html: str) -> dict[str, list[list[str]]]:
    out = {}
    for title, body in re.findall(r"<h2>(.*?)</h2><table>(.*?)</table>", html, re.S):
        out[title] = [re.findall(r"<td>(.*?)</td>", tr) for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
    return out


@pytest.fixture
def user_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[Endpoint], None]:
    def set_env(ep: Endpoint) -> None:
        for k in [k for k in list(__import__("os").environ) if k.startswith("AWS_")]:
            monkeypatch.delenv(k)
        for k, v in ep.env().items():
            if k.startswith("AWS_"):
                monkeypatch.setenv(k, v)

    return set_env


@pytest.mark.slow
def test_original_lambda_crawler_and_dashboard(start_endpoint: Callable[..., Endpoint], orders_csv: Path,
                                               user_env: Callable[[Endpoint], None]) -> None:
    ep = start_endpoint(endpoint_function=f"{HERE / 'lambda_function.py'}:lambda_handler",
                        endpoint_function_env=f"AS_OF={AS_OF}", endpoint_function_timeout=60)
    user_env(ep)
    s3 = ep.client("s3")
    s3.upload_file(str(orders_csv), B, "raw/orders.csv")  # ../shared/data/orders.csv when present
    expected = _expected(orders_csv)

    def processed() -> bytes | None:
        try:
            return s3.get_object(Bucket=B, Key="processed/filtered_orders.csv")["Body"].read()  # type: ignore[no-any-return]
        except s3.exceptions.NoSuchKey:
            return None

    body = wait_until(processed, what="the user's Lambda output")
    assert len(body.decode().splitlines()) == expected["kept"] + 1
    assert not (ep.lake / "processed" / "orders.parquet").exists()  # lakebox's own handler did not run
    run = wait_until(lambda: [json.loads(p.read_text()) for p in (ep.lake / "_lakebox" / "runs").glob("*.json")],
                     what="the invocation record")[0]
    assert run["status"] == "ok" and run["raw_key"] == "raw/orders.csv"
    assert run["logs"][0].startswith("START RequestId: ") and run["logs"][-1].startswith("REPORT RequestId: ")
    assert any(f"kept {expected['kept']} orders" in line for line in run["logs"])
    assert any(run["request_id"] in line and "ms left" in line for line in run["logs"])

    assert _load("crawler").crawl(B) == "SUCCEEDED"
    dashboard = _load("dashboard")
    html = dashboard.app.test_client().get("/").get_data(as_text=True)
    got = _tables(html)
    assert list(got) == list(dashboard.QUERIES)

    totals = got["Total Sales by Customer"]
    assert totals[0] == ["Customer", "TotalSales"]
    assert {c: float(v) for c, v in totals[1:]} == pytest.approx(
        {c: round(v, 2) for c, v in expected["totals"].items()})
    assert [float(v) for _, v in totals[1:]] == sorted((float(v) for _, v in totals[1:]), reverse=True)
    assert {m: int(n) for m, n in got["Monthly Order Volume"][1:]} == expected["months"]
    assert {s: int(n) for s, n in got["Order Status Summary"][1:]} == expected["statuses"]
    assert {c: float(v) for c, v in got["Average Order Value"][1:]} == pytest.approx(
        {c: round(v, 2) for c, v in expected["avg"].items()})
    assert [r[0] for r in got["Top Orders February 2025"][1:]] == expected["feb"]
    sys.modules.pop("user_dashboard", None)


def test_failing_function_is_retried_twice(start_endpoint: Callable[..., Endpoint], tmp_path: Path) -> None:
    counter = tmp_path / "count"
    ep = start_endpoint(endpoint_function=f"{HERE / 'flaky.py'}:fail_twice",
                        endpoint_function_env=f"COUNTER_FILE={counter}")
    ep.client("s3").put_object(Bucket=B, Key="raw/a.csv", Body=b"x\n")
    runs_dir = ep.lake / "_lakebox" / "runs"
    runs = wait_until(lambda: len(list(runs_dir.glob("*.json"))) == 3 and
                      sorted((json.loads(p.read_text()) for p in runs_dir.glob("*.json")),
                             key=lambda r: r["attempt"]), what="three attempts")
    assert [r["status"] for r in runs] == ["error", "error", "ok"]
    assert "RuntimeError: transient failure 1" in runs[0]["error"]
    assert any("attempt 3" in line for line in runs[2]["logs"])
    assert not (ep.lake / "_lakebox" / "failed").exists() or not list((ep.lake / "_lakebox" / "failed").rglob("*"))


def test_function_that_always_fails_goes_to_the_dead_letters(start_endpoint: Callable[..., Endpoint]) -> None:
    ep = start_endpoint(endpoint_function=f"{HERE / 'flaky.py'}:always_fail")
    ep.client("s3").put_object(Bucket=B, Key="raw/bad file.csv", Body=b"x\n")
    dead = ep.lake / "_lakebox" / "failed" / "raw" / "bad file.csv.json"
    wait_until(dead.exists, what="the dead letter")
    record = json.loads(dead.read_text())
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert "ValueError: bad input raw/bad+file.csv" in record["responsePayload"]["errorMessage"]
    assert record["requestPayload"]["Records"][0]["eventName"] == "ObjectCreated:Put"


@pytest.mark.slow
def test_function_timeout(start_endpoint: Callable[..., Endpoint]) -> None:
    ep = start_endpoint(endpoint_function=f"{HERE / 'flaky.py'}:too_slow", endpoint_function_timeout=0.5,
                        retry_delays="0,0")
    ep.client("s3").put_object(Bucket=B, Key="raw/slow.csv", Body=b"x\n")
    dead = ep.lake / "_lakebox" / "failed" / "raw" / "slow.csv.json"
    wait_until(dead.exists, what="the dead letter after three timeouts")
    assert "Task timed out after 0.50 seconds" in json.loads(dead.read_text())["responsePayload"]["errorMessage"]
    runs = [json.loads(p.read_text()) for p in (ep.lake / "_lakebox" / "runs").glob("*.json")]
    assert len(runs) == 3 and all("Sandbox.Timedout" in r["error"] for r in runs)

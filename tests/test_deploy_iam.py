"""Least privilege, proved by trace: every AWS call each role's code makes against moto (over HTTP) is
evaluated against the template's statements for that role, and every grant must be used.

* ProcessFunctionRole: ``lambda_handler`` on S3 events (a file with bad rows, the same event again, a file
  reprocessed clean, an upload deleted before processing, partitioned keys), then in crawler mode.
* CrawlerRole: lakebox's own crawl of processed/ (what the Glue crawler does with that role: list, read
  footers, write the table and its partitions, drop partitions and the table when files go).
* DashboardRole: every page and API endpoint of the dashboard on S3 + Glue + Athena, and a query that times
  out (StopQueryExecution).
* The deployer: ``lakebox deploy`` up (dry run, create, no-op update), status and down, in
  tests/test_deploy_stack.py, which feeds the same table.

Calls that AWS services make with a role (Lambda's logs, Athena reading the tables it queries, the Glue
crawler service, the host's boot script) are declared in ``iam.SERVICE_SIDE`` and evaluated too. The roles
table in docs/aws.md is generated from these reports (``LAKEBOX_UPDATE_DOCS=1`` rewrites it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest_aws import ACCOUNT, AwsEnv, aws_fixture, moto_api, moto_server_fixture  # noqa: F401
from deploy_roles import ROLE_REPORTS, check_deployer, check_template_role, render_roles_table
from deploy_wire import answering

from lakebox.deploy.trace import record_calls

pytestmark = pytest.mark.aws

DOCS = Path(__file__).resolve().parents[1] / "docs" / "aws.md"
STACK = "lakebox"
CSV = (b"OrderID,Customer,Amount,Status,OrderDate\n"
       b"1,alice,10.50,shipped,2025-01-05\n"
       b"2,bob,abc,shipped,2025-01-06\n"
       b"3,carol,7.25,pending,2024-01-01\n")
CLEAN = b"OrderID,Customer,Amount,Status,OrderDate\n1,alice,10.50,shipped,2025-01-05\n"


@pytest.fixture(name="lake_env")
def lake_env_fixture(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsEnv]:
    """The stack's bucket, database and workgroup on moto, and the function's environment variables."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=aws.bucket)
    aws.client("glue").create_database(DatabaseInput={"Name": "orders_db"})
    aws.client("glue").create_database(DatabaseInput={"Name": "default"})  # accounts have other databases
    aws.client("athena").create_work_group(
        Name=STACK, Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{aws.bucket}/enriched/"}})
    for var in list(os.environ):
        if var.startswith("LAKEBOX_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("LAKEBOX_LAKE", aws.lake())
    monkeypatch.setenv("LAKEBOX_CATALOG", "glue")
    monkeypatch.setenv("LAKEBOX_DATABASE", "orders_db")
    monkeypatch.setenv("LAKEBOX_TABLE_PREFIX", "orders_")
    monkeypatch.setenv("LAKEBOX_ENDPOINT_URL", aws.endpoint_url)
    monkeypatch.setenv("LAKEBOX_AS_OF", "2025-02-01")
    yield aws


def _event(aws: AwsEnv, key: str, size: int) -> dict[str, Any]:
    from lakebox.events import build_event, build_record

    return build_event(build_record(key, bucket=aws.bucket, size=size))


def test_function_role_is_exactly_enough(lake_env: AwsEnv) -> None:
    from lakebox.process.handler import lambda_handler

    aws = lake_env
    s3 = aws.client("s3")
    keys = ["raw/day=2025-01-05/orders.csv", "raw/day=2025-01-06/orders.csv"]
    with record_calls() as log:
        for key in keys:
            s3.put_object(Bucket=aws.bucket, Key=key, Body=CSV)
            out = lambda_handler(_event(aws, key, len(CSV)))
            assert out["runs"][0]["status"] == "ok", out
        again = lambda_handler(_event(aws, keys[0], len(CSV)))
        assert again["runs"][0]["status"] == "skipped"
        s3.put_object(Bucket=aws.bucket, Key=keys[0], Body=CLEAN)  # fixed upload: its quarantine goes
        assert lambda_handler(_event(aws, keys[0], len(CLEAN)))["runs"][0]["status"] == "ok"
        gone = lambda_handler(_event(aws, "raw/day=2025-01-07/deleted.csv", 10))
        assert gone["runs"][0]["status"] == "ignored"  # 404, not 403: the event is not retried
    calls = [c for c in log.calls if not (c.operation == "PutObject" and c.params["Key"].startswith("raw/"))]
    assert "quarantine/day=2025-01-05/orders.csv" not in {
        o["Key"] for o in s3.list_objects_v2(Bucket=aws.bucket).get("Contents", [])}
    report = check_template_role("ProcessFunctionRole", calls, aws, crawler_mode=False)
    crawler_calls = _function_in_crawler_mode(aws)
    report.merge(check_template_role("ProcessFunctionRole", crawler_calls, aws, crawler_mode=True,
                                     service_side_uses=False))
    assert not report.problems(), "\n".join(report.problems())
    ROLE_REPORTS["ProcessFunctionRole"] = report


def _function_in_crawler_mode(aws: AwsEnv) -> list[Any]:
    """The function with LAKEBOX_GLUE_CRAWLER (``--catalog-update crawler``): it starts the crawler."""
    from lakebox.process.handler import lambda_handler

    glue = aws.client("glue")
    glue.create_crawler(Name=f"{STACK}-processed", Role=f"arn:aws:iam::{ACCOUNT}:role/crawler",
                        DatabaseName="orders_db", TablePrefix="orders_",
                        Targets={"S3Targets": [{"Path": f"s3://{aws.bucket}/processed/"}]})
    key = "raw/day=2025-01-08/orders.csv"
    aws.client("s3").put_object(Bucket=aws.bucket, Key=key, Body=CSV)
    os.environ["LAKEBOX_GLUE_CRAWLER"] = f"{STACK}-processed"
    try:
        with record_calls() as log:
            assert lambda_handler(_event(aws, key, len(CSV)))["runs"][0]["status"] == "ok"
    finally:
        del os.environ["LAKEBOX_GLUE_CRAWLER"]
    assert glue.get_crawler(Name=f"{STACK}-processed")["Crawler"]["State"] == "RUNNING"
    assert any(c.operation == "StartCrawler" for c in log.calls)
    return log.calls


def test_crawler_role_is_exactly_enough(lake_env: AwsEnv) -> None:
    """lakebox's crawl with the crawler role's reach: no lake store for the file cache (the crawler may not
    write _lakebox/), so it reads every footer, as the Glue crawler does."""
    from lakebox.catalog.crawl import CatalogUpdater
    from lakebox.catalog.glue import GlueCatalog
    from lakebox.config import load_settings
    from lakebox.process.handler import process_object
    from lakebox.store.s3 import S3Store

    aws = lake_env
    settings = load_settings()
    store = S3Store(aws.bucket, endpoint_url=aws.endpoint_url)
    for day in ("2025-01-05", "2025-01-06"):
        store.put_object(f"raw/day={day}/orders.csv", CSV)
        assert process_object(settings, store, f"raw/day={day}/orders.csv").status == "ok"
    with record_calls() as log:
        store = S3Store(aws.bucket, endpoint_url=aws.endpoint_url)  # clients made inside are recorded
        glue = GlueCatalog(aws.lake(), endpoint_url=aws.endpoint_url)  # no store: no file cache in the lake
        crawler = CatalogUpdater(settings, store, glue)
        first = crawler.crawl_prefix("processed/")
        assert first is not None and [p.values for p in first.partitions] == [("2025-01-05",), ("2025-01-06",)]
        store.delete_object("processed/day=2025-01-06/orders.parquet")
        second = crawler.crawl_prefix("processed/")
        assert second is not None and len(second.partitions) == 1
        store.delete_object("processed/day=2025-01-05/orders.parquet")
        assert crawler.crawl_prefix("processed/") is None
        assert glue.get_table("orders_db", "orders_processed") is None
    calls = [c for c in log.calls if c.operation != "DeleteObject"]  # the test's own deletes
    report = check_template_role("CrawlerRole", calls, aws)
    assert not report.problems(), "\n".join(report.problems())
    ROLE_REPORTS["CrawlerRole"] = report


DASHBOARD_GETS = ["/", "/login", "/healthz", "/favicon.ico", "/vendor/plotly.min.js", "/static/app.js",
                  "/api/version", "/api/csrf", "/api/openapi.json", "/api/queries", "/api/overview",
                  "/api/dashboard", "/api/tables", "/api/runs", "/api/quarantine", "/api/failures", "/api/nope"]
#: Routes the host's dashboard serves without its role's AWS access, and why.
NOT_ON_THE_HOST = {
    ("/api/upload", "POST"): "uploads process in-process, which needs the function's role; on AWS, files "
                             "are uploaded to raw/ and the function processes them",
}


def test_dashboard_role_is_exactly_enough(lake_env: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every page and API endpoint of the dashboard, as the host runs it (athena engine, glue catalog)."""
    from lakebox.catalog.crawl import CatalogUpdater
    from lakebox.cli import dashboard_services
    from lakebox.config import load_settings
    from lakebox.lake import Lake
    from lakebox.process.handler import process_object
    from lakebox.store.s3 import S3Store
    from lakebox.trigger.deadletter import record_failure
    from lakebox.web.app import create_app

    aws = lake_env
    monkeypatch.setenv("LAKEBOX_ENGINE", "athena")
    monkeypatch.setenv("LAKEBOX_WORKGROUP", STACK)
    settings = load_settings()
    store = S3Store(aws.bucket, endpoint_url=aws.endpoint_url)
    store.put_object("raw/orders.csv", CSV)
    after = CatalogUpdater.open(settings, store).update_for_run
    assert process_object(settings, store, "raw/orders.csv", after=after).status == "ok"
    # A dead letter written by a local `lakebox watch` on this lake: the failures page reads it.
    record_failure(store, _event(aws, "raw/broken.csv", 5), "boom", 3)

    with record_calls() as log, answering("athena", batch_get_from_moto(aws)):
        app = create_app(dashboard_services(Lake(settings)))
        hit: set[tuple[str, str]] = set()

        def note_route() -> None:
            from flask import request

            if request.url_rule is not None:
                hit.add((request.url_rule.rule, request.method))

        app.before_request_funcs.setdefault(None, []).insert(0, note_route)  # before the CSRF guard

        client = app.test_client()
        for path in DASHBOARD_GETS:
            assert client.get(path).status_code in (200, 302, 404), path
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            assert client.open("/api/nope", method=method).status_code in (400, 403, 404, 405)
        assert client.post("/login", data={"token": "x"}).status_code in (302, 400, 403)
        assert client.get("/api/failures").get_json(), "the dead letter is listed"
        names = [q["name"] for q in client.get("/api/queries").get_json()["queries"]]
        assert names
        for name in names:
            assert client.get(f"/api/queries/{name}").status_code == 200, name
            csv = client.get(f"/api/queries/{name}?format=csv")
            assert csv.status_code in (200, 400), csv.get_data(as_text=True)[:300]
        csrf = client.get("/api/csrf").get_json()
        headers = {"X-CSRF-Token": next(iter(csrf.values()))} if isinstance(csrf, dict) and csrf else {}
        sql = client.post("/api/sql", json={"sql": "SELECT count(*) FROM orders_processed"}, headers=headers)
        assert sql.status_code == 200, sql.get_data(as_text=True)[:500]
        # The workbench: completions, history, downloads of a past execution, saving and deleting a query.
        assert client.get("/api/completions").status_code == 200
        history = client.get("/api/executions")
        assert history.status_code == 200 and history.get_json()["executions"], history.get_data(as_text=True)
        execution_id = history.get_json()["executions"][0]["execution_id"]
        for fmt in ("csv", "json"):
            download = client.get(f"/api/executions/{execution_id}.{fmt}")
            assert download.status_code == 200, download.get_data(as_text=True)[:300]
        saved = client.post("/api/queries", headers=headers, json={
            "name": "orders_count", "title": "Orders", "sql": "SELECT count(*) AS n FROM orders_processed"})
        assert saved.status_code == 201, saved.get_data(as_text=True)[:300]
        assert client.get("/").status_code == 200  # the page lists the saved query as a panel
        assert client.delete("/api/queries/orders_count", headers=headers).status_code == 200
    app.extensions["lakebox"].close()  # stop the warmer before moto's state goes
    routes = {(r.rule, m) for r in app.url_map.iter_rules() for m in r.methods - {"HEAD", "OPTIONS"}}
    assert routes - hit - set(NOT_ON_THE_HOST) == set(), "dashboard routes the trace does not exercise"
    report = check_template_role("DashboardRole", log.calls, aws)
    report.merge(check_template_role("DashboardRole", _query_that_times_out(aws, monkeypatch), aws,
                                     service_side_uses=False))
    assert not report.problems(), "\n".join(report.problems())
    ROLE_REPORTS["DashboardRole"] = report


def batch_get_from_moto(aws: AwsEnv) -> Any:
    """moto lacks BatchGetQueryExecution (the workbench's history): answer it on the wire, as Athena
    documents it, from moto's GetQueryExecution for each id."""
    import json

    from deploy_wire import answer, header

    athena = aws.client("athena")

    def respond(request: Any) -> Any:
        if not (header(request, "X-Amz-Target") or "").endswith("BatchGetQueryExecution"):
            return None
        ids = json.loads(request.body)["QueryExecutionIds"]
        found = [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids]
        body = {"QueryExecutions": found, "UnprocessedQueryExecutionIds": []}
        return answer(request, 200, json.dumps(body, default=lambda d: d.timestamp()).encode())

    return respond


def _query_that_times_out(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    from lakebox.config import load_settings
    from lakebox.lake import Lake

    monkeypatch.setenv("LAKEBOX_QUERY_TIMEOUT", "0.5")
    aws.set_athena_transition({"progression": "manual", "times": 10_000})
    with record_calls() as log:
        result = Lake(load_settings()).engine.run_query("SELECT 1", timeout=0.5)
    assert result.state == "FAILED" and result.error is not None
    assert result.error.error_type == "QUERY_TIMEOUT"
    assert any(c.operation == "StopQueryExecution" for c in log.calls)
    return log.calls


def test_deployer_policy_is_exactly_enough(aws: AwsEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`lakebox deploy` up (dry run of a new stack, create, no-op, update, dry run of the update), status,
    policy and down --delete-data, every call checked against `iam.deployer_policy()` for the stack."""
    import json
    import warnings
    import zipfile

    from click.testing import CliRunner

    from lakebox.deploy.cli import deploy
    from lakebox.deploy.stack import bucket_name_for
    from lakebox.deploy.template import build_template, for_moto

    for var in ("LAKEBOX_REGION", "LAKEBOX_ENDPOINT_URL", "LAKEBOX_DATABASE", "LAKEBOX_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    zips = []
    for n in (1, 2):
        zips.append(tmp_path / f"v{n}.zip")
        with zipfile.ZipFile(zips[-1], "w") as zf:
            zf.writestr("lakebox/__init__.py", f"# {n}\n")
    template = tmp_path / "moto.json"
    template.write_text(json.dumps(for_moto(build_template())))
    stack = "lakebox"
    base = ["--stack", stack, "--endpoint-url", aws.endpoint_url]
    lake = bucket_name_for(stack, ACCOUNT, aws.region)

    def up(zip_path: Path, *extra: str) -> None:
        result = CliRunner().invoke(deploy, ["up", *base, "--zip", str(zip_path), "--template-file", str(template),
                                             *extra], obj={})
        assert result.exit_code == 0, result.output

    with warnings.catch_warnings(), record_calls() as log:
        warnings.simplefilter("ignore")
        up(zips[0], "--dry-run")
        up(zips[0])
        up(zips[0])
        up(zips[1], "-p", "FunctionMemory=1024", "--dry-run")
        up(zips[1])
        status = CliRunner().invoke(deploy, ["status", *base], obj={})
        assert status.exit_code == 0, status.output
        printed = CliRunner().invoke(deploy, ["policy", *base], obj={})
        assert printed.exit_code == 0, printed.output
        policy = json.loads(printed.output)
        assert f":stack/{stack}/*" in json.dumps(policy) and f"arn:aws:s3:::{lake}" in json.dumps(policy)
        assert "${" not in printed.output  # fully resolved for this account, region and stack
        aws.client("s3").put_object(Bucket=lake, Key="raw/orders.csv", Body=CSV)
        down = CliRunner().invoke(deploy, ["down", *base, "--delete-data", "--yes"], obj={})
        assert down.exit_code == 0, down.output
    calls = [c for c in log.calls if not (c.operation == "PutObject" and c.params.get("Bucket") == lake)]
    report = check_deployer(calls, aws, lake)
    assert not report.problems(), "\n".join(report.problems())
    ROLE_REPORTS["Deployer"] = report


def test_roles_table_in_the_docs_is_generated_from_the_trace() -> None:
    missing = {"ProcessFunctionRole", "CrawlerRole", "DashboardRole", "Deployer"} - set(ROLE_REPORTS)
    if missing:
        pytest.skip(f"needs the role tests to run first in this session: {sorted(missing)}")
    table = render_roles_table(ROLE_REPORTS)
    start, end = "<!-- roles-table:start -->", "<!-- roles-table:end -->"
    text = DOCS.read_text(encoding="utf-8")
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    wanted = f"{before}{start}\n{table}{end}{after}"
    if os.environ.get("LAKEBOX_UPDATE_DOCS") == "1":
        DOCS.write_text(wanted, encoding="utf-8")
        text = wanted
    assert text == wanted, "docs/aws.md's roles table is stale: run this test with LAKEBOX_UPDATE_DOCS=1"

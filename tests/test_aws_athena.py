"""AthenaEngine against moto running as a real HTTP server (boto3 over HTTP, no in-process mocks).

Where moto cannot produce a behaviour, the test says so and how it stands in:

- moto's GetQueryResults returns every queued row in one response (no MaxResults/NextToken), so the
  pagination test wraps the real client in :class:`AwsPaging`, which slices moto's rows into pages exactly as
  Athena does (1000 rows, header on page 1 only). Every call still goes over HTTP to moto.
- moto never fails a query, so the failure test overlays FAILED with a StateChangeReason and an AthenaError
  block (the shape from Athena's API reference) on moto's GetQueryExecution answer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from conftest_aws import (
    AwsEnv,
    aws_fixture,  # noqa: F401 - the fixture aws
    glue_settings,
    make_store,
    moto_server_fixture,  # noqa: F401 - the fixture moto_server
)

from lakebox.query.athena import AthenaEngine, Backoff, athena_error, parse_value
from lakebox.store.s3 import S3Store

pytestmark = pytest.mark.aws


# --- AthenaEngine -------------------------------------------------------------------------------------------

COLUMN_INFO = [
    {"Name": "customer", "Label": "Customer", "Type": "varchar"},
    {"Name": "n", "Label": "n", "Type": "bigint"},
    {"Name": "total", "Label": "total", "Type": "double"},
    {"Name": "amount", "Label": "amount", "Type": "decimal", "Precision": 12, "Scale": 2},
    {"Name": "day", "Label": "day", "Type": "date"},
    {"Name": "ok", "Label": "ok", "Type": "boolean"},
]


def athena_rows(n: int) -> list[dict[str, Any]]:
    header = {"Data": [{"VarCharValue": c["Label"]} for c in COLUMN_INFO]}
    rows = [header]
    for i in range(n):
        name = 'Smith, "Jr", ' + str(i) if i % 2 else ""  # commas and quotes inside; "" is not NULL
        rows.append({"Data": [{"VarCharValue": name}, {"VarCharValue": str(i)},
                              {"VarCharValue": "5793.700000000001"} if i % 3 else {},  # {} is NULL
                              {"VarCharValue": "10.50"}, {"VarCharValue": "2025-02-01"},
                              {"VarCharValue": "true" if i % 2 else "false"}]})
    return rows


class AwsPaging:
    """A client that passes every call to moto over HTTP and pages GetQueryResults the way Athena does."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.result_calls: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_query_results(self, **kw: Any) -> dict[str, Any]:
        self.result_calls.append(dict(kw))
        full = self._client.get_query_results(QueryExecutionId=kw["QueryExecutionId"])
        rows = full["ResultSet"]["Rows"]
        start = int(kw.get("NextToken") or 0)
        size = min(int(kw.get("MaxResults", 1000)), 1000)
        page = dict(full)
        page["ResultSet"] = {**full["ResultSet"], "Rows": rows[start:start + size]}
        if start + size < len(rows):
            page["NextToken"] = str(start + size)
        return page


class VirtualTime:
    """A clock that moves only when the engine sleeps: timeouts and backoff without real waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.on_sleep: Any = None

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(len(self.sleeps))


def athena_engine(aws: AwsEnv, vt: VirtualTime, **kw: Any) -> tuple[AthenaEngine, AwsPaging]:
    store = make_store(aws)
    aws.client("athena").create_work_group(
        Name="lakebox", Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{aws.bucket}/enriched/"},
                                       "EnforceWorkGroupConfiguration": True})
    client = AwsPaging(aws.client("athena"))
    settings = glue_settings(aws, workgroup="lakebox", query_timeout=30.0)
    engine = AthenaEngine(settings, store, None, client=client, sleep=vt.sleep, clock=vt.clock, **kw)
    return engine, client


def test_athena_lifecycle_polling_and_pagination(aws: AwsEnv) -> None:
    aws.set_athena_transition({"progression": "manual", "times": 3})  # QUEUED 3 polls, RUNNING 3 polls
    aws.queue_athena_results([{"rows": athena_rows(2500), "column_info": COLUMN_INFO}])
    vt = VirtualTime()
    engine, client = athena_engine(aws, vt)
    result = engine.run_query('SELECT customer AS "Customer", n FROM orders_processed')
    assert result.state == "SUCCEEDED", result.error
    assert result.row_count == 2500 and not result.truncated
    # Three pages: 1 header + 999 rows, 1000, 501. The header is dropped on page 1 only.
    assert [c.get("NextToken") for c in client.result_calls] == [None, "1000", "2000"]
    assert all(c["MaxResults"] == 1000 for c in client.result_calls)
    assert [r[1] for r in result.rows] == list(range(2500))
    assert result.columns[0] == {"name": "Customer", "type": "varchar"}
    assert result.columns[3] == {"name": "amount", "type": "decimal(12,2)"}
    first, second = result.rows[0], result.rows[1]
    assert first[0] == "" and first[2] is None  # empty string vs NULL
    assert second[0] == 'Smith, "Jr", 1'  # commas and quotes intact: values are never split
    assert second[2] == 5793.700000000001 and str(second[3]) == "10.50"
    assert second[4] == dt.date(2025, 2, 1) and second[5] is True
    # Polled with growing, jittered delays, not a fixed 1 s.
    assert engine.polls >= 6 and result.stats["Polls"] == engine.polls
    assert len(vt.sleeps) >= 5 and vt.sleeps[0] < 0.11 and max(vt.sleeps) <= 2.0
    assert vt.sleeps[4] > vt.sleeps[0] and len(set(vt.sleeps)) == len(vt.sleeps)
    # Results land in enriched/ of the lake.
    assert result.result_location == f"s3://{aws.bucket}/enriched/{result.execution_id}.csv"
    assert S3Store(aws.bucket, endpoint_url=aws.endpoint_url).exists(f"enriched/{result.execution_id}.csv")
    qe = engine.get_query_execution(result.execution_id)
    assert qe["WorkGroup"] == "lakebox" and qe["QueryExecutionContext"]["Database"] == "orders_db"


def test_athena_max_rows_truncates_without_reading_every_page(aws: AwsEnv) -> None:
    aws.queue_athena_results([{"rows": athena_rows(2500), "column_info": COLUMN_INFO}])
    engine, client = athena_engine(aws, VirtualTime())
    result = engine.run_query("SELECT * FROM orders_processed", max_rows=10)
    assert result.row_count == 10 and result.truncated and len(client.result_calls) == 1


def test_athena_failure_surfaces_reason_and_type(aws: AwsEnv) -> None:
    vt = VirtualTime()
    engine, client = athena_engine(aws, vt)
    real = client._client

    class Failing(AwsPaging):
        def get_query_execution(self, **kw: Any) -> dict[str, Any]:
            out = real.get_query_execution(**kw)
            out["QueryExecution"]["Status"].update({
                "State": "FAILED",
                "StateChangeReason": "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.orders_db.nope' "
                                     "does not exist",
                "AthenaError": {"ErrorCategory": 2, "ErrorType": 1301, "Retryable": False,
                                "ErrorMessage": "TABLE_NOT_FOUND: line 1:15: Table ... does not exist"}})
            return out

    engine._clients._client = Failing(real)
    result = engine.run_query("SELECT * FROM nope")
    assert result.state == "FAILED" and result.rows == []
    assert result.error is not None and result.error.error_type == "TABLE_NOT_FOUND"
    assert (result.error.line, result.error.column) == (1, 15)
    assert "does not exist" in result.error.message
    # Without a "NAME:" prefix the numeric AthenaError.ErrorType is named.
    err = athena_error({"StateChangeReason": "Query exhausted resources",
                        "AthenaError": {"ErrorCategory": 1, "ErrorType": 1101}})
    assert (err.error_type, err.category) == ("RESOURCE_EXHAUSTED", 1)


def test_athena_rejected_start_is_a_failed_result(aws: AwsEnv) -> None:
    engine, _ = athena_engine(aws, VirtualTime(), workgroup="no-such-workgroup")
    result = engine.run_query("SELECT 1")
    assert result.state == "FAILED" and result.error is not None
    assert result.error.error_type == "InvalidRequestException"


def test_athena_read_only_guard_before_any_cost(aws: AwsEnv) -> None:
    engine, _ = athena_engine(aws, VirtualTime())
    result = engine.run_query("DROP TABLE orders_processed")
    assert result.state == "FAILED" and result.error is not None
    assert result.error.error_type == "NOT_SUPPORTED" and result.execution_id == ""
    assert aws.client("athena").list_query_executions()["QueryExecutionIds"] == []


def test_athena_cancellation(aws: AwsEnv) -> None:
    aws.set_athena_transition({"progression": "manual", "times": 1_000_000})  # stays QUEUED
    vt = VirtualTime()
    engine, _ = athena_engine(aws, vt)
    athena = aws.client("athena")

    def someone_cancels(n: int) -> None:
        if n == 2:  # another user stops the query while we wait for it
            for eid in athena.list_query_executions(WorkGroup="lakebox")["QueryExecutionIds"]:
                athena.stop_query_execution(QueryExecutionId=eid)

    vt.on_sleep = someone_cancels
    result = engine.run_query("SELECT count(*) FROM orders_processed")
    assert result.state == "CANCELLED"
    assert result.error is not None and result.error.error_type == "QUERY_CANCELLED"
    assert len(vt.sleeps) == 2


def test_athena_timeout_stops_the_query(aws: AwsEnv) -> None:
    aws.set_athena_transition({"progression": "manual", "times": 1_000_000})  # never finishes
    vt = VirtualTime()
    engine, _ = athena_engine(aws, vt)
    result = engine.run_query("SELECT count(*) FROM orders_processed", timeout=5.0)
    assert result.state == "FAILED" and result.error is not None
    assert result.error.error_type == "QUERY_TIMEOUT"
    assert vt.now == pytest.approx(5.0)  # waited exactly the budget: the last sleep is trimmed to it
    eid = aws.client("athena").list_query_executions(WorkGroup="lakebox")["QueryExecutionIds"][0]
    state = aws.client("athena").get_query_execution(QueryExecutionId=eid)["QueryExecution"]["Status"]["State"]
    assert state == "CANCELLED"  # stopped on Athena, not just abandoned


def test_backoff_and_value_parsing() -> None:
    import random

    b = Backoff(0.1, 2.0, rng=random.Random(7))
    delays = [b.next_delay() for _ in range(12)]
    assert all(0.05 <= d <= 2.0 for d in delays) and delays[-1] >= 1.0
    assert parse_value(None, "varchar") is None and parse_value("", "varchar") == ""
    assert parse_value("2025-01-01 10:00:00.123", "timestamp(3)") == dt.datetime(2025, 1, 1, 10, 0, 0, 123000)
    assert parse_value("12", "integer") == 12 and parse_value("1.0E7", "double") == 1e7
    assert parse_value("[1, 2]", "array(integer)") == "[1, 2]"
    assert parse_value("not a date", "date") == "not a date"

"""The QueryEngine contract (Athena's actions), run against DuckEngine and against AthenaEngine on moto.

Every test runs for both backends (the ``backend`` fixture in conftest.py); where moto lacks an action or a
behaviour, the AWS run skips naming the gap.
"""

from __future__ import annotations

import uuid

import pytest
from waiting import wait_until

from lakebox.query.base import TERMINAL_STATES, QueryExecution, query_history
from lakebox.query.errors import AthenaError

from .conftest import Backend

SQL = "SELECT customer, n, CAST(NULL AS varchar) AS missing FROM processed ORDER BY n"
ROWS = [["customer", "n", "missing"], ["alice", "1", None], ["bob", "2", None], ["carol", "3", None]]
COLUMNS = [("customer", "varchar"), ("n", "bigint"), ("missing", "varchar")]


def finished(backend: Backend, execution_id: str) -> QueryExecution:
    def state() -> QueryExecution | None:
        qe = backend.engine.get_query_execution(execution_id)
        return qe if qe["Status"]["State"] in TERMINAL_STATES else None

    return wait_until(state, timeout=30, what=f"execution {execution_id} to finish")


def text(rows: list[dict]) -> list[list[str | None]]:
    return [[d.get("VarCharValue") for d in r["Data"]] for r in rows]


def test_start_returns_an_id_at_once_and_the_execution_succeeds(backend: Backend) -> None:
    backend.expect(ROWS, COLUMNS)
    eid = backend.engine.start_query_execution(SQL)
    assert str(uuid.UUID(eid)) == eid
    qe = finished(backend, eid)
    assert qe["QueryExecutionId"] == eid and qe["Query"] == SQL
    assert qe["Status"]["State"] == "SUCCEEDED"
    assert qe["QueryExecutionContext"]["Database"]
    assert "Statistics" in qe and qe["Status"]["SubmissionDateTime"]


def test_get_query_results_has_the_header_then_text_values(backend: Backend) -> None:
    backend.expect(ROWS, COLUMNS)
    eid = backend.engine.start_query_execution(SQL)
    finished(backend, eid)
    page = backend.engine.get_query_results(eid)
    assert text(page["ResultSet"]["Rows"]) == ROWS  # NULL is an absent VarCharValue
    info = page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    assert [(c["Name"], c["Type"]) for c in info] == COLUMNS
    assert "NextToken" not in page


def test_get_query_results_pages_with_max_results_and_next_token(backend: Backend) -> None:
    backend.skip_if_gap("paging")
    backend.expect(ROWS, COLUMNS)
    eid = backend.engine.start_query_execution(SQL)
    finished(backend, eid)
    pages, token = [], None
    while True:
        page = backend.engine.get_query_results(eid, 3, token)
        pages.append(text(page["ResultSet"]["Rows"]))
        token = page.get("NextToken")
        if token is None:
            break
    assert [len(p) for p in pages] == [3, 1]
    assert [r for p in pages for r in p] == ROWS


@pytest.mark.parametrize("size", [0, 1001])
def test_page_sizes_outside_athenas_bounds_are_refused(backend: Backend, size: int) -> None:
    backend.expect(ROWS, COLUMNS)
    eid = backend.engine.start_query_execution(SQL)
    finished(backend, eid)
    with pytest.raises(AthenaError) as info:
        backend.engine.get_query_results(eid, size)
    assert info.value.code == "InvalidRequestException"


def test_an_unknown_execution_id_is_an_invalid_request(backend: Backend) -> None:
    backend.skip_if_gap("unknown_id")
    with pytest.raises(AthenaError) as info:
        backend.engine.get_query_execution(str(uuid.uuid4()))
    assert info.value.code == "InvalidRequestException"


def test_stop_cancels_a_running_query(backend: Backend) -> None:
    eid = backend.engine.start_query_execution(backend.hold_running())
    assert backend.engine.get_query_execution(eid)["Status"]["State"] in ("QUEUED", "RUNNING")
    backend.engine.stop_query_execution(eid)
    assert finished(backend, eid)["Status"]["State"] == "CANCELLED"
    with pytest.raises(AthenaError) as info:
        backend.engine.get_query_results(eid)
    assert info.value.code == "InvalidRequestException"


def test_stopping_a_finished_query_changes_nothing(backend: Backend) -> None:
    backend.expect(ROWS, COLUMNS)
    eid = backend.engine.start_query_execution(SQL)
    finished(backend, eid)
    if backend.aws is not None:
        pytest.skip("moto: StopQueryExecution marks a finished execution CANCELLED (Athena leaves it)")
    backend.engine.stop_query_execution(eid)
    assert backend.engine.get_query_execution(eid)["Status"]["State"] == "SUCCEEDED"


def test_list_query_executions_holds_every_execution(backend: Backend) -> None:
    ids = []
    for _ in range(3):
        backend.expect(ROWS, COLUMNS)
        ids.append(backend.engine.start_query_execution(SQL))
        finished(backend, ids[-1])
    listed = backend.engine.list_query_executions()["QueryExecutionIds"]
    assert set(ids) <= set(listed)
    if "order" not in backend.gaps:
        assert listed[:3] == ids[::-1]  # newest first


def test_list_query_executions_pages(backend: Backend) -> None:
    backend.skip_if_gap("paging")
    for _ in range(3):
        backend.expect(ROWS, COLUMNS)
        finished(backend, backend.engine.start_query_execution(SQL))
    first = backend.engine.list_query_executions(2)
    assert len(first["QueryExecutionIds"]) == 2 and "NextToken" in first
    rest = backend.engine.list_query_executions(2, first["NextToken"])
    assert len(rest["QueryExecutionIds"]) == 1 and "NextToken" not in rest
    assert not set(first["QueryExecutionIds"]) & set(rest["QueryExecutionIds"])


def test_batch_get_query_execution_answers_known_ids_and_lists_unknown_ones(backend: Backend) -> None:
    backend.skip_if_gap("batch_get_query_execution")
    backend.expect(ROWS, COLUMNS)
    eid = backend.engine.start_query_execution(SQL)
    finished(backend, eid)
    missing = str(uuid.uuid4())
    batch = backend.engine.batch_get_query_execution([eid, missing])
    assert [q["QueryExecutionId"] for q in batch["QueryExecutions"]] == [eid]
    assert [u["QueryExecutionId"] for u in batch["UnprocessedQueryExecutionIds"]] == [missing]
    history = list(query_history(backend.engine, 5))
    assert history[0]["QueryExecutionId"] == eid


def test_a_write_is_refused_before_it_starts(backend: Backend) -> None:
    with pytest.raises(AthenaError):
        backend.engine.start_query_execution("INSERT INTO processed SELECT * FROM processed")
    if backend.aws is not None:
        assert backend.aws.client("athena").list_query_executions()["QueryExecutionIds"] == []


def test_run_query_returns_typed_rows(backend: Backend) -> None:
    backend.expect(ROWS, COLUMNS)
    result = backend.engine.run_query(SQL)
    assert result.state == "SUCCEEDED", result.error
    assert result.rows == [["alice", 1, None], ["bob", 2, None], ["carol", 3, None]]
    assert result.columns == [{"name": n, "type": t} for n, t in COLUMNS]
    assert backend.engine.get_query_execution(result.execution_id)["Status"]["State"] == "SUCCEEDED"


def test_run_query_caps_rows(backend: Backend) -> None:
    backend.expect(ROWS, COLUMNS)
    result = backend.engine.run_query(SQL, max_rows=2)
    assert result.row_count == 2 and result.truncated


def test_run_query_reports_a_refused_write_as_failed(backend: Backend) -> None:
    result = backend.engine.run_query("DELETE FROM processed")
    assert result.state == "FAILED" and result.error is not None
    assert result.rows == []


def test_run_query_stops_a_query_past_its_time_limit(backend: Backend) -> None:
    result = backend.engine.run_query(backend.hold_running(), timeout=0.3)
    assert result.state == "FAILED" and result.error is not None
    assert result.error.error_type == "QUERY_TIMEOUT"
    if result.execution_id and backend.aws is not None:
        # Athena keeps running (and billing) a query nobody waits for: the engine stopped it.
        assert backend.engine.get_query_execution(result.execution_id)["Status"]["State"] == "CANCELLED"


def test_a_failed_execution_carries_athenas_error_and_has_no_results(backend: Backend) -> None:
    if backend.aws is not None:
        pytest.skip("moto: executions never fail (no SQL runs), so there is no FAILED state to read")
    eid = backend.engine.start_query_execution("SELECT nope FROM processed")
    qe = finished(backend, eid)
    assert qe["Status"]["State"] == "FAILED"
    assert qe["Status"]["AthenaError"]["ErrorType"] == "COLUMN_NOT_FOUND"
    assert qe["Status"]["StateChangeReason"].startswith("COLUMN_NOT_FOUND: ")
    with pytest.raises(AthenaError) as info:
        backend.engine.get_query_results(eid)
    assert info.value.code == "InvalidRequestException"

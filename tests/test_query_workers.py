"""query.workers: users' SQL in worker processes over a real lake (real DuckDB, real processes, real files)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from lakebox.lake import Lake
from lakebox.query.workers import QueryWorkers


@pytest.fixture
def workers(orders_lake: Lake) -> Iterator[QueryWorkers]:
    factory = orders_lake.worker_engine_factory()
    assert factory is not None
    pool = QueryWorkers(factory, size=1, memory_bytes=2 * 2**30, default_timeout=30, grace=0.5)
    assert pool.wait_ready(120)
    yield pool
    pool.close()


def _record(lake: Lake, execution_id: str) -> dict[str, object]:
    return dict(json.loads(lake.store.get_object(f"enriched/{execution_id}.csv.metadata")))


@pytest.mark.slow
def test_a_query_runs_in_the_worker_and_is_recorded_as_in_process(orders_lake: Lake, workers: QueryWorkers) -> None:
    result = workers.run_query("SELECT order_status, count(*) AS n FROM orders_processed GROUP BY 1 ORDER BY 1",
                               "orders_db", max_rows=100)
    assert result.state == "SUCCEEDED", result.error
    assert [c["name"] for c in result.columns] == ["order_status", "n"] and result.rows
    assert workers.pids() and all(p != 0 for p in workers.pids())
    record = _record(orders_lake, result.execution_id)
    assert record["RowCount"] == len(result.rows)
    assert orders_lake.store.get_object(f"enriched/{result.execution_id}.csv").startswith(b'"order_status","n"')
    failed = workers.run_query("SELECT nope FROM orders_processed", "orders_db")
    assert failed.state == "FAILED" and failed.error is not None and failed.error.error_type == "COLUMN_NOT_FOUND"


@pytest.mark.slow
def test_a_query_past_its_deadline_is_killed_recorded_and_replaced(orders_lake: Lake, workers: QueryWorkers) -> None:
    before = set(workers.pids())
    t0 = time.monotonic()
    result = workers.run_query("SELECT length(lpad('', 1000000000, 'x'))", "orders_db", timeout=1)
    assert time.monotonic() - t0 < 1 + 0.5 + 5
    assert result.state == "FAILED" and result.error is not None and result.error.error_type == "QUERY_TIMEOUT"
    assert workers.killed == 1
    record = _record(orders_lake, result.execution_id)
    assert record["Status"]["State"] == "FAILED"  # type: ignore[index]
    assert record["Status"]["AthenaError"]["ErrorType"] == "QUERY_TIMEOUT"  # type: ignore[index]
    assert set(workers.pids()).isdisjoint(before)  # a fresh worker took its place
    again = workers.run_query("SELECT 1 AS one", "orders_db")
    assert again.state == "SUCCEEDED" and again.rows == [[1]]


def test_a_closed_pool_answers_at_once(orders_lake: Lake) -> None:
    factory = orders_lake.worker_engine_factory()
    assert factory is not None
    pool = QueryWorkers(factory, size=1, memory_bytes=2 * 2**30, default_timeout=30)
    pool.close()
    result = pool.run_query("SELECT 1", "orders_db")
    assert result.state == "FAILED" and result.error is not None and "shutting down" in result.error.message
    assert pool.pids() == []


def test_only_a_local_duckdb_lake_gets_workers(make_settings: object) -> None:
    assert Lake(make_settings(engine="athena")).worker_engine_factory() is None  # type: ignore[operator]

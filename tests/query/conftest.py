"""The query engine contract suite's fixture: ``backend``, parametrized over both QueryEngine implementations.

- ``local``: DuckEngine on a temp lake holding one crawled table, ``processed`` (customer varchar, n bigint).
- ``aws``: AthenaEngine over boto3 to moto's ThreadedMotoServer (real HTTP). moto does not run SQL: it hands
  each execution the next queued result, so :meth:`Backend.expect` queues, for the AWS side, the rows Athena
  would return for the query the test runs next (the local side computes them). Actions moto lacks are
  listed in ``Backend.gaps`` and the tests that need them skip, naming moto's gap.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest_aws import (
    AwsEnv,
    aws_fixture,  # noqa: F401 - the fixture aws
    glue_settings,
    make_store,
    moto_server_fixture,  # noqa: F401 - the fixture moto_server
)

from lakebox.config import load_settings
from lakebox.lake import Lake
from lakebox.query.athena import AthenaEngine
from lakebox.query.base import ColumnInfo, QueryEngine, Row
from lakebox.query.engine import DuckEngine

TABLE_CSV = "customer,n\nalice,1\nbob,2\ncarol,3\n"
#: A query that runs for minutes on DuckDB: 10^10 rows to count, so a stop always finds it running.
# Trino's sequence() has at most 10,000 entries: three of them make 10^11 rows.
SLOW_SQL = ("SELECT count(*) FROM UNNEST(sequence(1, 10000)) AS a(x) "
            "CROSS JOIN UNNEST(sequence(1, 10000)) AS b(y) CROSS JOIN UNNEST(sequence(1, 1000)) AS c(z)")


@dataclass
class Backend:
    name: str
    engine: QueryEngine
    aws: AwsEnv | None = None
    #: Protocol actions (or behaviours) moto does not implement, with the reason the test skips.
    gaps: dict[str, str] = field(default_factory=dict)

    def expect(self, rows: list[list[str | None]], columns: list[tuple[str, str]]) -> None:
        """What the next execution returns on the AWS side (header row included); locally DuckDB computes it."""
        if self.aws is None:
            return
        info: list[ColumnInfo] = [{"Name": n, "Label": n, "Type": t} for n, t in columns]
        data: list[Row] = [{"Data": [{} if v is None else {"VarCharValue": v} for v in r]} for r in rows]
        self.aws.queue_athena_results([{"rows": data, "column_info": info}])

    def hold_running(self) -> str:
        """SQL that stays RUNNING until stopped: a huge join locally, moto told not to advance on AWS."""
        if self.aws is not None:
            self.aws.set_athena_transition({"progression": "manual", "times": 10_000})
        return SLOW_SQL

    def skip_if_gap(self, action: str) -> None:
        if action in self.gaps:
            pytest.skip(f"moto: {self.gaps[action]}")


MOTO_GAPS = {
    "batch_get_query_execution": "moto's server does not implement BatchGetQueryExecution",
    "paging": "moto's GetQueryResults and ListQueryExecutions ignore MaxResults and NextToken",
    "unknown_id": "moto answers an unknown QueryExecutionId with an internal error (a KeyError), not "
                  "InvalidRequestException",
    "order": "moto lists executions oldest first; Athena (and the embedded engine) newest first",
}


@pytest.fixture(params=["local", pytest.param("aws", marks=pytest.mark.aws)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "local":
        settings = load_settings({"lake": str(tmp_path / "lake"), "as_of": "2025-05-01", "table_prefix": ""},
                                 env={})
        lake = Lake(settings)
        target = tmp_path / "lake" / "processed" / "orders.csv"
        target.parent.mkdir(parents=True)
        target.write_text(TABLE_CSV, encoding="utf-8")
        lake.crawl()
        engine = lake.engine
        assert isinstance(engine, DuckEngine)
        yield Backend("local", engine)
        engine.close()
        return
    aws: AwsEnv = request.getfixturevalue("aws")
    store = make_store(aws)
    aws.client("athena").create_work_group(
        Name="lakebox", Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{aws.bucket}/enriched/"}})
    settings = glue_settings(aws, workgroup="lakebox", query_timeout=30.0, database="default")
    athena = AthenaEngine(settings, store, None, poll_initial=0.01, poll_cap=0.05)
    yield Backend("aws", athena, aws, dict(MOTO_GAPS))
    athena.close()

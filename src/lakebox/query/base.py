"""The query engine interface ("Athena"), named after Athena's actions, and the models both backends share.

:class:`QueryEngine` is implemented by :class:`~lakebox.query.engine.DuckEngine` (the embedded lake, DuckDB)
and :class:`~lakebox.query.athena.AthenaEngine` (Athena over boto3) with the same argument shapes. The
action payloads are Athena's own (``QueryExecution``, ``ResultSet``, ``NextToken``), typed as TypedDicts,
so a server speaking Athena's wire protocol can return them as they are.

Where lakebox differs from Athena:

- ``start_query_execution`` refuses a query that is not read-only (``query.dialect``) before it runs, on both
  backends, with ``AthenaError`` (Athena would run a write).
- the embedded engine keeps the history as ``enriched/<id>.csv.metadata`` files (JSON; Athena's are binary),
  so ``list_query_executions`` lists every workgroup's queries of that lake.
- :meth:`QueryEngine.run_query`, a blocking convenience, returns a :class:`QueryResult` with typed Python
  values; it never raises for a failed query (the result's state is FAILED with an ``AthenaError``).
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, NotRequired, Protocol, TypedDict

from lakebox.catalog.crawler import TableDef
from lakebox.query.errors import AthenaError
from lakebox.query.results import to_json_value, to_text

QueryState = Literal["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]
TERMINAL_STATES: tuple[QueryState, ...] = ("SUCCEEDED", "FAILED", "CANCELLED")
#: GetQueryResults' largest page (MaxResults); ListQueryExecutions' and BatchGetQueryExecution's is 50.
MAX_RESULTS_PAGE = 1000
MAX_LIST_PAGE = 50

#: A value of a result row: what DuckDB returns and what ``athena.parse_value`` builds from Athena's text.
Value = (None | bool | int | float | str | decimal.Decimal | dt.date | dt.datetime | dt.time | bytes
         | list["Value"] | dict[str, "Value"])
Stats = dict[str, "float | int | str | None"]


class AthenaErrorInfo(TypedDict, total=False):
    ErrorCategory: int
    ErrorType: int | str
    ErrorMessage: str


class QueryExecutionStatus(TypedDict, total=False):
    State: QueryState
    StateChangeReason: str
    SubmissionDateTime: str | dt.datetime | None
    CompletionDateTime: str | dt.datetime | None
    AthenaError: AthenaErrorInfo


class QueryExecutionContext(TypedDict, total=False):
    Database: str
    Catalog: str


class ResultConfiguration(TypedDict, total=False):
    OutputLocation: str | None


class ColumnInfo(TypedDict, total=False):
    Name: str
    Label: str
    Type: str
    Precision: int
    Scale: int
    Nullable: str
    CatalogName: str
    SchemaName: str
    TableName: str
    CaseSensitive: bool


class ResultSetMetadata(TypedDict, total=False):
    ColumnInfo: list[ColumnInfo]


class QueryExecution(TypedDict, total=False):
    """GetQueryExecution's ``QueryExecution``. The embedded engine adds ``RowCount`` and ``Truncated`` and the
    result's ``ResultSetMetadata`` (Athena keeps those in its binary metadata file)."""

    QueryExecutionId: str
    Query: str
    StatementType: str
    QueryExecutionContext: QueryExecutionContext
    ResultConfiguration: ResultConfiguration
    Status: QueryExecutionStatus
    Statistics: dict[str, int | float]
    WorkGroup: str
    ResultSetMetadata: ResultSetMetadata
    RowCount: int
    Truncated: bool


class Datum(TypedDict, total=False):
    """One cell; an absent ``VarCharValue`` is NULL, ``""`` an empty string."""

    VarCharValue: str


class Row(TypedDict):
    Data: list[Datum]


class ResultSet(TypedDict):
    Rows: list[Row]
    ResultSetMetadata: ResultSetMetadata


class QueryResultsPage(TypedDict):
    """GetQueryResults' answer: page 1 of a SELECT starts with the header row, as on Athena."""

    ResultSet: ResultSet
    NextToken: NotRequired[str]
    UpdateCount: NotRequired[int]


class QueryExecutionIdsPage(TypedDict):
    """ListQueryExecutions' answer: ids newest first."""

    QueryExecutionIds: list[str]
    NextToken: NotRequired[str]


class UnprocessedQueryExecutionId(TypedDict, total=False):
    QueryExecutionId: str
    ErrorCode: str
    ErrorMessage: str


class QueryExecutionsBatch(TypedDict):
    """BatchGetQueryExecution's answer."""

    QueryExecutions: list[QueryExecution]
    UnprocessedQueryExecutionIds: list[UnprocessedQueryExecutionId]


class ResultColumn(TypedDict):
    name: str
    type: str


@dataclass
class QueryResult:
    """One finished query execution; ``to_json`` is the shape of ``lakebox query --format json``."""

    execution_id: str
    sql: str
    columns: list[ResultColumn] = field(default_factory=list)
    rows: list[list[Value]] = field(default_factory=list)
    row_count: int = 0
    truncated: bool = False
    result_location: str | None = None
    state: QueryState = "SUCCEEDED"
    error: AthenaError | None = None
    stats: Stats = field(default_factory=dict)
    database: str = ""
    csv_written: bool = False  # the result CSV was written by DuckDB already
    statement_type: str = "DML"  # Athena's StatementType: DML, DDL or UTILITY
    #: Bytes written under enriched/ for this execution (the result CSV and its metadata); 0 when none.
    result_bytes: int = 0

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "columns": self.columns,
            "rows": [[to_json_value(v) for v in r] for r in self.rows],
            "row_count": self.row_count,
            "truncated": self.truncated,
            "execution_id": self.execution_id,
            "result_location": self.result_location,
            "state": self.state,
            "stats": self.stats,
        }
        if self.error is not None:
            out["error"] = self.error.to_dict()
        return out

    def text_rows(self) -> list[list[str | None]]:
        types = [c["type"] for c in self.columns]
        return [[to_text(v, t) for v, t in zip(r, types, strict=False)] for r in self.rows]


class CatalogView(Protocol):
    """What the embedded engine reads from the catalog: the tables and a version that changes with them."""

    def get_databases(self) -> list[str]: ...

    def get_tables(self, database: str | None = None) -> list[TableDef]: ...

    def get_table(self, database: str, name: str) -> TableDef | None: ...

    def data_version(self) -> int: ...


class QueryEngine(Protocol):
    """Athena's query actions. Ids are Athena's QueryExecutionIds (UUIDs) on both backends."""

    def start_query_execution(self, sql: str, database: str | None = None) -> str:
        """StartQueryExecution: submit ``sql`` (run in ``database``) and return its id at once.

        A query that is not read-only is refused here with ``AthenaError`` (lakebox's guard)."""
        ...

    def get_query_execution(self, execution_id: str) -> QueryExecution:
        """GetQueryExecution: state, reason, statistics and output location of one execution.
        An unknown id raises ``AthenaError`` with code InvalidRequestException."""
        ...

    def get_query_results(
        self, execution_id: str, max_results: int = MAX_RESULTS_PAGE, next_token: str | None = None
    ) -> QueryResultsPage:
        """GetQueryResults: one page of a SUCCEEDED execution's rows as text (``MaxResults`` up to 1000);
        follow ``NextToken`` for the next page. Not-yet-finished or failed executions raise ``AthenaError``
        (InvalidRequestException), as on Athena."""
        ...

    def stop_query_execution(self, execution_id: str) -> None:
        """StopQueryExecution: a running query becomes CANCELLED; stopping a finished one changes nothing."""
        ...

    def list_query_executions(
        self, max_results: int = MAX_LIST_PAGE, next_token: str | None = None
    ) -> QueryExecutionIdsPage:
        """ListQueryExecutions: execution ids, newest first, a page at a time (up to 50)."""
        ...

    def batch_get_query_execution(self, execution_ids: Sequence[str]) -> QueryExecutionsBatch:
        """BatchGetQueryExecution: up to 50 executions; unknown ids come back as unprocessed."""
        ...

    def run_query(
        self,
        sql: str,
        database: str | None = None,
        *,
        max_rows: int | None = None,
        timeout: float | None = None,
        write_result: bool = True,
        allow_ddl: bool = False,
    ) -> QueryResult:
        """Run a query to completion and return its rows (up to ``max_rows``, then ``truncated``).

        DDL that changes the catalog (CREATE/DROP/ALTER, CTAS, MSCK REPAIR) runs only with ``allow_ddl`` and
        the ``allow_ddl`` setting on: ``lakebox query`` passes it, the dashboard's editor never does.
        ``start_query_execution`` (the Athena API) runs DDL whenever the setting is on.

        Failures come back as state FAILED (or CANCELLED) with an ``AthenaError``, never raised. A query
        outliving ``timeout`` seconds is stopped and fails with QUERY_TIMEOUT. ``write_result=False`` skips
        the result file and the history record where the backend can (the embedded engine; Athena always
        writes both)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def query_history(engine: QueryEngine, limit: int = 50) -> Iterator[QueryExecution]:
    """The most recent ``limit`` executions, newest first: ListQueryExecutions pages, then
    BatchGetQueryExecution by 50, as the Athena console reads its history."""
    ids: list[str] = []
    token: str | None = None
    while len(ids) < limit:
        page = engine.list_query_executions(min(MAX_LIST_PAGE, limit - len(ids)), token)
        ids.extend(page["QueryExecutionIds"])
        token = page.get("NextToken")
        if not token:
            break
    ids = ids[:limit]
    for i in range(0, len(ids), MAX_LIST_PAGE):
        yield from engine.batch_get_query_execution(ids[i:i + MAX_LIST_PAGE])["QueryExecutions"]


def error_record(error: AthenaError) -> AthenaErrorInfo:
    """The ``Status.AthenaError`` block of a failed execution."""
    return {"ErrorType": error.error_type, "ErrorCategory": error.category, "ErrorMessage": error.message}


def page_token(offset: int, total: int) -> str | None:
    """The NextToken of a page ending at ``offset`` of ``total`` items (None: this was the last page)."""
    return str(offset) if offset < total else None


def page_offset(next_token: str | None) -> int:
    """The offset a NextToken from :func:`page_token` stands for; a token not made here is refused."""
    if next_token is None:
        return 0
    if not next_token.isdigit():
        raise AthenaError("InvalidRequestException", f"NextToken {next_token!r} is not valid")
    return int(next_token)


def check_page_size(max_results: int, largest: int) -> None:
    """Athena's bounds on MaxResults."""
    if not 1 <= max_results <= largest:
        raise AthenaError("InvalidRequestException",
                          f"MaxResults must be between 1 and {largest}, got {max_results}")

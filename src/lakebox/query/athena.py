"""AthenaEngine: the same interface and result shape as :class:`~lakebox.query.engine.DuckEngine`, on Athena.

The query lifecycle (section 3 of the AWS semantics notes):

1. ``StartQueryExecution`` in the configured workgroup, with the database as the query context and ``enriched/``
   of the lake as the output location (ignored, harmlessly, when the workgroup enforces its own, which the
   lakebox stack's workgroup does; it points at the same place).
2. ``GetQueryExecution`` polled with capped exponential backoff and jitter (100 ms doubling to 2 s), not AWS's
   sample fixed 1 s sleep: short queries return in a fraction of a second and long ones cost few calls
   against the 100 TPS GetQueryExecution quota. QUEUED after RUNNING is legal (Athena requeues on transient
   errors) and is simply polled on.
3. ``GetQueryResults`` paged with ``NextToken``. The header row is only on the first page of a SELECT's
   results; values are typed from ``ColumnInfo`` (an absent ``VarCharValue`` is NULL, ``""`` is an empty
   string); the CSV result file is never parsed, so commas inside values cannot split a field.
4. Failures come back, as from DuckEngine, as a result with state FAILED and an
   :class:`~lakebox.query.errors.AthenaError` carrying Athena's ``StateChangeReason`` and error type. A query
   that outlives the timeout is stopped with ``StopQueryExecution`` (Athena keeps billing a query nobody
   waits for).
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import random
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

from lakebox.awsclient import LazyClient
from lakebox.config import Settings
from lakebox.core.errors import aws_error_code
from lakebox.query.base import (
    MAX_LIST_PAGE,
    MAX_RESULTS_PAGE,
    TERMINAL_STATES,
    CatalogView,
    ColumnInfo,
    QueryExecution,
    QueryExecutionIdsPage,
    QueryExecutionsBatch,
    QueryExecutionStatus,
    QueryResult,
    QueryResultsPage,
    ResultColumn,
    Row,
    Value,
    check_page_size,
)
from lakebox.query.dialect import check_statement
from lakebox.query.errors import SYSTEM, USER, AthenaError
from lakebox.query.statement import is_ddl
from lakebox.store.base import Store

log = logging.getLogger("lakebox.query.athena")

CATALOG = "AwsDataCatalog"
PAGE_SIZE = MAX_RESULTS_PAGE

#: Athena's numeric AthenaError.ErrorType codes that lakebox names (https://docs.aws.amazon.com/athena/
#: latest/ug/error-reference.html); StateChangeReason's "NAME: ..." prefix wins when present.
_ERROR_CODES = {
    1000: "SYSTEM_ERROR", 1001: "INTERNAL_ERROR", 1100: "RESOURCE_ERROR", 1101: "RESOURCE_EXHAUSTED",
    1200: "PERMISSION_ERROR", 1300: "TABLE_NOT_FOUND", 1301: "DATABASE_NOT_FOUND", 1302: "SCHEMA_NOT_FOUND",
    1402: "TOO_MANY_TABLE_VERSIONS", 1403: "ENTITY_NOT_FOUND", 1404: "PARTITION_NOT_FOUND",
    1701: "BYTES_SCANNED_LIMIT", 1702: "QUERY_TIMEOUT", 1801: "QUERY_CANCELLED", 1900: "SYNTAX_ERROR",
}
_REASON_TYPE = re.compile(r"^([A-Z][A-Z0-9_]{2,}):\s*(.*)$", re.S)
_TS_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S")


class Backoff:
    """Capped exponential backoff with "equal jitter": each delay is half fixed, half random, so polls of
    concurrent queries spread out but none waits much longer than the cap."""

    def __init__(self, initial: float = 0.1, cap: float = 2.0, factor: float = 2.0,
                 rng: random.Random | None = None) -> None:
        self.initial, self.cap, self.factor = initial, cap, factor
        self.rng = rng or random.Random()
        self.attempt = 0

    def next_delay(self) -> float:
        base = min(self.cap, self.initial * self.factor ** self.attempt)
        self.attempt += 1
        return base / 2 + self.rng.uniform(0, base / 2)


# --- typed values ----------------------------------------------------------------------------------------

def column_type(info: ColumnInfo) -> str:
    """ColumnInfo -> the type name DuckEngine reports (Trino names; decimal with its precision and scale)."""
    t = str(info.get("Type", "varchar")).lower()
    if t == "decimal":
        return f"decimal({info.get('Precision', 38)},{info.get('Scale', 0)})"
    if t == "timestamp":
        return "timestamp(3)"
    if t == "timestamp with time zone":
        return "timestamp(3) with time zone"
    if t == "float":
        return "real"
    return t


def parse_value(text: str | None, type_name: str) -> Value:
    """One VarCharValue -> a Python value of the column's type (None is NULL). Unparseable text is kept as
    text rather than dropped: the value is shown as Athena printed it."""
    if text is None:
        return None
    t = type_name.lower()
    try:
        if t in ("integer", "bigint", "smallint", "tinyint", "int"):
            return int(text)
        if t in ("double", "real"):
            return float(text)  # Java's "Infinity"/"NaN" spellings are accepted by float() too
        if t.startswith("decimal"):
            return decimal.Decimal(text)
        if t == "boolean":
            return text.lower() == "true"
        if t == "date":
            return dt.date.fromisoformat(text)
        if t.startswith("timestamp"):
            return _parse_timestamp(text)
    except (ValueError, decimal.InvalidOperation):
        return text
    return text


def _parse_timestamp(text: str) -> dt.datetime:
    tz: dt.tzinfo | None = None
    body = text
    if body.endswith(" UTC"):
        body, tz = body[:-4], dt.UTC
    for fmt in _TS_FORMATS:
        try:
            value = dt.datetime.strptime(body, fmt)
        except ValueError:
            continue
        return value.replace(tzinfo=tz) if tz else value
    return dt.datetime.fromisoformat(text)


def athena_error(status: QueryExecutionStatus) -> AthenaError:
    """An AthenaError from a QueryExecution's Status: the type from StateChangeReason's prefix
    (``SYNTAX_ERROR: line 1:8: ...``) or from ``AthenaError.ErrorType``, the message from the reason."""
    reason = str(status.get("StateChangeReason") or "").strip()
    err = status.get("AthenaError") or {}
    category = int(err.get("ErrorCategory") or USER)
    message = reason or str(err.get("ErrorMessage") or "") or "query failed without a reason"
    m = _REASON_TYPE.match(reason)
    if m:
        error_type, message = m.group(1), m.group(2)
    elif err.get("ErrorType") is not None:
        error_type = _ERROR_CODES.get(int(err["ErrorType"]), f"ATHENA_ERROR_{err['ErrorType']}")
    else:
        error_type = "GENERIC_INTERNAL_ERROR" if category == SYSTEM else "GENERIC_USER_ERROR"
    line = col = None
    pos = re.match(r"line (\d+):(\d+)", message)
    if pos:
        line, col = int(pos.group(1)), int(pos.group(2))
    return AthenaError(error_type, message, line=line, column=col, category=category)


# --- the engine --------------------------------------------------------------------------------------------

class AthenaEngine:
    """Runs Athena SQL on Athena. Constructed like DuckEngine: ``AthenaEngine(settings, store, catalog)``.

    ``client``, ``sleep``, ``clock`` and ``rng`` are injectable so tests drive polling without real waits.
    API errors of the actions (an unknown id, a bad page size) are raised as :class:`AthenaError` carrying
    Athena's error code, as DuckEngine raises them.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store | None = None,
        catalog: CatalogView | None = None,
        *,
        client: object | None = None,
        workgroup: str | None = None,
        output_location: str | None = None,
        read_only: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        poll_initial: float = 0.1,
        poll_cap: float = 2.0,
    ) -> None:
        self.settings = settings
        self.store = store
        self.catalog = catalog
        self.workgroup = workgroup or settings.workgroup or "primary"
        if output_location is None and store is not None and store.url.startswith("s3://"):
            output_location = store.url.rstrip("/") + "/enriched/"
        self.output_location = output_location
        self.read_only = read_only
        self._sleep, self._clock, self._rng = sleep, clock, rng or random.Random()
        self.poll_initial, self.poll_cap = poll_initial, poll_cap
        # The standard retry mode: botocore itself retries throttling (TooManyRequestsException) with backoff.
        self._clients = LazyClient("athena", settings.endpoint_url, settings.region,
                                   client, retries={"mode": "standard", "max_attempts": 6})
        self.polls = 0  # GetQueryExecution calls made, for tests and the stats block

    @classmethod
    def from_settings(cls, settings: Settings, store: Store | None = None,
                      catalog: CatalogView | None = None) -> AthenaEngine:
        """The engine for ``lakebox --engine athena``: workgroup, region and endpoint from the settings."""
        return cls(settings, store, catalog)

    @property
    def client(self) -> Any:  # noqa: ANN401 - boto3 clients are untyped (no stubs installed)
        """The boto3 Athena client, built on first use, with the standard retry mode so throttling
        (TooManyRequestsException, ThrottlingException) is retried with backoff by botocore itself."""
        return self._clients.get()

    def _call(self, action: str, **kwargs: object) -> dict[str, Any]:
        """One Athena API call; a refusal (ClientError) becomes an AthenaError with Athena's error code."""
        from botocore.exceptions import ClientError

        try:
            return dict(getattr(self.client, action)(**kwargs))
        except ClientError as exc:
            raise AthenaError(aws_error_code(exc) or "InternalServerException", str(exc)) from exc

    # --- Athena's actions, one call each -----------------------------------------------------------------

    def start_query_execution(self, sql: str, database: str | None = None) -> str:
        """StartQueryExecution; returns the QueryExecutionId at once (the query runs on Athena). With
        ``read_only`` (the default) lakebox's read-only guard refuses writes before they cost anything."""
        return self._start(sql, database, allow_ddl=self.settings.allow_ddl)

    def _start(self, sql: str, database: str | None, *, allow_ddl: bool) -> str:
        db = self._database(database)
        if self.read_only and not (allow_ddl and is_ddl(sql)):
            check_statement(sql, db)  # before the query costs anything on Athena
        kwargs: dict[str, object] = {
            "QueryString": sql,
            "QueryExecutionContext": {"Database": db, "Catalog": CATALOG},
            "WorkGroup": self.workgroup,
        }
        if self.output_location:
            kwargs["ResultConfiguration"] = {"OutputLocation": self.output_location}
        return str(self._call("start_query_execution", **kwargs)["QueryExecutionId"])

    def get_query_execution(self, execution_id: str) -> QueryExecution:
        """GetQueryExecution's ``QueryExecution`` payload (state, reason, statistics, output location)."""
        self.polls += 1
        return cast(QueryExecution, self._call("get_query_execution", QueryExecutionId=execution_id)["QueryExecution"])

    def get_query_results(
        self, execution_id: str, max_results: int = MAX_RESULTS_PAGE, next_token: str | None = None
    ) -> QueryResultsPage:
        """GetQueryResults: one page, as Athena returns it."""
        check_page_size(max_results, MAX_RESULTS_PAGE)
        kwargs: dict[str, object] = {"QueryExecutionId": execution_id, "MaxResults": max_results}
        if next_token:
            kwargs["NextToken"] = next_token
        return cast(QueryResultsPage, self._call("get_query_results", **kwargs))

    def stop_query_execution(self, execution_id: str) -> None:
        """StopQueryExecution: Athena moves the query to CANCELLED (stopping a finished query is a no-op)."""
        self._call("stop_query_execution", QueryExecutionId=execution_id)

    def list_query_executions(
        self, max_results: int = MAX_LIST_PAGE, next_token: str | None = None
    ) -> QueryExecutionIdsPage:
        """ListQueryExecutions of the engine's workgroup, newest first."""
        check_page_size(max_results, MAX_LIST_PAGE)
        kwargs: dict[str, object] = {"WorkGroup": self.workgroup, "MaxResults": max_results}
        if next_token:
            kwargs["NextToken"] = next_token
        page = self._call("list_query_executions", **kwargs)
        out: QueryExecutionIdsPage = {"QueryExecutionIds": [str(i) for i in page.get("QueryExecutionIds", [])]}
        if page.get("NextToken"):
            out["NextToken"] = str(page["NextToken"])
        return out

    def batch_get_query_execution(self, execution_ids: Sequence[str]) -> QueryExecutionsBatch:
        """BatchGetQueryExecution (up to 50 ids)."""
        resp = self._call("batch_get_query_execution", QueryExecutionIds=list(execution_ids))
        return {"QueryExecutions": list(resp.get("QueryExecutions", [])),
                "UnprocessedQueryExecutionIds": list(resp.get("UnprocessedQueryExecutionIds", []))}

    # --- waiting and reading -----------------------------------------------------------------------------

    def wait(self, execution_id: str, timeout: float | None = None) -> QueryExecution:
        """Poll until the query is terminal; on timeout stop it and raise AthenaError(QUERY_TIMEOUT)."""
        timeout = float(timeout if timeout is not None else self.settings.query_timeout)
        deadline = self._clock() + timeout
        backoff = Backoff(self.poll_initial, self.poll_cap, rng=self._rng)
        while True:
            execution = self.get_query_execution(execution_id)
            state = execution.get("Status", {}).get("State")
            if state in TERMINAL_STATES:
                return execution
            remaining = deadline - self._clock()
            if remaining <= 0:
                self._stop_quietly(execution_id)
                raise AthenaError("QUERY_TIMEOUT",
                                  f"Query exceeded the {timeout:g} s time limit and was cancelled "
                                  f"(execution {execution_id}, last state {state})")
            self._sleep(min(backoff.next_delay(), remaining))

    def _stop_quietly(self, execution_id: str) -> None:
        try:
            self.stop_query_execution(execution_id)
        except AthenaError as exc:  # the timeout is what the caller must hear about; log the stop failure
            log.warning("could not stop timed-out query %s: %s", execution_id, exc)

    def read_results(
        self, execution_id: str, max_rows: int | None = None, statement_type: str = "DML"
    ) -> tuple[list[ResultColumn], list[list[Value]], bool]:
        """All pages of GetQueryResults -> (columns, typed rows, truncated).

        Stops reading once ``max_rows`` + 1 rows are in hand, so a huge result costs a page or two, not all.
        """
        columns: list[ResultColumn] = []
        types: list[str] = []
        rows: list[list[Value]] = []
        token: str | None = None
        first_page = True
        truncated = False
        while True:
            page = self.get_query_results(execution_id, PAGE_SIZE, token)
            result_set = page.get("ResultSet", {"Rows": [], "ResultSetMetadata": {}})
            data = result_set.get("Rows", [])
            if first_page:
                info = result_set.get("ResultSetMetadata", {}).get("ColumnInfo", [])
                columns = [{"name": str(c.get("Label") or c.get("Name")), "type": column_type(c)} for c in info]
                types = [c["type"] for c in columns]
                if data and _is_header(data[0], columns, statement_type):
                    data = data[1:]  # the header row is on page 1 only; later pages are all data
                first_page = False
            for row in data:
                cells = row.get("Data", [])
                rows.append([parse_value(cell.get("VarCharValue"), types[i] if i < len(types) else "varchar")
                             for i, cell in enumerate(cells)])
            if max_rows is not None and len(rows) > max_rows:
                rows, truncated = rows[:max_rows], True
                break
            token = page.get("NextToken")
            if not token:
                break
        return columns, rows, truncated

    # --- the blocking convenience ----------------------------------------------------------------------

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
        """Run a query to completion and return its rows; failures come back as state FAILED (or CANCELLED
        when someone stopped it), never raised, exactly as from DuckEngine. ``write_result`` is accepted for
        interface parity: Athena always writes ``<id>.csv`` and its metadata to the output location."""
        db = self._database(database)
        result = QueryResult(execution_id="", sql=sql, database=db)
        submitted = dt.datetime.now(dt.UTC)
        t0 = self._clock()
        polls_before = self.polls
        try:
            result.execution_id = self._start(sql, db, allow_ddl=allow_ddl and self.settings.allow_ddl)
            execution = self.wait(result.execution_id, timeout)
            status = execution.get("Status", {})
            result.state = status.get("State", "FAILED")
            result.result_location = execution.get("ResultConfiguration", {}).get("OutputLocation")
            result.stats.update({k: v for k, v in (execution.get("Statistics") or {}).items()
                                 if k.endswith(("Millis", "Bytes"))})
            if result.state == "SUCCEEDED":
                cols, rows, truncated = self.read_results(
                    result.execution_id, max_rows, str(execution.get("StatementType") or "DML"))
                result.columns, result.rows, result.truncated = cols, rows, truncated
                result.row_count = len(rows)
            elif result.state == "CANCELLED":
                result.error = athena_error(status)
                if not status.get("StateChangeReason"):
                    result.error = AthenaError("QUERY_CANCELLED", "Query was cancelled")
            else:
                result.error = athena_error(status)
        except AthenaError as exc:
            # The guard's refusal, a timeout, or a rejected call (bad workgroup, throttled past retries,
            # missing permission): reported as Athena would, naming the error, not raised into the dashboard.
            result.state, result.error = "FAILED", exc
        result.stats.setdefault("DataScannedInBytes", 0)
        result.stats.update({
            "SubmissionDateTime": submitted.isoformat(),
            "CompletionDateTime": dt.datetime.now(dt.UTC).isoformat(),
            "ClientWaitTimeInMillis": round((self._clock() - t0) * 1000, 2),
            "Polls": self.polls - polls_before,
            "Rows": result.row_count,
            "WorkGroup": self.workgroup,
        })
        return result

    def close(self) -> None:
        """Nothing to release: boto3 clients hold only pooled HTTP connections."""

    # --- helpers ------------------------------------------------------------------------------------------

    def _database(self, database: str | None) -> str:
        return (database or self.settings.database or "default").lower()


def _is_header(row: Row, columns: list[ResultColumn], statement_type: str) -> bool:
    """Page 1, row 1 of a SELECT is the header. For other statements (SHOW, DESCRIBE) there is no header
    row, so it is dropped only when it repeats the column names exactly."""
    if statement_type.upper() == "DML":
        return True
    values = [c.get("VarCharValue") for c in row.get("Data", [])]
    return bool(columns) and values == [c["name"] for c in columns]

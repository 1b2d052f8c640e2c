"""Athena in its JSON 1.1 protocol, running Trino SQL through lakebox's translation onto DuckDB.

A query is QUEUED when started, RUNNING on lakebox's engine (its QueryEngine protocol: start, poll, stop),
then SUCCEEDED, FAILED or CANCELLED. Its result CSV and ``.metadata`` are written at
``<OutputLocation><QueryExecutionId>.csv``, where Athena writes them, inside the bucket the location names.
``GetQueryResults`` pages the rows with the header row first, the column types under Athena's names and
``MaxResults`` at most 1000. StopQueryExecution interrupts a running query.

Differences from AWS: the ``primary`` workgroup has a default OutputLocation (``s3://<lake bucket>/
enriched/``) so clients that set none still work; the ``.metadata`` file is JSON (Athena's is binary);
ListQueryExecutions lists this process's executions, while GetQueryExecution and GetQueryResults also find
older ones by id in ``_lakebox/endpoint/athena/``.
"""

from __future__ import annotations

import base64
import binascii
import collections
import datetime as dt
import json
import logging
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from sqlglot.errors import TokenError
from sqlglot.tokens import Tokenizer, TokenType

from lakebox.endpoint.backend import ATHENA_CATALOG, Backend, KeyRefused, QueryOutcome
from lakebox.endpoint.jsonrpc import JsonService
from lakebox.endpoint.protocol import AwsError
from lakebox.query.errors import AthenaError
from lakebox.query.results import read_athena_csv

log = logging.getLogger("lakebox.endpoint.athena")

#: Athena's numeric ErrorType for lakebox's error names (https://docs.aws.amazon.com/athena/latest/ug/
#: error-reference.html); anything else is 1100, "invalid argument".
ERROR_TYPES = {"SYNTAX_ERROR": 1006, "TABLE_NOT_FOUND": 1110, "SCHEMA_NOT_FOUND": 1110, "FUNCTION_NOT_FOUND": 1303,
               "INVALID_FUNCTION_ARGUMENT": 1106, "QUERY_TIMEOUT": 206, "CATALOG_NOT_FOUND": 1110,
               "COLUMN_NOT_FOUND": 1006, "TYPE_MISMATCH": 1006, "USER_CANCELLED": 1011}
#: Precision Athena reports per type in ColumnInfo.
_PRECISION = {"varchar": 2147483647, "bigint": 19, "integer": 10, "smallint": 5, "tinyint": 3, "double": 17,
              "real": 24, "boolean": 0, "date": 0, "timestamp(3)": 3, "varbinary": 2147483647}
_DONE = ("SUCCEEDED", "FAILED", "CANCELLED")
#: The endpoint's record of every finished execution, by id (a copy of its ``.metadata``).
HISTORY = "_lakebox/endpoint/athena/"
#: Executions kept in memory (ListQueryExecutions shows these); older ones are read back by id.
MAX_IN_MEMORY = 10_000
_ID = re.compile(r"[0-9a-f-]{36}")
#: Seconds StartQueryExecution waits for a query to finish before answering with its id.
START_WAIT = 0.2
#: Executions whose rows stay in memory for GetQueryResults; older ones are read back from their CSV.
_ROWS_KEPT = 32


@dataclass
class Execution:
    id: str
    query: str
    database: str
    catalog: str
    workgroup: str
    output: str  # s3://bucket/prefix/<id>.csv
    parameters: list[str]
    submitted: dt.datetime
    state: str = "QUEUED"
    completed: dt.datetime | None = None
    reason: str | None = None
    error: dict[str, Any] | None = None
    statement_type: str = "DML"
    columns: list[dict[str, str]] = field(default_factory=list)
    rows: list[list[str | None]] | None = None
    row_count: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    token: str | None = None
    engine_id: str | None = None  # the id of the run on lakebox's engine

    def to_api(self) -> dict[str, Any]:
        status: dict[str, Any] = {"State": self.state, "SubmissionDateTime": self.submitted}
        if self.completed:
            status["CompletionDateTime"] = self.completed
        if self.reason:
            status["StateChangeReason"] = self.reason
        if self.error:
            status["AthenaError"] = self.error
        out: dict[str, Any] = {
            "QueryExecutionId": self.id, "Query": self.query, "StatementType": self.statement_type,
            "ResultConfiguration": {"OutputLocation": self.output},
            "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": False}},
            "QueryExecutionContext": {"Database": self.database, "Catalog": self.catalog},
            "Status": status, "Statistics": self.stats, "WorkGroup": self.workgroup,
            "EngineVersion": {"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"},
            "SubstatementType": "SELECT" if self.statement_type == "DML" else None,
        }
        if self.parameters:
            out["ExecutionParameters"] = self.parameters
        return out


def bind_parameters(sql: str, values: list[str]) -> str:
    """Athena's ExecutionParameters: each ``?`` placeholder (outside strings and comments, found with
    sqlglot's Trino tokenizer) is replaced, in order, by the literal text given."""
    try:
        tokens = Tokenizer().tokenize(sql)
    except TokenError as exc:
        raise AwsError("InvalidRequestException", f"Cannot read the query: {exc}") from None
    spots = [t for t in tokens if t.token_type == TokenType.PLACEHOLDER and t.text == "?"]
    if len(spots) != len(values):
        raise AwsError("InvalidRequestException",
                       f"Query has {len(spots)} parameter placeholder(s) but {len(values)} ExecutionParameters")
    out, last = [], 0
    for tok, value in zip(spots, values, strict=True):
        out += [sql[last:tok.start], value]
        last = tok.end + 1
    out.append(sql[last:])
    return "".join(out)


def _column_info(col: dict[str, str]) -> dict[str, Any]:
    t = col["type"]
    precision, scale = _PRECISION.get(t, 0), 0
    if t.startswith("decimal("):
        p, _, s = t[8:-1].partition(",")
        precision, scale = int(p), int(s or 0)
    return {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": col["name"], "Label": col["name"],
            "Type": t, "Precision": precision, "Scale": scale, "Nullable": "UNKNOWN",
            "CaseSensitive": t == "varchar"}


class AthenaService(JsonService):
    service = "athena"

    def __init__(self, backend: Backend, workers: int = 2) -> None:
        self.backend = backend
        self.executions: dict[str, Execution] = {}
        self.order: list[str] = []
        self.tokens: dict[str, str] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="athena")
        self._with_rows: collections.deque[str] = collections.deque()
        s = backend.settings
        self.workgroups: dict[str, dict[str, Any]] = {name: {"Name": name, "State": "ENABLED", "Description": "",
                                  "CreationTime": dt.datetime.now(dt.UTC), "Configuration": {
                                      "ResultConfiguration": {"OutputLocation": f"s3://{backend.main_bucket}/enriched/"},
                                      "EnforceWorkGroupConfiguration": False,
                                      "PublishCloudWatchMetricsEnabled": False, "RequesterPaysEnabled": False,
                                      "EngineVersion": {"SelectedEngineVersion": "AUTO",
                                                        "EffectiveEngineVersion": "Athena engine version 3"}}}
                           for name in dict.fromkeys(["primary", s.workgroup])}

    # --- starting and running ------------------------------------------------------------------------------

    def _workgroup(self, name: str | None) -> dict[str, Any]:
        wg = self.workgroups.get(name or "primary")
        if wg is None:
            raise AwsError("InvalidRequestException", f"WorkGroup {name} is not found.")
        return wg

    def op_start_query_execution(self, p: dict[str, Any]) -> dict[str, Any]:
        wg = self._workgroup(p.get("WorkGroup"))
        token = p.get("ClientRequestToken")
        with self._lock:
            if token and token in self.tokens:
                prior = self.executions[self.tokens[token]]
                if prior.query != p["QueryString"]:
                    raise AwsError("InvalidRequestException", "Idempotent parameters do not match: "
                                   "ClientRequestToken was used with a different query")
                return {"QueryExecutionId": prior.id}
        output = (p.get("ResultConfiguration") or {}).get("OutputLocation") or \
            wg["Configuration"]["ResultConfiguration"].get("OutputLocation")
        if not output:
            raise AwsError("InvalidRequestException", "No output location provided. An output location is required "
                           "either through the Workgroup result configuration setting or as an API input.")
        bucket = self._output_bucket(output)
        ctx = p.get("QueryExecutionContext") or {}
        database = (ctx.get("Database") or self.backend.settings.database).lower()
        catalog = ctx.get("Catalog") or ATHENA_CATALOG
        params = p.get("ExecutionParameters") or []
        exec_id = str(uuid.uuid4())
        key_prefix = output[5 + len(bucket):].lstrip("/")
        if key_prefix and not key_prefix.endswith("/"):
            key_prefix += "/"
        ex = Execution(exec_id, p["QueryString"], database, catalog, wg["Name"],
                       f"s3://{bucket}/{key_prefix}{exec_id}.csv", list(params), dt.datetime.now(dt.UTC), token=token)
        with self._lock:
            self.executions[exec_id] = ex
            self.order.append(exec_id)
            while len(self.order) > MAX_IN_MEMORY:  # older ones stay readable from the history index
                first = self.executions.get(self.order[0])
                if first is not None and first.state not in _DONE:
                    break
                self.executions.pop(self.order.pop(0), None)
            if token:
                self.tokens[token] = exec_id
        future = self._pool.submit(self._run, ex, bucket, f"{key_prefix}{exec_id}.csv")
        # A short query is finished before its id is returned, so the client's first poll already sees the
        # final state (AWS would answer sooner and make it poll longer; the states are the same).
        wait([future], timeout=START_WAIT)
        return {"QueryExecutionId": exec_id}

    def _output_bucket(self, output: str) -> str:
        """The bucket of an OutputLocation, which must be an s3:// prefix inside a served bucket."""
        try:
            self.backend.catalog_location(output if output.endswith("/") else output + "/")
        except KeyError:
            raise AwsError("InvalidRequestException",
                           f"Unable to verify/create output bucket {output[5:].split('/', 1)[0]}") from None
        except KeyRefused as exc:
            raise AwsError("InvalidRequestException", f"OutputLocation {output}: {exc}") from None
        return output[5:].split("/", 1)[0]

    def _run(self, ex: Execution, bucket: str, key: str) -> None:
        with self._lock:
            if ex.state != "QUEUED":
                return
            ex.state = "RUNNING"
        started = dt.datetime.now(dt.UTC)
        try:
            if ex.catalog.lower() != ATHENA_CATALOG:
                outcome = QueryOutcome("FAILED", [], [], {}, "CATALOG_NOT_FOUND",
                                       f"CATALOG_NOT_FOUND: Catalog '{ex.catalog}' not found")
            else:
                sql = bind_parameters(ex.query, ex.parameters) if ex.parameters else ex.query
                outcome = self._engine_run(ex, sql)
        except AwsError as exc:
            outcome = QueryOutcome("FAILED", [], [], {}, "INVALID_ARGUMENT", exc.message)
        except AthenaError as exc:
            outcome = QueryOutcome("FAILED", [], [], {}, exc.error_type, str(exc), exc.category)
        except Exception:  # noqa: BLE001 - a query must end in a final state, whatever went wrong
            log.exception("query %s failed unexpectedly", ex.id)
            outcome = QueryOutcome("FAILED", [], [], {}, "GENERIC_INTERNAL_ERROR",
                                   "GENERIC_INTERNAL_ERROR: lakebox failed to run the query; see the endpoint's log",
                                   1)
        self._finish(ex, outcome, bucket, key, started)

    def _engine_run(self, ex: Execution, sql: str) -> QueryOutcome:
        """Start the query on lakebox's engine and wait for its final state (a stop interrupts it)."""
        engine_id = self.backend.start_query(sql, ex.database)
        with self._lock:
            ex.engine_id = engine_id
            cancelled = ex.state == "CANCELLED"
        if cancelled:
            self.backend.stop_query(engine_id)
        delay = 0.001
        while (outcome := self.backend.query_outcome(engine_id, sql)) is None:
            time.sleep(delay)  # the engine's own pool runs the query; its state is a dictionary lookup
            delay = min(delay * 2, 0.005)
        return outcome

    def _finish(self, ex: Execution, outcome: QueryOutcome, bucket: str, key: str, started: dt.datetime) -> None:
        done = dt.datetime.now(dt.UTC)
        queue_ms = int((started - ex.submitted).total_seconds() * 1000)
        engine_ms = int(outcome.stats.get("EngineExecutionTimeInMillis", 0) or 0)
        planning_ms = int(outcome.stats.get("QueryPlanningTimeInMillis", 0) or 0)
        total_ms = int((done - ex.submitted).total_seconds() * 1000)
        stats = {"EngineExecutionTimeInMillis": engine_ms + planning_ms,
                 "DataScannedInBytes": int(outcome.stats.get("DataScannedInBytes", 0) or 0),
                 "TotalExecutionTimeInMillis": total_ms, "QueryQueueTimeInMillis": queue_ms,
                 "QueryPlanningTimeInMillis": planning_ms,
                 "ServicePreProcessingTimeInMillis": 0,
                 "ServiceProcessingTimeInMillis": max(0, total_ms - queue_ms - engine_ms - planning_ms)}
        with self._lock:
            cancelled = ex.state == "CANCELLED"
        if cancelled:
            if outcome.csv_path is not None:
                outcome.csv_path.unlink(missing_ok=True)
            return
        if outcome.statement_type == "DDL" and outcome.csv_path is not None:
            outcome.csv_path.unlink(missing_ok=True)  # a DDL statement's result is the .txt below
        elif outcome.state == "SUCCEEDED" and outcome.csv_path is not None:
            try:
                self.backend.move_result(outcome.csv_path, bucket, key)
            except (OSError, KeyError, KeyRefused) as exc:
                outcome = QueryOutcome("FAILED", [], [], outcome.stats, "PERMISSION_DENIED",
                                       f"Cannot write the result to {ex.output}: {exc}", 1)
        if outcome.statement_type == "DDL" and outcome.state == "SUCCEEDED":
            # Athena writes a DDL statement's (empty) result as <id>.txt.
            key = key.removesuffix(".csv") + ".txt"
            ex.output = ex.output.removesuffix(".csv") + ".txt"
            b = self.backend.bucket(bucket)
            if b is not None:
                b.write_record(key, b"")
        with self._lock:
            ex.stats = stats
            ex.completed = done
            ex.statement_type = outcome.statement_type
            if outcome.state == "SUCCEEDED":
                ex.columns = outcome.columns
                if outcome.row_count is not None:  # the rows are read from the result file when asked for
                    ex.rows, ex.row_count = None, outcome.row_count
                else:
                    ex.rows, ex.row_count = outcome.rows, len(outcome.rows)
                    self._keep_rows(ex)
            else:
                ex.reason = outcome.error_message
                code = outcome.error_code or "GENERIC_INTERNAL_ERROR"
                ex.error = {"ErrorCategory": outcome.error_category, "ErrorType": ERROR_TYPES.get(code, 1100),
                            "Retryable": False, "ErrorMessage": outcome.error_message}
        # The files are in place before the state says so: a client that sees SUCCEEDED can read them.
        self._write_metadata(ex, outcome.state, bucket, key)
        with self._lock:
            if ex.state != "CANCELLED":
                ex.state = outcome.state

    def _write_metadata(self, ex: Execution, state: str, bucket: str, key: str) -> None:
        """The ``.metadata`` next to the result, and the same record in the endpoint's history index (so
        GetQueryExecution and GetQueryResults find the query after a restart)."""
        api = ex.to_api()
        api["Status"]["State"] = state
        meta = api | {"ResultSetMetadata": {"ColumnInfo": [_column_info(c) for c in ex.columns]},
                      "RowCount": ex.row_count}
        body = json.dumps(meta, indent=1, default=str).encode()
        b = self.backend.bucket(bucket)
        if b is not None:
            b.write_record(key + ".metadata", body)
        main = self.backend.bucket(self.backend.main_bucket)
        if main is not None:
            main.write_record(f"{HISTORY}{ex.id}.json", body)

    # --- reading -------------------------------------------------------------------------------------------

    def _get(self, exec_id: str) -> Execution:
        ex = self.executions.get(exec_id) or self._load(exec_id)
        if ex is None:
            raise AwsError("InvalidRequestException", f"QueryExecution {exec_id} was not found")
        return ex

    def _load(self, exec_id: str) -> Execution | None:
        """A finished execution from before this process (or evicted from memory), from its index record."""
        main = self.backend.bucket(self.backend.main_bucket)
        if main is None or not _ID.fullmatch(exec_id):
            return None
        try:
            meta = json.loads(main.read(f"{HISTORY}{exec_id}.json"))
        except (KeyError, ValueError):
            return None
        status, ctx = meta.get("Status", {}), meta.get("QueryExecutionContext", {})

        def when(v: str | None) -> dt.datetime | None:
            return dt.datetime.fromisoformat(v) if v else None

        return Execution(
            exec_id, meta.get("Query", ""), ctx.get("Database", ""), ctx.get("Catalog", ATHENA_CATALOG),
            meta.get("WorkGroup", "primary"), meta.get("ResultConfiguration", {}).get("OutputLocation", ""),
            meta.get("ExecutionParameters", []), when(status.get("SubmissionDateTime")) or dt.datetime.now(dt.UTC),
            state=status.get("State", "FAILED"), completed=when(status.get("CompletionDateTime")),
            reason=status.get("StateChangeReason"), error=status.get("AthenaError"),
            statement_type=meta.get("StatementType", "DML"),
            columns=[{"name": c["Name"], "type": c["Type"]} for c in meta.get("ResultSetMetadata", {}).get(
                "ColumnInfo", [])], row_count=int(meta.get("RowCount", 0)), stats=meta.get("Statistics", {}))

    def op_get_query_execution(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"QueryExecution": self._get(p["QueryExecutionId"]).to_api()}

    def op_batch_get_query_execution(self, p: dict[str, Any]) -> dict[str, Any]:
        found, missing = [], []
        for i in p["QueryExecutionIds"]:
            ex = self.executions.get(i)
            if ex is None:
                missing.append({"QueryExecutionId": i, "ErrorCode": "INVALID_INPUT",
                                "ErrorMessage": f"QueryExecution {i} was not found"})
            else:
                found.append(ex.to_api())
        return {"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing}

    def op_list_query_executions(self, p: dict[str, Any]) -> dict[str, Any]:
        wg = self._workgroup(p.get("WorkGroup"))["Name"]
        ids = [i for i in reversed(self.order) if self.executions[i].workgroup == wg]
        start = _offset(p.get("NextToken"))
        n = p.get("MaxResults") or 50
        out: dict[str, Any] = {"QueryExecutionIds": ids[start:start + n]}
        if start + n < len(ids):
            out["NextToken"] = _token(start + n)
        return out

    def op_stop_query_execution(self, p: dict[str, Any]) -> dict[str, Any]:
        ex = self._get(p["QueryExecutionId"])
        with self._lock:
            engine_id = ex.engine_id if ex.state == "RUNNING" else None
            if ex.state not in _DONE:
                ex.state = "CANCELLED"
                ex.completed = dt.datetime.now(dt.UTC)
                ex.reason = "Query was cancelled by the user"
                ex.error = {"ErrorCategory": 2, "ErrorType": 1011, "Retryable": False,
                            "ErrorMessage": "Query was cancelled by the user"}
        if engine_id is not None:
            self.backend.stop_query(engine_id)
        return {}

    def _keep_rows(self, ex: Execution) -> None:
        """Remember an execution's rows (for paging), forgetting the oldest beyond ``_ROWS_KEPT``."""
        self._with_rows.append(ex.id)
        while len(self._with_rows) > _ROWS_KEPT:
            old = self.executions.get(self._with_rows.popleft())
            if old is not None:
                old.rows = None

    def _rows(self, ex: Execution) -> list[list[str | None]]:
        if ex.rows is not None:
            return ex.rows
        bucket, _, key = ex.output[5:].partition("/")
        b = self.backend.bucket(bucket)
        if b is None:
            raise AwsError("InvalidRequestException", f"The result of {ex.id} is no longer at {ex.output}")
        try:
            rows = read_athena_csv(b.read(key).decode("utf-8"))
        except KeyError:
            raise AwsError("InvalidRequestException", f"The result of {ex.id} is no longer at {ex.output}") from None
        with self._lock:
            ex.rows = rows[1:]  # the file's header row; GetQueryResults adds it back for DML only
            self._keep_rows(ex)
        return ex.rows

    def op_get_query_results(self, p: dict[str, Any]) -> dict[str, Any]:
        ex = self._get(p["QueryExecutionId"])
        if ex.state in ("QUEUED", "RUNNING"):
            raise AwsError("InvalidRequestException", f"Query has not yet finished. Current state: {ex.state}")
        if ex.state != "SUCCEEDED":
            raise AwsError("InvalidRequestException",
                           f"Query did not finish successfully. Final query state: {ex.state}"
                           + (f"\n{ex.reason}" if ex.reason else ""))
        rows = [[c["name"] for c in ex.columns]] + self._rows(ex) if ex.statement_type == "DML" else self._rows(ex)
        start = _offset(p.get("NextToken"))
        n = p.get("MaxResults") or 1000
        page = rows[start:start + n]
        out: dict[str, Any] = {
            "ResultSet": {"Rows": [{"Data": [{} if v is None else {"VarCharValue": v} for v in r]} for r in page],
                          "ResultSetMetadata": {"ColumnInfo": [_column_info(c) for c in ex.columns]}},
            "UpdateCount": 0,
        }
        if start + n < len(rows):
            out["NextToken"] = _token(start + n)
        return out

    def op_get_query_runtime_statistics(self, p: dict[str, Any]) -> dict[str, Any]:
        ex = self._get(p["QueryExecutionId"])
        s = ex.stats
        return {"QueryRuntimeStatistics": {
            "Timeline": {k: s.get(k, 0) for k in ("QueryQueueTimeInMillis", "QueryPlanningTimeInMillis",
                                                   "EngineExecutionTimeInMillis", "ServiceProcessingTimeInMillis",
                                                   "TotalExecutionTimeInMillis")},
            "Rows": {"InputBytes": s.get("DataScannedInBytes", 0), "OutputRows": ex.row_count}}}

    # --- the data catalog, as Athena shows it ------------------------------------------------------------

    def _catalog_name(self, name: str) -> None:
        if name.lower() != ATHENA_CATALOG:
            raise AwsError("MetadataException", f"Catalog {name} not found")

    def op_list_data_catalogs(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"DataCatalogsSummary": [{"CatalogName": "AwsDataCatalog", "Type": "GLUE"}]}

    def op_list_databases(self, p: dict[str, Any]) -> dict[str, Any]:
        self._catalog_name(p["CatalogName"])
        return {"DatabaseList": [{"Name": d} for d in self.backend.databases()]}

    def op_get_database(self, p: dict[str, Any]) -> dict[str, Any]:
        self._catalog_name(p["CatalogName"])
        if p["DatabaseName"].lower() not in self.backend.databases():
            raise AwsError("MetadataException", f"Database {p['DatabaseName']} not found")
        return {"Database": {"Name": p["DatabaseName"].lower()}}

    def _table_metadata(self, t: Any) -> dict[str, Any]:
        glue = self.backend.glue_table(t)
        return {"Name": t.name, "CreateTime": glue["CreateTime"], "LastAccessTime": glue["LastAccessTime"],
                "TableType": "EXTERNAL_TABLE", "Columns": glue["StorageDescriptor"]["Columns"],
                "PartitionKeys": glue["PartitionKeys"], "Parameters": glue["Parameters"]}

    def op_list_table_metadata(self, p: dict[str, Any]) -> dict[str, Any]:
        self._catalog_name(p["CatalogName"])
        if p["DatabaseName"].lower() not in self.backend.databases():
            raise AwsError("MetadataException", f"Database {p['DatabaseName']} not found")
        tables = self.backend.tables(p["DatabaseName"])
        start = _offset(p.get("NextToken"))
        n = p.get("MaxResults") or 50
        out: dict[str, Any] = {"TableMetadataList": [self._table_metadata(t) for t in tables[start:start + n]]}
        if start + n < len(tables):
            out["NextToken"] = _token(start + n)
        return out

    def op_get_table_metadata(self, p: dict[str, Any]) -> dict[str, Any]:
        self._catalog_name(p["CatalogName"])
        t = self.backend.table(p["DatabaseName"], p["TableName"])
        if t is None:
            raise AwsError("MetadataException", f"Table {p['TableName']} not found")
        return {"TableMetadata": self._table_metadata(t)}

    # --- workgroups ----------------------------------------------------------------------------------------

    def op_get_work_group(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"WorkGroup": self._workgroup(p["WorkGroup"])}

    def op_list_work_groups(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"WorkGroups": [{"Name": w["Name"], "State": w["State"], "Description": w["Description"],
                                "CreationTime": w["CreationTime"],
                                "EngineVersion": w["Configuration"]["EngineVersion"]}
                               for w in self.workgroups.values()]}

    def close(self) -> None:
        """Shutdown: queued queries never start, running ones are stopped."""
        with self._lock:
            running = [ex.engine_id for ex in self.executions.values() if ex.state == "RUNNING" and ex.engine_id]
        for engine_id in running:
            self.backend.stop_query(engine_id)
        self._pool.shutdown(wait=True, cancel_futures=True)


def _token(n: int) -> str:
    return base64.urlsafe_b64encode(f"lakebox:{n}".encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""  # not a token this endpoint issued
    if text.startswith("lakebox:") and text[8:].isdigit():
        return int(text[8:])
    raise AwsError("InvalidRequestException", "The NextToken is not valid")


__all__ = ["AthenaService", "Execution", "bind_parameters"]

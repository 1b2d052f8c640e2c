"""The SQL editor's workbench API: completion data, query history, full-result downloads, saved queries.

- ``GET /api/completions``: catalog tables with their columns, and the Trino function names lakebox runs.
- ``GET /api/executions``: the query history (Athena's ListQueryExecutions), newest first, one entry per
  distinct query.
- ``GET /api/executions/<id>.csv`` / ``.json``: every row of a past execution's query, streamed (the CSV with
  formula cells neutralised, see ``web.csv_export``). The editor's
  own result is capped at ``max_result_rows`` (and so is its result file), so the query runs again without
  that cap, on the data as it is now. A result of more than ``EXPORT_MAX_ROWS`` rows is refused (413), not
  cut short.
- ``POST /api/queries``: save the editor's SQL as a named query stored in the lake (see ``web.saved``); it is
  listed with the shipped queries and shown as a panel. ``DELETE /api/queries/<name>`` removes a saved one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from lakebox.query.base import query_history
from lakebox.query.errors import AthenaError
from lakebox.query.named import NamedQuery
from lakebox.query.results import athena_csv, to_json_value
from lakebox.query.retention import forget_named_latest
from lakebox.query.trino_functions import UNSUPPORTED_FUNCTIONS
from lakebox.web.api import ApiError, error_response
from lakebox.web.csv_export import neutralise_csv
from lakebox.web.dashboard import Dashboard
from lakebox.web.saved import SavedQueryError, SavedQueryExists, SaveRequest
from lakebox.web.workbench_spec import HISTORY_LIMIT, HISTORY_MAX

bp = Blueprint("workbench", __name__, url_prefix="/api")

EXECUTION_ID = re.compile(r"[0-9a-fA-F-]{8,64}")
#: Rows per chunk of a streamed download.
CHUNK_ROWS = 2000
#: Most rows a download holds. The engine hands a result over as Python rows, so a download of N rows holds
#: them all in memory while it streams; past this the download is refused (413) rather than cut short.
EXPORT_MAX_ROWS = 1_000_000

#: Trino functions offered for completion (those lakebox refuses are left out at import).
TRINO_FUNCTIONS = tuple(sorted(set("""
abs acos approx_distinct approx_percentile arbitrary array_agg array_distinct array_join array_max array_min
array_position array_sort asin atan atan2 avg bool_and bool_or cardinality cast cbrt ceil ceiling chr coalesce
concat contains corr count count_if cos cosh covar_pop covar_samp current_date current_timestamp date
date_add date_diff date_format date_parse date_trunc day day_of_month day_of_week day_of_year degrees
element_at every exp extract filter flatten floor format_datetime from_iso8601_date from_iso8601_timestamp
from_unixtime geometric_mean greatest hour if is_finite is_infinite is_nan last_day_of_month least length
ln log log10 log2 lower lpad ltrim map max max_by md5 min min_by minute mod month now nullif parse_datetime
pi position pow power quarter radians rand random reduce regexp_extract regexp_extract_all regexp_like
regexp_replace regexp_split replace reverse round rpad rtrim second sequence sha256 sign sin slice split
split_part sqrt starts_with stddev stddev_pop stddev_samp strpos substr substring sum tan tanh to_unixtime
transform trim truncate try try_cast typeof upper url_extract_host url_extract_path variance var_pop
var_samp week week_of_year year year_of_week
""".split()) - UNSUPPORTED_FUNCTIONS))


def dash() -> Dashboard:
    return current_app.extensions["lakebox"]


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.kind, exc.message, **exc.extra)


@bp.errorhandler(SavedQueryError)
@bp.errorhandler(SavedQueryExists)
def _saved_error(exc: SavedQueryError | SavedQueryExists) -> Response:
    kind = "ALREADY_EXISTS" if isinstance(exc, SavedQueryExists) else "INVALID_REQUEST"
    return error_response(exc.http_status, kind, str(exc))


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    """``is_saved(name)`` (saved panels get a tag and a delete button) and the reference date (as_of)."""
    def is_saved(name: str) -> bool:
        return name in dash().saved.all() and name not in dash().services.named_queries

    # months up to the reference date's month are complete; that month itself is partial (charts mark it)
    return {"is_saved": is_saved, "reference_date": dash().settings.reference_date().isoformat()}


@bp.get("/completions")
def completions() -> Response:
    """What the editor completes: tables (with columns) of every database, and Trino function names."""
    tables = []
    for t in dash().services.catalog.get_tables():
        cols = [*t.columns, *t.partition_keys]
        tables.append({"database": t.database, "name": t.name,
                       "columns": [{"name": c.name, "type": c.type} for c in cols]})
    return jsonify(tables=tables, functions=list(TRINO_FUNCTIONS))


def _history_entry(meta: dict[str, Any]) -> dict[str, Any]:
    status = meta.get("Status") or {}
    err = status.get("AthenaError") or {}
    stats = meta.get("Statistics") or {}
    return {
        "execution_id": meta.get("QueryExecutionId"),
        "sql": meta.get("Query", ""),
        "database": (meta.get("QueryExecutionContext") or {}).get("Database"),
        "state": status.get("State"),
        "submitted_at": status.get("SubmissionDateTime"),
        "time_ms": stats.get("TotalExecutionTimeInMillis"),
        "rows": meta.get("RowCount"),
        "truncated": meta.get("Truncated"),
        "error_type": err.get("ErrorType"),
        "error": err.get("ErrorMessage"),
    }


@bp.get("/executions")
def executions() -> Response:
    """The query history, newest first, the latest run of each distinct (query, database) only."""
    raw = request.args.get("limit", str(HISTORY_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= HISTORY_MAX:
        raise ApiError(400, "INVALID_PARAMETER", f"limit must be an integer from 1 to {HISTORY_MAX}, not {raw!r}")
    limit = int(raw)
    seen: set[tuple[str, str]] = set()
    out: list[dict[str, Any]] = []
    # read a few times the limit so that repeated runs of one query do not empty the list
    for meta in query_history(dash().services.engine, limit * 4):
        entry = _history_entry(dict(meta))
        key = (" ".join(str(entry["sql"]).split()), str(entry["database"]))
        if key in seen:
            continue
        seen.add(key)
        out.append(entry)
        if len(out) >= limit:
            break
    return jsonify(executions=out)


@bp.get("/executions/<execution_id>.<fmt>")
def download_execution(execution_id: str, fmt: str) -> Response:
    """Every row of a past execution's query, as Athena's result CSV or as JSON, streamed."""
    if fmt not in ("csv", "json"):
        raise ApiError(404, "NOT_FOUND", f"no format {fmt!r}: use .csv or .json")
    if not EXECUTION_ID.fullmatch(execution_id):
        raise ApiError(400, "INVALID_PARAMETER", f"{execution_id!r} is not a query execution id")
    d = dash()
    try:
        meta = d.services.engine.get_query_execution(execution_id)
    except AthenaError:  # GetQueryExecution of an unknown id: InvalidRequestException
        raise ApiError(404, "NOT_FOUND", f"no query execution {execution_id}; GET /api/executions lists them") from None
    database = (meta.get("QueryExecutionContext") or {}).get("Database") or None
    result = d.execute_user(meta.get("Query", ""), database=database, max_rows=EXPORT_MAX_ROWS,
                       timeout=d.settings.query_timeout, write_result=False)
    if result.error is not None:
        e = result.error
        return error_response(400 if e.category == 2 else 500, e.error_type, e.message, line=e.line,
                              column=e.column)
    if result.truncated:
        raise ApiError(413, "RESULT_TOO_LARGE",
                       f"the result has more than {EXPORT_MAX_ROWS:,} rows, the most a download holds; add a "
                       "WHERE or LIMIT, or read the table's files under processed/ directly")
    filename = f"query-{execution_id}.{fmt}"
    body = _csv_chunks(result) if fmt == "csv" else _json_chunks(result, execution_id)
    resp = Response(body, mimetype="text/csv" if fmt == "csv" else "application/json")
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    resp.headers["X-Row-Count"] = str(result.row_count)
    return resp


def _csv_chunks(result: Any) -> Iterator[str]:
    types = [c["type"] for c in result.columns]
    lines = neutralise_csv(athena_csv([c["name"] for c in result.columns], types, result.rows), types)
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= CHUNK_ROWS:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def _json_chunks(result: Any, execution_id: str) -> Iterator[str]:
    yield '{"columns":' + json.dumps(result.columns) + ',"rows":['
    rows = result.rows
    for start in range(0, len(rows), CHUNK_ROWS):
        part = ",".join(json.dumps([to_json_value(v) for v in r], default=str) for r in rows[start:start + CHUNK_ROWS])
        yield ("," if start else "") + part
    yield '],"row_count":' + str(result.row_count) + ',"execution_id":' + json.dumps(execution_id) + "}"


@bp.post("/queries")
def save_query() -> Response:
    """Save the editor's SQL as a named query (``{"name", "title", "sql", "description", "chart", "params"}``)."""
    d = dash()
    req = SaveRequest.from_json(request.get_json(silent=True))

    def check(query: NamedQuery) -> None:
        result = d.execute_user(query.render({}), max_rows=1, timeout=d.settings.query_timeout, write_result=False)
        if result.error is not None:
            e = result.error
            raise ApiError(400, e.error_type, f"the query does not run: {e.message}", line=e.line, column=e.column)

    query = d.saved.save(req, reserved=d.services.named_queries, check=check)
    d.data_changed()  # the page's set of panels changed: pages re-render, the warmer runs the new one
    resp = jsonify(query=query.to_dict(), url=f"/#panel-{query.name}")
    resp.status_code = 201
    return resp


@bp.delete("/queries/<name>")
def delete_query(name: str) -> Response:
    d = dash()
    if name in d.services.named_queries:
        raise ApiError(409, "NOT_SUPPORTED", f"{name!r} is a shipped query and cannot be deleted")
    if not d.saved.delete(name):
        raise ApiError(404, "NOT_FOUND", f"no saved query {name!r}")
    forget_named_latest(d.services.store, name)  # its last result is an ad-hoc one now, and expires
    d.data_changed()
    return jsonify(deleted=name)


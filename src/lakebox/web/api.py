"""The JSON API: everything the page shows, described by ``/api/openapi.json``.

Errors are always JSON: ``{"error": {"type": ..., "message": ...}}`` with a 4xx status for bad input.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from lakebox.core.errors import LakeboxError
from lakebox.store.base import NoSuchKeyError
from lakebox.web import openapi, views
from lakebox.web.csv_export import neutralise_csv
from lakebox.web.dashboard import MAX_SQL_BYTES, Dashboard

bp = Blueprint("api", __name__, url_prefix="/api")


def dash() -> Dashboard:
    d: Dashboard = current_app.extensions["lakebox"]
    return d


class ApiError(LakeboxError, code="INVALID_REQUEST", http_status=400):
    """An error answered as JSON with ``status``."""

    def __init__(self, status: int, kind: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.extra = status, kind, message, extra


def error_response(status: int, kind: str, message: str, **extra: Any) -> Response:
    body = {"error": {"type": kind, "message": message, **{k: v for k, v in extra.items() if v is not None}}}
    resp = jsonify(body)
    resp.status_code = status
    return resp


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.kind, exc.message, **exc.extra)


def _json_bytes(body: bytes | str, status: int = 200, filename: str | None = None) -> Response:
    resp = Response(body, status=status, mimetype="application/json")
    if filename:
        resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return resp


def _limit() -> int | None:
    raw = request.args.get("limit")
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError(400, "INVALID_PARAMETER", f"limit must be a positive integer, not {raw!r}")
    return int(raw)


def _download_name(name: str, params: dict[str, str], ext: str) -> str:
    suffix = "".join(f"_{v}" for v in params.values())
    return f"{name}{suffix}.{ext}".replace('"', "")


@bp.get("/version")
def version() -> Response:
    """The data version; pages poll it and refresh when it changes."""
    return jsonify(version=dash().version.current())


@bp.get("/csrf")
def csrf() -> Response:
    return jsonify(csrf_token=current_app.extensions["lakebox_guard"].csrf_token)


@bp.get("/openapi.json")
def openapi_doc() -> Response:
    return jsonify(openapi.document(dash()))


@bp.get("/queries")
def list_queries() -> Response:
    return jsonify(queries=[q.to_dict() for q in dash().queries.values()])


@bp.get("/queries/<path:name>")
def get_query(name: str) -> Response:
    d = dash()
    fmt = "json"
    if name not in d.queries and name.endswith((".csv", ".json")):
        name, _, fmt = name.rpartition(".")
    params = d.params_from(name, request.args)
    if fmt == "csv":
        return _csv(d, name, params)
    panel = d.panel(name, params)
    download = fmt == "json" and (request.args.get("download") in ("1", "true") or name != (request.view_args or {}).get("name"))
    filename = _download_name(name, params, "json") if download else None
    if panel.status != 200:
        err = panel.data.get("error") or {}
        return error_response(panel.status, err.get("error_type", "QUERY_FAILED"), err.get("message", ""),
                              line=err.get("line"), column=err.get("column"))
    limit = _limit()
    if limit is not None and limit < len(panel.data["rows"]):
        data = dict(panel.data, rows=panel.data["rows"][:limit], truncated=True, shown_rows=limit)
        return _json_bytes(json.dumps(data, default=str), filename=filename)
    return _json_bytes(panel.json_bytes, filename=filename)


def _csv(d: Dashboard, name: str, params: dict[str, str]) -> Response:
    """The query's result file, streamed with formula cells neutralised (see :mod:`lakebox.web.csv_export`);
    the file in enriched/ itself stays as Athena writes it."""
    key, err = d.csv_key(name, params)
    if err is not None or key is None:
        err = err or {}
        return error_response(views.error_status(err), err.get("error_type", "QUERY_FAILED"),
                              err.get("message", "query failed"))
    store = d.services.store
    try:
        meta = json.loads(store.get_object(key + ".metadata"))
        types = [c.get("Type", "") for c in meta.get("ResultSetMetadata", {}).get("ColumnInfo", [])]
    except NoSuchKeyError:
        types = []  # every column counts as text: more is neutralised, nothing is missed
    source = store.open_object(key)

    def body() -> Iterator[str]:
        try:
            text = io.TextIOWrapper(source, encoding="utf-8", newline="")
            yield from neutralise_csv(text, types)
        finally:
            source.close()

    resp = Response(body(), mimetype="text/csv")
    resp.headers["Content-Disposition"] = f'attachment; filename="{_download_name(name, params, "csv")}"'
    return resp


@bp.get("/overview")
def overview() -> Response:
    return jsonify(dash().overview())


@bp.get("/dashboard")
def dashboard() -> Response:
    """Everything the page shows at its default parameters (what the page refreshes from)."""
    return _json_bytes(dash().boot_json())


@bp.post("/sql")
def run_sql() -> Response:
    if (request.content_length or 0) > MAX_SQL_BYTES * 2 + 4096:
        raise ApiError(413, "QUERY_TOO_LARGE", f"the request body is larger than a query may be ({MAX_SQL_BYTES} bytes)")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("sql"), str):
        raise ApiError(400, "INVALID_REQUEST", 'send JSON: {"sql": "SELECT ...", "database": "optional"}')
    sql = body["sql"]
    database = body.get("database")
    if database is not None and not isinstance(database, str):
        raise ApiError(400, "INVALID_REQUEST", "database must be a string")
    if len(sql.encode("utf-8")) > MAX_SQL_BYTES:
        raise ApiError(413, "QUERY_TOO_LARGE", f"the query is longer than Athena's limit of {MAX_SQL_BYTES} bytes")
    if not sql.strip():
        raise ApiError(400, "INVALID_REQUEST", "the query is empty")
    result = dash().run_sql(sql, database)
    out = result.to_json()
    out["stats"] = views.summarize_stats(result.stats)
    if result.error is not None:
        e = result.error
        return error_response(views.error_status(e.to_dict()), e.error_type, e.message, line=e.line,
                              column=e.column, execution_id=result.execution_id)
    return _json_bytes(json.dumps(out, default=str))


@bp.get("/tables")
def tables() -> Response:
    return jsonify(tables=dash().pipeline()["tables"])


@bp.get("/runs")
def runs() -> Response:
    p = dash().pipeline()
    return jsonify(runs=p["runs"], totals=p["totals"])


@bp.get("/quarantine")
def quarantine() -> Response:
    return jsonify(dash().pipeline()["quarantine"])


@bp.get("/failures")
def failures() -> Response:
    return jsonify(failures=dash().pipeline()["failures"])


@bp.post("/upload")
def upload() -> Response:
    f = request.files.get("file")
    if f is None:
        raise ApiError(400, "INVALID_REQUEST", "send the CSV as multipart/form-data in a field named 'file'")
    if not f.filename:
        raise ApiError(400, "INVALID_REQUEST", "the uploaded file has no name")
    key, run = dash().upload(f.filename, lambda path: f.save(path))
    return _json_bytes(json.dumps({"key": key, "run": run.to_dict(), "version": dash().version.current()},
                                  default=str), status=201)


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
def unknown(rest: str) -> Response:
    return error_response(404, "NOT_FOUND", f"no endpoint /api/{rest}; see /api/openapi.json")

"""The OpenAPI 3.1 description of the dashboard's JSON API, served at ``/api/openapi.json``."""

from __future__ import annotations

from typing import Any

from lakebox.web.dashboard import MAX_SQL_BYTES, Dashboard
from lakebox.web.workbench_spec import openapi_paths as workbench_paths


def _ok(description: str, schema: dict[str, Any] | None = None, media: str = "application/json") -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": schema or {"type": "object"}}}}


_ERR = {"$ref": "#/components/responses/Error"}


def document(dash: Dashboard) -> dict[str, Any]:
    names = list(dash.queries)
    params: list[dict[str, Any]] = [
        {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "enum": names}},
    ]
    for q in dash.queries.values():
        for p in q.params:
            params.append({"name": p.name, "in": "query", "required": False,
                           "description": f"{q.name}: {p.help or p.name} (default {p.default})",
                           "schema": {"type": "string", "pattern": p.pattern, "default": p.default}})
    limit = {"name": "limit", "in": "query", "required": False, "description": "Return at most this many rows.",
             "schema": {"type": "integer", "minimum": 1}}
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "lakebox dashboard API", "version": getattr_version(),
                 "description": "Named queries, ad-hoc SQL, the catalog, runs and uploads of a lakebox lake. "
                                "Results are cached per data version. Errors are JSON "
                                "`{\"error\": {\"type\", \"message\"}}`. POST requests need the CSRF token "
                                "(`X-CSRF-Token`, from GET /api/csrf) unless they authenticate with a token header."},
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "Required when a token is configured."},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["type", "message"],
                    "properties": {"type": {"type": "string"}, "message": {"type": "string"},
                                   "line": {"type": "integer"}, "column": {"type": "integer"}}}}},
                "Result": {"type": "object", "properties": {
                    "columns": {"type": "array", "items": {"type": "object", "properties": {
                        "name": {"type": "string"}, "type": {"type": "string"}}}},
                    "rows": {"type": "array", "items": {"type": "array"}},
                    "row_count": {"type": "integer"}, "truncated": {"type": "boolean"},
                    "stats": {"type": "object", "properties": {
                        "time_ms": {"type": "number"}, "rows": {"type": "integer"},
                        "bytes_scanned": {"type": "integer"}}},
                    "execution_id": {"type": "string"}}},
            },
            "responses": {"Error": _ok("An error", {"$ref": "#/components/schemas/Error"})},
        },
        "paths": {
            "/healthz": {"get": {"summary": "Liveness and data version", "responses": {"200": _ok("Healthy")}}},
            "/api/version": {"get": {"summary": "The current data version (poll it to know when to refresh)",
                                     "responses": {"200": _ok("Version")}}},
            "/api/csrf": {"get": {"summary": "The CSRF token for POST requests",
                                  "responses": {"200": _ok("Token")}}},
            "/api/openapi.json": {"get": {"summary": "This document", "responses": {"200": _ok("OpenAPI 3.1")}}},
            "/api/overview": {"get": {"summary": "Key figures", "responses": {"200": _ok("Figures")}}},
            "/api/dashboard": {"get": {"summary": "Everything the page shows (overview, panels, pipeline)",
                                       "responses": {"200": _ok("Dashboard")}}},
            "/api/queries": {"get": {"summary": "The named queries with their SQL, chart hints and parameters",
                                     "responses": {"200": _ok("Named queries")}}},
            "/api/queries/{name}": {"get": {
                "summary": "Run a named query (cached per data version)",
                "parameters": [*params, limit,
                               {"name": "download", "in": "query", "schema": {"type": "string", "enum": ["1"]}}],
                "responses": {"200": _ok("Result", {"$ref": "#/components/schemas/Result"}),
                              "400": _ERR, "404": _ERR}}},
            "/api/queries/{name}.csv": {"get": {
                "summary": "The full result as Athena's result CSV",
                "parameters": params,
                "responses": {"200": _ok("CSV", {"type": "string"}, "text/csv"), "400": _ERR, "404": _ERR}}},
            "/api/sql": {"post": {
                "summary": "Run a read-only, time-limited, row-capped query (Athena SQL)",
                "security": [{"bearer": []}, {"csrf": []}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["sql"],
                    "properties": {"sql": {"type": "string", "maxLength": MAX_SQL_BYTES},
                                   "database": {"type": "string"}}}}}},
                "responses": {"200": _ok("Result", {"$ref": "#/components/schemas/Result"}),
                              "400": _ERR, "403": _ERR, "413": _ERR}}},
            "/api/tables": {"get": {"summary": "Catalog tables: schema, partitions, versions",
                                    "responses": {"200": _ok("Tables")}}},
            "/api/runs": {"get": {"summary": "Recent processing runs and row totals",
                                  "responses": {"200": _ok("Runs")}}},
            "/api/quarantine": {"get": {"summary": "Quarantined rows with their reasons",
                                        "responses": {"200": _ok("Rows")}}},
            "/api/failures": {"get": {"summary": "Dead-lettered events", "responses": {"200": _ok("Failures")}}},
            "/api/upload": {"post": {
                "summary": "Upload a CSV into raw/ and process it; the run result is returned",
                "security": [{"bearer": []}, {"csrf": []}],
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}}}}}},
                "responses": {"201": _ok("Stored and processed"), "400": _ERR, "403": _ERR, "413": _ERR}}},
        },
    }
    for path, ops in workbench_paths(_ok, _ERR).items():
        doc["paths"].setdefault(path, {}).update(ops)
    return doc


def getattr_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lakebox")
    except PackageNotFoundError:
        return "0"

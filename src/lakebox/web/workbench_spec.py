"""The OpenAPI description of the workbench endpoints (``web.workbench``), merged into ``/api/openapi.json``.

Kept apart from the blueprint so that ``web.openapi`` can include it without importing the API modules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lakebox.web.saved import NAME

#: Entries of ``GET /api/executions`` by default, and at most.
HISTORY_LIMIT = 50
HISTORY_MAX = 500


def openapi_paths(ok: Callable[..., dict[str, Any]], err: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """This blueprint's endpoints for ``/api/openapi.json`` (``ok(description, schema, media)`` builds a 200)."""
    execution = {"name": "execution_id", "in": "path", "required": True, "schema": {"type": "string"}}
    write: list[dict[str, list[str]]] = [{"bearer": []}, {"csrf": []}]
    return {
        "/api/completions": {"get": {"summary": "Completion data for the SQL editor: tables with columns, Trino "
                                                "function names", "responses": {"200": ok("Completions")}}},
        "/api/executions": {"get": {
            "summary": "The query history, newest first, one entry per distinct query",
            "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                        "maximum": HISTORY_MAX, "default": HISTORY_LIMIT}}],
            "responses": {"200": ok("History"), "400": err}}},
        "/api/executions/{execution_id}.csv": {"get": {
            "summary": "Every row of a past execution's query (run again, uncapped) as Athena's result CSV, streamed",
            "parameters": [execution],
            "responses": {"200": ok("CSV", {"type": "string"}, "text/csv"), "400": err, "404": err}}},
        "/api/executions/{execution_id}.json": {"get": {
            "summary": "Every row of a past execution's query (run again, uncapped) as JSON, streamed",
            "parameters": [execution], "responses": {"200": ok("Result"), "400": err, "404": err}}},
        "/api/queries": {"post": {
            "summary": "Save a query as a named query, stored in the lake and shown as a panel",
            "security": write,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["name", "title", "sql"],
                "properties": {"name": {"type": "string", "pattern": NAME.pattern}, "title": {"type": "string"},
                               "description": {"type": "string"}, "sql": {"type": "string"},
                               "chart": {"type": "object"},
                               "params": {"type": "object", "additionalProperties": {"type": "string"}}}}}}},
            "responses": {"201": ok("Saved"), "400": err, "403": err, "409": err}}},
        "/api/queries/{name}": {"delete": {
            "summary": "Delete a saved query (shipped queries cannot be deleted)", "security": write,
            "responses": {"200": ok("Deleted"), "403": err, "404": err, "409": err}}},
    }

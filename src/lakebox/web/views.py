"""View models: what the dashboard and its API show, built from the lake as plain JSON-ready dicts.

Nothing here knows about Flask or HTTP; ``web.api`` and ``web.app`` cache these and serialise them.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lakebox.catalog.base import Catalog
from lakebox.process.runs import RunLedger
from lakebox.query.base import QueryResult
from lakebox.query.named import NamedQuery
from lakebox.query.results import to_json_value
from lakebox.store.base import Store
from lakebox.trigger.deadletter import list_failed

log = logging.getLogger(__name__)

#: Runs one SQL statement on the lake's engine (``Dashboard.execute``) and returns its QueryResult.
Execute = Callable[..., QueryResult]

#: Rows of each panel embedded in the page (the table paginates them; the API and downloads give more).
PAGE_ROWS = 1000
#: Quarantined rows shown in the pipeline view (newest files first).
QUARANTINE_ROWS = 200
#: Runs shown in the pipeline view.
RECENT_RUNS = 25

OVERVIEW_SQL = """SELECT COUNT(*) AS orders,
       SUM(order_amount) AS revenue,
       AVG(order_amount) AS average_order_value,
       COUNT(DISTINCT customer_id) AS customers
FROM orders_processed"""


def html_safe_json(data: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``: no ``<``, ``>``, ``&`` or quotes raw."""
    text = json.dumps(data, separators=(",", ":"), default=str)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("'", "\\u0027"))


@dataclass
class Panel:
    """One named query's result at one data version, in the shapes the API and the page need."""

    data: dict[str, Any]
    status: int = 200
    json_bytes: bytes = b""
    page: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, data: dict[str, Any], status: int) -> Panel:
        page = dict(data)
        if len(data.get("rows", [])) > PAGE_ROWS:
            page["rows"] = data["rows"][:PAGE_ROWS]
            page["truncated"] = True
            page["shown_rows"] = PAGE_ROWS
        return cls(data=data, status=status, json_bytes=json.dumps(data, default=str).encode(), page=page)


def error_status(error: Mapping[str, object] | None) -> int:
    """HTTP status for a query error: user errors (category 2) are 400, system errors 500."""
    if not error:
        return 200
    return 400 if error.get("category", 2) == 2 else 500


def query_meta(q: NamedQuery) -> dict[str, Any]:
    return q.to_dict()


def run_panel(execute: Execute, q: NamedQuery, params: dict[str, str], max_rows: int) -> Panel:
    """Run a named query (params already checked) and build its panel view model."""
    sql = q.render(params)
    result = execute(sql, max_rows=max_rows, write_result=False)
    out = result.to_json()
    values = {p.name: params.get(p.name, p.default) for p in q.params}
    data: dict[str, Any] = {
        "name": q.name,
        "title": q.title,
        "params": values,
        "sql": sql,
        "chart": q.chart,
        "columns": out["columns"],
        "rows": out["rows"],
        "row_count": out["row_count"],
        "shown_rows": out["row_count"],
        "truncated": out["truncated"],
        "state": out["state"],
        "execution_id": out["execution_id"],
        "stats": summarize_stats(result.stats),
    }
    error = result.error.to_dict() if result.error is not None else None
    if error is not None:
        data["error"] = error
    return Panel.build(data, error_status(error))


def summarize_stats(stats: Mapping[str, object]) -> dict[str, Any]:
    """The execution stats the panels show: time, rows, bytes scanned (plus Athena's full record)."""
    return {
        "time_ms": stats.get("TotalExecutionTimeInMillis"),
        "rows": stats.get("Rows"),
        "bytes_scanned": stats.get("DataScannedInBytes"),
        "completed_at": stats.get("CompletionDateTime"),
        "athena": stats,
    }


def overview(ledger: RunLedger, execute: Execute) -> dict[str, Any]:
    """The key figures: orders, revenue, average order value, customers, share dropped/quarantined, last arrival."""
    result = execute(OVERVIEW_SQL, write_result=False)
    figures: dict[str, Any] = {"orders": 0, "revenue": 0, "average_order_value": None, "customers": 0}
    if result.state == "SUCCEEDED" and result.rows:
        row = result.rows[0]
        for col, value in zip(result.columns, row, strict=False):
            figures[col["name"]] = to_json_value(value)
        figures["revenue"] = figures["revenue"] or 0
    totals = ledger.totals()
    read = totals.get("rows_read", 0)
    removed = totals.get("rows_dropped", 0) + totals.get("rows_quarantined", 0)
    last = None
    for run in ledger.recent(RECENT_RUNS):
        if run.status == "ok" and run.finished_at and (last is None or run.finished_at > last):
            last = run.finished_at
    return {
        **figures,
        "rows_read": read,
        "rows_kept": totals.get("rows_kept", 0),
        "rows_dropped": totals.get("rows_dropped", 0),
        "rows_quarantined": totals.get("rows_quarantined", 0),
        "removed_share": (removed / read) if read else None,
        "files": totals.get("files", 0),
        "rejected_files": totals.get("rejected", 0),
        "last_arrival": last,
        "error": result.error.to_dict() if result.error and result.error.error_type != "TABLE_NOT_FOUND" else None,
        "empty": result.state != "SUCCEEDED",
    }


def runs(ledger: RunLedger, limit: int = RECENT_RUNS) -> dict[str, Any]:
    return {"runs": [r.to_dict() for r in ledger.recent(limit)], "totals": ledger.totals()}


def tables(catalog: Catalog) -> list[dict[str, Any]]:
    """Catalog tables with schema, partitions and versions (as Glue's GetTables / GetTableVersions show them)."""
    out = []
    for t in catalog.get_tables():
        d = t.to_dict()
        d.pop("files", None)
        versions = []
        try:
            for v in catalog.get_table_versions(t.database, t.name):
                versions.append({"version": v.version, "updated_at": v.updated_at,
                                 "columns": [{"name": c.name, "type": c.type} for c in v.columns]})
        except Exception:  # a catalog that cannot list versions (IAM, throttling) still shows the table
            log.exception("get_table_versions failed for %s.%s", t.database, t.name)
        d["versions"] = versions
        out.append(d)
    return out


def quarantine(store: Store, limit: int = QUARANTINE_ROWS) -> dict[str, Any]:
    """Quarantined rows with their reasons, newest files first, at most ``limit`` rows."""
    objs = sorted(store.list_objects_v2("quarantine/"), key=lambda o: o.modified, reverse=True)
    rows: list[dict[str, Any]] = []
    total_files = 0
    truncated = False
    for obj in objs:
        if not obj.key.endswith(".csv"):
            continue
        total_files += 1
        if len(rows) >= limit:
            truncated = True
            continue
        try:
            text = store.get_object(obj.key).decode("utf-8", errors="replace")
        except Exception:  # a file deleted between list and get is simply skipped
            log.exception("cannot read %s", obj.key)
            continue
        for rec in csv.DictReader(io.StringIO(text)):
            if len(rows) >= limit:
                truncated = True
                break
            source = {k: v for k, v in rec.items() if k not in ("line", "reason", "raw_line") and k is not None}
            rows.append({"file": obj.key, "line": rec.get("line"), "reason": rec.get("reason"),
                         "values": source, "raw_line": rec.get("raw_line") or ""})
    return {"rows": rows, "files": total_files, "truncated": truncated}


def failures(store: Store) -> list[dict[str, Any]]:
    """Dead-lettered events (files the watcher gave up on)."""
    try:
        items = list_failed(store)
    except Exception:  # noqa: BLE001 - the pipeline view must render even if the dead-letter store is unreadable
        log.exception("list_failed failed")
        return []
    out = []
    for item in items:
        out.append({k: item.get(k) for k in ("key", "error_type", "error", "attempts", "failed_at")})
    return out


def pipeline(ledger: RunLedger, catalog: Catalog, store: Store) -> dict[str, Any]:
    return {**runs(ledger), "quarantine": quarantine(store), "tables": tables(catalog), "failures": failures(store)}

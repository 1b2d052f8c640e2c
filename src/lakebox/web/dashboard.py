"""The dashboard's service object: what it uses of a lake, plus its cache, version and warmer.

``LakeServices`` is everything the dashboard touches, handed over by whoever composes it (the CLI builds it
from a ``Lake``): the web never reaches through a lake for more.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakebox.catalog.base import Catalog
from lakebox.config import Settings, parse_bytes
from lakebox.core.admission import Admission
from lakebox.core.errors import NotFoundError
from lakebox.core.runs import RunRecord
from lakebox.process.runs import RunLedger
from lakebox.query.base import QueryEngine, QueryResult
from lakebox.query.named import NamedQuery
from lakebox.query.retention import ResultSweeper, mark_named_latest
from lakebox.query.workers import EngineFactory, QueryWorkers
from lakebox.store.base import Store
from lakebox.web import views
from lakebox.web.cache import DataVersion, ResultCache, VersionGate, Warmer
from lakebox.web.saved import SavedQueries

#: Query-string keys that are options of the endpoint, not parameters of the query.
RESERVED_ARGS = frozenset({"limit", "download", "token", "_"})
#: Athena's limit on the length of a query string.
MAX_SQL_BYTES = 262_144

#: Lands an uploaded file in raw/ and processes it: (file name, save(path)) -> (raw key, run).
Upload = Callable[[str, Callable[[Path], None]], tuple[str, RunRecord]]


@dataclass(frozen=True)
class LakeServices:
    """What the dashboard uses of a lake.

    ``catalog`` is read only (tables, versions, databases, its data version); ``upload`` is the pipeline's
    way in for a file; ``on_processed`` registers a listener called after every processed file (the
    dashboard moves to a new data version there).
    """

    settings: Settings
    store: Store
    ledger: RunLedger
    engine: QueryEngine
    catalog: Catalog
    named_queries: Mapping[str, NamedQuery]
    upload: Upload
    on_processed: Callable[[Callable[[RunRecord], None]], None]
    #: Builds an engine in a query worker process (``query.workers``); None runs users' SQL in this process.
    worker_engine: EngineFactory | None = None
    #: Counts the results the query workers write, to keep enriched/ within the retention settings.
    result_sweeper: ResultSweeper | None = None


class NotFound(NotFoundError, code="NOT_FOUND"):
    """An unknown named query."""


class Dashboard:
    """Everything a request needs: cached view models at the current data version."""

    def __init__(self, services: LakeServices, *, cache_entries: int = 64) -> None:
        self.services = services
        self.settings = services.settings
        self.version = DataVersion(self._catalog_version)
        self.cache = ResultCache(self.version.current, max_entries=cache_entries)
        self.warmer = Warmer(self._warm_jobs, before_job=lambda: self.cache.wait_idle(timeout=5.0))
        self.gate = VersionGate(self._catalog_version)
        self.saved = SavedQueries(services.store, max_sql_bytes=MAX_SQL_BYTES)
        self._listeners: list[Callable[[RunRecord], None]] = []
        s = services.settings
        # Users' SQL waits for one of query_workers slots (a bounded queue, then 429); the wait is bounded by
        # the query timeout, so a waiter is answered about when the query ahead of it would time out.
        self.admission = Admission(s.query_workers, s.query_queue, max_wait=s.query_timeout)
        self.workers = (QueryWorkers(services.worker_engine, size=s.query_workers,
                                     memory_bytes=parse_bytes(s.query_worker_memory),
                                     default_timeout=s.query_timeout, sweeper=services.result_sweeper)
                        if services.worker_engine is not None else None)
        services.on_processed(self.data_changed)

    def _catalog_version(self) -> int:
        return int(self.services.catalog.data_version())

    def execute(self, sql: str, **kw: Any) -> QueryResult:
        """``engine.run_query`` through the version gate (see :class:`VersionGate`).

        The engine never closes a connection that other queries still use (it drops its reference and lets
        the last cursor close it), so a query meets no busy connection and needs no second attempt.
        """
        with self.gate.hold():
            return self.services.engine.run_query(sql, **kw)

    def execute_user(self, sql: str, *, database: str | None = None, max_rows: int | None = None,
                     timeout: float | None = None, write_result: bool = True) -> QueryResult:
        """Users' SQL (the editor, saved queries, re-downloads): admitted to one of ``query_workers`` slots
        (or refused with 429 when the queue is full, :class:`~lakebox.core.admission.TooManyQueries`), then
        run in a worker process whose time and memory are bounded (``query.workers``).

        The shipped named queries and the overview do not come here: their SQL is lakebox's own, their
        results are cached per data version, and they run in this process at no hand-over cost.
        """
        database = (database or self.settings.database).lower()
        timeout = timeout or self.settings.query_timeout
        with self.admission.slot():
            if self.workers is None:
                return self.execute(sql, database=database, max_rows=max_rows, timeout=timeout,
                                    write_result=write_result)
            return self.workers.run_query(sql, database, max_rows=max_rows, timeout=timeout,
                                          write_result=write_result)

    # --- freshness ------------------------------------------------------------------------------------

    def data_changed(self, run: RunRecord | None = None) -> None:
        """A file was processed: move to a new version and recompute the default views in the background."""
        self.version.bump()
        self.saved.invalidate()
        self.warmer.warm()

    def _warm_jobs(self) -> Iterable[Callable[[], Any]]:
        yield self.overview
        for name in self.queries:
            yield functools.partial(self.panel, name, {})
        yield self.pipeline

    def close(self) -> None:
        self.warmer.shutdown()
        if self.workers is not None:
            self.workers.close()

    # --- named queries --------------------------------------------------------------------------------

    @property
    def queries(self) -> dict[str, NamedQuery]:
        """The shipped named queries, then the ones saved from the editor."""
        shipped = self.services.named_queries
        return dict(shipped) | {n: q for n, q in self.saved.all().items() if n not in shipped}

    def query(self, name: str) -> NamedQuery:
        q = self.queries.get(name)
        if q is None:
            raise NotFound(f"no named query {name!r}; GET /api/queries lists them")
        return q

    def params_from(self, name: str, args: Mapping[str, str]) -> dict[str, str]:
        """Checked parameters for ``name`` from a query string (unknown keys and bad values raise ParamError)."""
        q = self.query(name)
        params = {k: v for k, v in args.items() if k not in RESERVED_ARGS}
        q.render(params)  # validates names and values
        return {p.name: params.get(p.name, p.default) for p in q.params}

    def panel(self, name: str, params: Mapping[str, str]) -> views.Panel:
        q = self.query(name)
        checked = {p.name: str(params.get(p.name, p.default)) for p in q.params}
        key: tuple[Any, ...] = ("panel", name, tuple(sorted(checked.items())))
        panel = self.cache.get(key, lambda: views.run_panel(self._runner(name), q, checked,
                                                              self.settings.max_result_rows))
        if panel.status >= 500:
            self.cache.discard(key)  # a system error is answered once, then retried, never cached
        return panel

    def csv_key(self, name: str, params: Mapping[str, str]) -> tuple[str | None, dict[str, Any] | None]:
        """Run the query uncapped and write Athena's result CSV; returns (object key, error)."""
        q = self.query(name)
        checked = {p.name: str(params.get(p.name, p.default)) for p in q.params}

        def run() -> tuple[str | None, dict[str, Any] | None]:
            result = self._runner(name)(q.render(checked), write_result=True)
            if result.error is not None:
                return None, result.error.to_dict()
            mark_named_latest(self.services.store, name, result.execution_id)
            return f"enriched/{result.execution_id}.csv", None

        cache_key = ("csv", name, tuple(sorted(checked.items())))
        key, err = self.cache.get(cache_key, run)
        if key is not None and not self.services.store.exists(key):
            # Collected by the result retention since it was cached (a named query's result for other
            # parameters than its latest): run it again.
            self.cache.discard(cache_key)
            key, err = self.cache.get(cache_key, run)
        return key, err

    def _runner(self, name: str) -> Callable[..., QueryResult]:
        """Shipped named queries run in-process; saved ones are users' SQL (:meth:`execute_user`)."""
        return self.execute if name in self.services.named_queries else self.execute_user

    # --- other views ----------------------------------------------------------------------------------

    def overview(self) -> dict[str, Any]:
        return self.cache.get("overview", lambda: views.overview(self.services.ledger, self.execute))

    def pipeline(self) -> dict[str, Any]:
        lake = self.services
        return self.cache.get("pipeline", lambda: views.pipeline(lake.ledger, lake.catalog, lake.store))

    def _panel_key(self, name: str) -> tuple[Any, ...]:
        q = self.query(name)
        return ("panel", name, tuple(sorted({p.name: p.default for p in q.params}.items())))

    def boot(self, wait: bool = True) -> dict[str, Any]:
        """Everything the page shows at first paint (panels with their default parameters).

        With ``wait=False`` a view not yet computed at the current version is ``None`` (the page fetches
        it from the API, and the warmer is computing it): the page itself never waits for a query.
        """
        version = self.version.current()
        if wait:
            overview: Any = self.overview()
            panels: dict[str, Any] = {name: self.panel(name, {}).page for name in self.queries}
            pipeline: Any = self.pipeline()
        else:
            overview = self.cache.peek("overview")
            panels = {}
            for name in self.queries:
                p = self.cache.peek(self._panel_key(name))
                panels[name] = p.page if p is not None else None
            pipeline = self.cache.peek("pipeline")
        return {"version": version, "overview": overview, "panels": panels, "pipeline": pipeline}

    def boot_json(self, wait: bool = True) -> str:
        """``boot()`` as HTML-safe JSON, serialised once per data version (when complete)."""
        v = self.version.current()
        done = self.cache.peek(("boot_json", v))
        if done is not None:
            return str(done)
        data = self.boot(wait=wait)
        complete = data["overview"] is not None and data["pipeline"] is not None and all(
            p is not None for p in data["panels"].values())
        if not complete:
            self.warmer.warm()
            return views.html_safe_json(data)
        return str(self.cache.get(("boot_json", v), lambda: views.html_safe_json(data | {"version": v}),
                                  version=v))

    def databases(self) -> list[str]:
        return self.services.catalog.get_databases()

    # --- ad-hoc SQL and uploads -----------------------------------------------------------------------

    def run_sql(self, sql: str, database: str | None) -> QueryResult:
        return self.execute_user(sql, database=database or None, max_rows=self.settings.max_result_rows,
                                 timeout=self.settings.query_timeout, write_result=True)

    def upload(self, filename: str, save: Callable[[Path], None]) -> tuple[str, RunRecord]:
        """Land an uploaded CSV in ``raw/`` under a sanitised name and process it like any other raw object."""
        key, run = self.services.upload(filename, save)
        if run.status != "ok":
            self.data_changed(run)  # ok runs already notified through on_processed
        return key, run


def dumps(data: Any) -> str:
    return json.dumps(data, default=str)

"""The embedded "Athena": Trino SQL over the catalog's tables, executed by DuckDB.

``DuckEngine`` implements :class:`~lakebox.query.base.QueryEngine` (Athena's actions) and keeps Athena's
artefacts: every query writes ``enriched/<execution-id>.csv`` in Athena's format plus
``enriched/<execution-id>.csv.metadata`` (JSON here; Athena's is binary) holding state, timings, rows and
bytes scanned. The metadata files are the query history.

``start_query_execution`` runs the query on a small thread pool and returns its id at once, as Athena does;
``run_query`` (the blocking convenience the CLI, dashboard and named queries use) runs the same execution on
the caller's thread, so it costs no hand-over. Bytes scanned (``DataScannedInBytes``) is what DuckDB's
profiler counts: the compressed column data read after partition pruning, column pruning and row groups
skipped by their statistics, which is what Athena bills for Parquet (Athena's 10 MB minimum is not applied).
Where no profiled cursor is free, or a query reads no column data (``COUNT(*)`` from Parquet metadata), it is
the size of the tables' files, an upper bound.

Partitioned tables whose files all sit in ``key=value`` folders are read with DuckDB's hive reader, so a
filter on a partition column skips the other partitions' files.

Security: the catalog's tables are views in their own attached database (``query.statement.VIEW_DATABASE``),
which translated SQL names in full, so no query names DuckDB's own catalogs or a file. Each DuckDB
connection may read only the lake's table folders (``allowed_directories``), with external access disabled
and the configuration locked, so SQL cannot read other files, COPY, ATTACH, INSTALL, LOAD or SET, even if it
got past the read-only guard in ``query.dialect``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

import duckdb

from lakebox.catalog.base import Catalog
from lakebox.catalog.crawler import TableDef
from lakebox.catalog.views import is_view, view_sql
from lakebox.config import Settings
from lakebox.core.sql import quote_ident, quote_literal
from lakebox.query.base import (
    MAX_LIST_PAGE,
    MAX_RESULTS_PAGE,
    CatalogView,
    Datum,
    QueryExecution,
    QueryExecutionIdsPage,
    QueryExecutionsBatch,
    QueryResult,
    QueryResultsPage,
    UnprocessedQueryExecutionId,
    check_page_size,
    error_record,
    page_offset,
    page_token,
)
from lakebox.query.deadlines import Interrupter
from lakebox.query.errors import AthenaError
from lakebox.query.fetching import fetch_rows
from lakebox.query.results import athena_csv, athena_type, read_athena_csv
from lakebox.query.retention import ResultSweeper
from lakebox.query.statement import (
    CATALOG_NAME,
    SERDE_PARAM,
    VIEW_DATABASE,
    Translation,
    changes_catalog,
    is_ddl,
    view_name,
)
from lakebox.query.translation_cache import TranslationCache, catalog_key
from lakebox.query.trino_install import InstalledMacros
from lakebox.store.base import InvalidKeyError, NoSuchKeyError, Store

# The translator (query.dialect, query.ddl and query.trino: sqlglot) is imported where it is used, not here:
# a query whose translation is cached (query.translation_cache) runs without it.
if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from lakebox.query.ddl_engine import DuckDdlHost

ENRICHED = "enriched/"
log = logging.getLogger("lakebox.query.engine")
#: Staging files DuckDB writes before they are renamed into enriched/: hidden, so no lister counts them.
_STAGING_PREFIX = ".lakebox-result-"


@dataclass
class _Execution:
    """One execution: what GetQueryExecution reports until its record is written, and the events by which
    StopQueryExecution interrupts it."""

    execution_id: str
    sql: str
    database: str
    submitted: dt.datetime
    cancelled: threading.Event = field(default_factory=threading.Event)
    #: Whether this execution may change the catalog (DDL): the Athena API and ``lakebox query`` yes, when the
    #: ``allow_ddl`` setting says so; the dashboard never.
    ddl_allowed: bool = False

    def record(self) -> QueryExecution:
        return {
            "QueryExecutionId": self.execution_id,
            "Query": self.sql,
            "StatementType": "DML",
            "QueryExecutionContext": {"Database": self.database, "Catalog": CATALOG_NAME},
            "Status": {"State": "RUNNING", "SubmissionDateTime": self.submitted.isoformat()},
            "Statistics": {},
        }


def new_execution_id() -> str:
    return str(uuid.uuid4())


#: Cursors per connection with DuckDB's profiler on (it must be switched on before the configuration is
#: locked); queries beyond that many at once run on plain cursors.
PROFILED_CURSORS = 8


class DuckEngine:
    """Runs Athena SQL against a lake's catalog with DuckDB."""

    def __init__(self, settings: Settings, store: Store, catalog: CatalogView, *,
                 sweeper: ResultSweeper | None = None, concurrency: int = PROFILED_CURSORS) -> None:
        """``concurrency``: how many queries this engine is expected to run at once (its profiled cursors,
        made with each connection: each costs a fraction of a millisecond). A one-shot command or a query
        worker runs one; beyond the number, queries still run, with bytes scanned estimated."""
        self.settings = settings
        self.store = store
        self.catalog = catalog
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._running: dict[str, _Execution] = {}
        self._db: duckdb.DuckDBPyConnection | None = None
        self._db_version: int | None = None
        self._tables: dict[tuple[str, str], TableDef] = {}
        self._broken: dict[tuple[str, str], str] = {}
        self._deadlines = Interrupter()
        processed = store.local_path("processed/")
        self._translations = TranslationCache(
            processed.parent / "_lakebox" / "cache" / "translations" if processed is not None else None)
        self._catalog_keys: tuple[int | None, str] = (None, "")
        #: Creating a macro is serialised engine-wide: two cursors replacing the same one at once conflict.
        self._macro_lock = threading.Lock()
        self._macros: tuple[int | None, InstalledMacros] = (None, InstalledMacros(self._macro_lock))
        self._concurrency = max(1, concurrency)
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        #: id of each profiled cursor -> the data version of the connection it belongs to.
        self._profiled: dict[int, int | None] = {}
        #: Unprofiled cursors for statements that read no table, kept like the profiled ones: a cursor's
        #: first statement costs DuckDB more than a SELECT 1.
        self._plain: list[duckdb.DuckDBPyConnection] = []
        self._plain_ids: dict[int, int | None] = {}
        #: Keeps enriched/ within result_retention_days and result_max_mb as results are written. One per lake
        #: and process (``Lake.result_sweeper``); a query worker's engine has none: the server, which sees
        #: every worker's results, counts them.
        self.sweeper = sweeper

    # --- the DuckDB side -------------------------------------------------------------------------------

    def _root(self) -> Path:
        root = self.store.local_path("processed/")
        if root is None:
            raise AthenaError("NOT_SUPPORTED", "the duckdb engine needs a local lake; use --engine athena for s3://")
        return root.parent

    def _table_source(self, t: TableDef, root: Path) -> str:
        """A SELECT over the table's files. Partition columns are cut from each file's path relative to the
        table root (``k=v`` gives v, any other folder its name), as Athena reads Glue partitions; DuckDB's
        own hive reader would refuse plain folders and files at mixed depths."""
        base = root / t.location
        # The catalog's file list, not a glob: Athena skips hidden (_ and .) files and folders, and the crawler
        # recorded exactly the files it counted.
        files = [str(root / f) for f in t.files]
        listing = "[" + ", ".join(quote_literal(f) for f in files) + "]"
        file_col = "_lakebox_file" if t.partition_keys else None
        with_file = f", filename={quote_literal(file_col)}" if file_col else ""
        if t.format == "parquet" and _hive_layout(t):
            # Every file sits in k=v folders named after the partition keys: DuckDB's hive reader then skips
            # the files of partitions a filter excludes (partition pruning), which the path-cutting below
            # cannot. Values stay text, as Glue's partition values are.
            data = ", ".join(quote_ident(c.name) for c in t.columns)
            keys = ", ".join(quote_ident(k.name) for k in t.partition_keys)
            return (f"SELECT {data}, {keys} FROM read_parquet({listing}, hive_partitioning=true, "
                    "hive_types_autocast=false, union_by_name=true)")
        if t.format == "parquet":
            source = f"read_parquet({listing}, hive_partitioning=false, union_by_name=true{with_file})"
        elif SERDE_PARAM in t.parameters or t.format == "json":
            source = _serde_source(t, listing, with_file)
        else:
            cols = "{" + ", ".join(f"{quote_literal(c.name)}: {quote_literal(_duck_type(c.type))}"
                                   for c in t.columns) + "}"
            header = t.parameters.get("skip.header.line.count", "1") == "1"
            source = (f"read_csv({listing}, header={str(header).lower()}, columns={cols}, "
                      f"delim={quote_literal(t.parameters.get('field.delim', ','))}, hive_partitioning=false, "
                      f"auto_detect=false, strict_mode=false, null_padding=true, ignore_errors=true{with_file})")
        if not file_col:
            return f"SELECT * FROM {source}"
        parts = f"string_split(substr({file_col}, {len(str(base)) + 2}), '/')"
        # A partition value comes from the path, never from a same-named column inside the files; files above
        # the partition depth get '' as the crawler records them.
        keys = ", ".join(
            f"CASE WHEN len({parts}) > {i + 1} THEN regexp_replace({parts}[{i + 1}], '^[^=]*=', '') ELSE '' END "
            f"AS {quote_ident(k.name)}"
            for i, k in enumerate(t.partition_keys)
        )
        data = ", ".join(quote_ident(c.name) for c in t.columns)
        return f"SELECT {data}, {keys} FROM {source}"

    def _connection(self) -> duckdb.DuckDBPyConnection:
        """A locked-down connection with one view per catalog table, rebuilt when the catalog changes.

        A table whose files DuckDB cannot read gets no view; queries on it fail with the reason, and every
        other table keeps working.
        """
        version = self.catalog.data_version()
        with self._lock:
            if self._db is not None and self._db_version == version:
                return self._take_cursor()
            root = self._root()
            scratch = root / "_lakebox" / "tmp"
            (scratch / "results").mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(":memory:")
            con.execute("SET TimeZone = 'UTC'")
            con.execute(f"SET memory_limit = {quote_literal(self.settings.memory_limit)}")
            # Spills go under the lake (never the working directory) and are capped, so one runaway query
            # cannot fill the disk.
            con.execute(f"SET temp_directory = {quote_literal(str(scratch / 'query'))}")
            con.execute("SET max_temp_directory_size = '4GB'")
            if self.settings.threads:
                con.execute(f"SET threads = {int(self.settings.threads)}")
            tables = {(t.database, t.name): t for t in self.catalog.get_tables()}
            broken: dict[tuple[str, str], str] = {}
            # The catalog's views live in their own database, which holds nothing else: translated SQL names
            # every table there in full (query.relations), so no name can reach DuckDB's own catalogs.
            con.execute(f"ATTACH ':memory:' AS {quote_ident(VIEW_DATABASE)}")
            for (db, name), t in tables.items():
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(VIEW_DATABASE)}.{quote_ident(db)}")
                if is_view(t):
                    continue
                try:
                    # A table whose location holds no files reads as empty, as on Athena.
                    source = self._table_source(t, root) if t.files else _empty_source(t)
                    con.execute(f"CREATE OR REPLACE VIEW {view_name(db, name)} AS {source}")
                except duckdb.Error as exc:
                    broken[(db, name)] = str(exc).strip().splitlines()[0]
            # The Trino macros are created as statements call them: all of them cost more than most queries.
            macros = InstalledMacros(self._macro_lock)
            self._create_views(con, tables, broken, macros)
            # Table folders to read, and the staging folder where DuckDB itself writes result CSVs before they
            # are renamed into enriched/ (user SQL cannot COPY: the read-only guard refuses it first).
            dirs = sorted({str(root / t.location) + "/" for t in tables.values()} | {str(scratch / "results") + "/"})
            con.execute(f"SET allowed_directories = [{', '.join(quote_literal(d) for d in dirs)}]")
            con.execute("SET enable_external_access = false")
            con.execute("SET autoinstall_known_extensions = false")
            con.execute("SET autoload_known_extensions = false")
            cursors = _profiled_cursors(con, self._concurrency)
            con.execute("SET lock_configuration = true")
            # The previous connection is not closed here: queries on other threads may still be using its
            # cursors. Dropping the reference lets it close when the last of them finishes.
            self._db, self._db_version, self._tables, self._broken = con, version, tables, broken
            self._cursors = cursors
            self._profiled = {id(c): version for c in cursors}
            self._plain, self._plain_ids = [], {}
            self._macros = (version, macros)
            return self._take_cursor()

    def _take_cursor(self) -> duckdb.DuckDBPyConnection:
        """A profiled cursor of the current connection if one is free (the caller holds the lock), else a
        plain one: bytes scanned are then estimated from file sizes."""
        if self._cursors:
            return self._cursors.pop()
        assert self._db is not None
        return self._db.cursor()

    def _plain_cursor(self) -> duckdb.DuckDBPyConnection:
        """An unprofiled cursor of the current connection, from its pool if one is free."""
        with self._lock:
            if self._plain:
                return self._plain.pop()
            assert self._db is not None
            cur = self._db.cursor()
            self._plain_ids[id(cur)] = self._db_version
            return cur

    def _give_back(self, cur: duckdb.DuckDBPyConnection) -> None:
        """Return a pooled cursor to its pool, unless the connection was rebuilt since it was taken."""
        with self._lock:
            if id(cur) in self._profiled and self._profiled[id(cur)] == self._db_version:
                self._cursors.append(cur)
            elif (id(cur) in self._plain_ids and self._plain_ids[id(cur)] == self._db_version
                  and len(self._plain) < self._concurrency):
                self._plain.append(cur)

    def _create_views(self, con: duckdb.DuckDBPyConnection, tables: dict[tuple[str, str], TableDef],
                      broken: dict[tuple[str, str], str], macros: InstalledMacros) -> None:
        """One DuckDB view per catalog view, its Trino SQL translated as a query would be. Views over views
        are created in rounds until none can be added; the rest (and views that do not translate) are
        broken, so querying them fails with the reason while everything else works."""
        columns = {k: [(c.name, c.type) for c in [*t.columns, *t.partition_keys]] for k, t in tables.items()}

        def resolve(database: str | None, name: str) -> tuple[str, str] | None:
            key = ((database or self.settings.database).lower(), name.lower())
            return key if key in tables else None

        pending = {k: t for k, t in tables.items() if is_view(t)}
        reasons: dict[tuple[str, str], str] = {}
        while pending:
            created = False
            for key, t in list(pending.items()):
                try:
                    from lakebox.query.dialect import translate

                    tr = translate(view_sql(t), resolve, t.database, columns)
                    macros.ensure(con, tr.sql)
                    con.execute(f"CREATE OR REPLACE VIEW {view_name(*key)} AS {tr.sql}")
                except (AthenaError, duckdb.Error, ValueError) as exc:
                    reasons[key] = str(exc).strip().splitlines()[0]
                    continue
                del pending[key]
                created = True
            if not created:
                break
        broken.update({k: reasons[k] for k in pending})

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the current connection (rebuilt when the catalog changed), with every Trino macro
        created, for SQL translated elsewhere (DDL's CTAS and views)."""
        cur = self._connection()
        self._macros_for(cur).ensure_all(cur)
        return cur

    def _macros_for(self, cur: duckdb.DuckDBPyConnection) -> InstalledMacros:
        """The macros created on ``cur``'s database: known for the current connection's profiled cursors; for
        any other cursor a fresh record, so that what it needs is created (again, harmlessly) on it."""
        with self._lock:
            version, macros = self._macros
            if id(cur) in self._profiled and self._profiled[id(cur)] == version == self._db_version:
                return macros
        return InstalledMacros(self._macro_lock)

    def staging_dir(self) -> Path:
        """The one folder this engine's DuckDB may write into (result and CTAS staging)."""
        return self._root() / "_lakebox" / "tmp" / "results"

    def _ddl_host(self) -> DuckDdlHost:
        from lakebox.query.ddl_engine import DuckDdlHost, LakeLocations

        if not isinstance(self.catalog, Catalog):
            raise AthenaError("NOT_SUPPORTED", "this engine's catalog is read-only: DDL needs the lake's catalog")
        return DuckDdlHost(self, self.catalog, LakeLocations(self.store, self.settings.endpoint_bucket))

    def catalog_columns(self) -> dict[tuple[str, str], list[tuple[str, str]]]:
        """Columns (then partition keys) of every table, for information_schema and Trino's type checks."""
        return {k: [(c.name, c.type) for c in [*t.columns, *t.partition_keys]] for k, t in self._tables.items()}

    def resolve(self, database: str | None, name: str) -> tuple[str, str] | None:
        db = (database or self.settings.database).lower()
        key = (db, name.lower())
        if key in self._broken:
            raise AthenaError("HIVE_CANNOT_OPEN_SPLIT",
                              f"Table '{CATALOG_NAME}.{db}.{key[1]}' cannot be read: {self._broken[key]}")
        if key in self._tables:
            return key
        if self.catalog.get_table(db, name.lower()) is not None:
            return key
        return None

    # --- Athena's actions ------------------------------------------------------------------------------

    def start_query_execution(self, sql: str, database: str | None = None) -> str:
        """StartQueryExecution: check the query is read-only, then run it on the engine's pool."""
        database = (database or self.settings.database).lower()
        if is_ddl(sql):
            _check_ddl_allowed(sql, self.settings.allow_ddl)
        else:
            from lakebox.query.dialect import check_statement

            check_statement(sql, database)
        run = _Execution(new_execution_id(), sql, database, dt.datetime.now(dt.UTC),
                         ddl_allowed=self.settings.allow_ddl)
        with self._lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor  # run_query (the CLI's) needs no pool

                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lakebox-query")
            self._running[run.execution_id] = run
            self._pool.submit(self._run_submitted, run)
        return run.execution_id

    def _run_submitted(self, run: _Execution) -> None:
        try:
            self._run(run, max_rows=None, timeout=None, write_result=True)
        except Exception:  # a pool thread has no caller to raise to; the execution then reads as not found
            log.exception("query execution %s could not be recorded", run.execution_id)
        finally:
            with self._lock:
                self._running.pop(run.execution_id, None)

    def run_query(
        self,
        sql: str,
        database: str | None = None,
        *,
        max_rows: int | None = None,
        timeout: float | None = None,
        write_result: bool = True,
        allow_ddl: bool = False,
        execution_id: str | None = None,
    ) -> QueryResult:
        """Run a query to completion on this thread; failures come back as state FAILED with an Athena error,
        not raised (see :meth:`QueryEngine.run_query <lakebox.query.base.QueryEngine.run_query>`).
        ``execution_id`` is given by a caller that runs the query in a worker process (``query.workers``) and
        must be able to record it if the worker dies."""
        database = (database or self.settings.database).lower()
        run = _Execution(execution_id or new_execution_id(), sql, database, dt.datetime.now(dt.UTC),
                         ddl_allowed=allow_ddl and self.settings.allow_ddl)
        return self._run(run, max_rows=max_rows, timeout=timeout, write_result=write_result)

    def _run(self, run: _Execution, *, max_rows: int | None, timeout: float | None,
             write_result: bool) -> QueryResult:
        """One execution from translation to its artefacts."""
        exec_id, database = run.execution_id, run.database
        t0 = time.perf_counter()
        result = QueryResult(execution_id=exec_id, sql=run.sql, database=database)
        planning_ms = 0.0
        tr: Translation | None = None
        taken: duckdb.DuckDBPyConnection | None = None
        try:
            cur = self._connection()
            taken = cur
            if is_ddl(run.sql):
                self._run_ddl(run, result)
                tr = None
            else:
                tr = self._translate(run.sql, database)
                if not tr.tables and id(cur) in self._profiled:
                    # Nothing to count as scanned: a plain cursor runs it without the profiler's cost.
                    self._give_back(cur)
                    cur = taken = self._plain_cursor()
            planning_ms = (time.perf_counter() - t0) * 1000
            scanned = None
            if tr is None:
                pass
            elif tr.kind in ("show", "describe"):
                self._answer_from_catalog(tr, database, result)
            else:
                scanned = self._execute(cur, tr, result, max_rows, timeout or self.settings.query_timeout,
                                        csv_key=f"{ENRICHED}{exec_id}.csv" if write_result else None, run=run)
            # A query DuckDB answers from Parquet metadata alone (COUNT(*)) reads no column data; Athena still
            # reports bytes for it, so it gets the tables' size (the upper bound) rather than 0.
            result.stats["DataScannedInBytes"] = scanned if scanned else sum(
                self._tables[t].size_bytes for t in tr.tables if t in self._tables) if tr else 0
        except AthenaError as exc:
            result.state, result.error = "FAILED", exc
        except duckdb.Error as exc:
            from lakebox.query.duck_errors import from_duckdb

            result.state, result.error = "FAILED", from_duckdb(exc, tr.source if tr else None)
        if taken is not None:
            self._give_back(taken)
        if run.cancelled.is_set():
            result.state, result.error = "CANCELLED", AthenaError("QUERY_CANCELLED", "Query was cancelled")
        total_ms = (time.perf_counter() - t0) * 1000
        result.stats.update({
            "EngineExecutionTimeInMillis": round(total_ms - planning_ms, 2),
            "QueryPlanningTimeInMillis": round(planning_ms, 2),
            "QueryQueueTimeInMillis": 0,
            "TotalExecutionTimeInMillis": round(total_ms, 2),
            "SubmissionDateTime": run.submitted.isoformat(),
            "CompletionDateTime": dt.datetime.now(dt.UTC).isoformat(),
            "Rows": result.row_count,
        })
        result.stats.setdefault("DataScannedInBytes", 0)
        if write_result:
            self._write_artefacts(result)
        return result

    def _translate(self, sql: str, database: str) -> Translation:
        """``sql`` translated for DuckDB, from the cache when this query was translated before against the
        same catalog (see :mod:`lakebox.query.translation_cache`), else by ``query.dialect``."""
        with self._lock:
            tables, broken, version = self._tables, self._broken, self._db_version
            known_version, key = self._catalog_keys
        # What translation reads of the catalog, from one snapshot of it (the connection's tables).
        columns = {k: [(c.name, c.type) for c in [*t.columns, *t.partition_keys]] for k, t in tables.items()}
        if known_version != version or not key:
            key = catalog_key(columns, broken)
            with self._lock:
                self._catalog_keys = (version, key)
        tr = self._translations.get(sql, database, key)
        # The tables it read must still resolve to themselves (they do, unless the catalog changed under a
        # running query); otherwise translate again, with the resolver's own error.
        if tr is not None and all(self.resolve(db, name) == (db, name) for db, name in tr.tables):
            return tr
        from lakebox.query.dialect import translate

        tr = translate(sql, self.resolve, database, columns)
        # Kept only when every table came from the snapshot the key describes (not from the catalog itself,
        # which resolve() falls back to for a table created since the connection was built).
        if all(t in tables for t in tr.tables):
            self._translations.put(sql, database, key, tr)
        return tr

    def stop_query_execution(self, execution_id: str) -> None:
        """StopQueryExecution: interrupt a running query (it ends CANCELLED); a finished one stays as it is."""
        with self._lock:
            run = self._running.get(execution_id)
        if run is None:
            self.get_query_execution(execution_id)  # an unknown id is an error, as on Athena
            return
        run.cancelled.set()
        self._deadlines.poke()

    def _execute(self, cur: duckdb.DuckDBPyConnection, tr: Translation, result: QueryResult,
                 max_rows: int | None, timeout: float, csv_key: str | None, run: _Execution) -> int | None:
        """Run the query and fetch (up to ``max_rows``) rows with DuckDB's own fetch.

        Only when a result file is wanted, and the result may be large, does it go through a temp table, from
        which DuckDB writes Athena's result CSV when the column types allow (see :meth:`_copy_csv`): the rows
        are computed once and both the caller and the file get them. Without a result file (the dashboard's
        views), or when the query returns at most :data:`SMALL_RESULT` rows (its LIMIT, ``max_rows``, or one
        aggregate row), the rows are fetched straight from its execution, with no copy, and a result file is
        written from those same rows (by ``_write_artefacts``)."""
        token = self._deadlines.watch(cur, timeout, run.cancelled)
        scanned: int | None = None
        select = tr.kind == "select"
        bounds = [b for b in (tr.row_bound, max_rows) if b is not None]
        small = bool(bounds) and min(bounds) <= SMALL_RESULT
        staged = f"_lakebox_result_{uuid.uuid4().hex}" if select and csv_key and not small else None
        try:
            # A capped query computes only what it may return (plus one row to detect truncation), so a huge
            # result never has to be materialized; its result file then holds the capped rows.
            limit = f" LIMIT {int(max_rows) + 1}" if max_rows is not None and select else ""
            body = f"SELECT * FROM ({tr.sql}){limit}" if limit else tr.sql
            self._macros_for(cur).ensure(cur, tr.sql)
            if staged:
                cur.execute(f"CREATE TEMP TABLE {staged} AS {body}")
                scanned = self._scanned(cur) if tr.tables else 0
            rel = cur.execute(f"SELECT * FROM {staged}" if staged else body)
            desc = rel.description or []
            names = [d[0] for d in desc]
            if tr.output_names and len(tr.output_names) == len(names):
                names = tr.output_names
            types = [athena_type(str(d[1])) for d in desc]
            rows, result.truncated = fetch_rows(rel, max_rows)
            if not staged:
                scanned = self._scanned(cur) if tr.tables else 0  # no table read: nothing scanned
            if staged and csv_key:
                result.csv_written = self._copy_csv(cur, staged, [d[0] for d in desc], names, types, csv_key,
                                                    max_rows)
        except duckdb.InterruptException:
            if run.cancelled.is_set():
                raise AthenaError("QUERY_CANCELLED", "Query was cancelled") from None
            raise AthenaError("QUERY_TIMEOUT", f"Query exceeded the {timeout:g} s time limit and was cancelled") from None
        finally:
            self._deadlines.release(token)
            if staged:
                cur.execute(f"DROP TABLE IF EXISTS {staged}")
        result.columns = [{"name": n, "type": t} for n, t in zip(names, types, strict=True)]
        result.rows = rows
        result.row_count = len(rows)
        return scanned

    def _scanned(self, cur: duckdb.DuckDBPyConnection) -> int | None:
        """Bytes of (compressed) column data the last statement on ``cur`` read, from DuckDB's profiler:
        what Athena bills for Parquet, after partition pruning, column pruning and row groups skipped by
        their min/max statistics. None for an unprofiled cursor."""
        if id(cur) not in self._profiled:
            return None
        info = json.loads(cur.get_profiling_information(format="json"))
        value = info.get("query", {}).get("total_bytes_scanned")
        return int(value) if isinstance(value, int | float) else None

    def _copy_csv(self, cur: duckdb.DuckDBPyConnection, table: str, cols: list[str], names: list[str],
                  types: list[str], key: str, max_rows: int | None = None) -> bool:
        """Write Athena's result CSV with DuckDB's own writer: every value quoted, NULL empty, ``\n``.

        DuckDB renders varchar, integers, decimals, dates and booleans exactly as Trino does, and doubles too
        inside [1e-3, 1e7), where Java's ``Double.toString`` uses plain notation. Timestamps get Trino's
        millisecond form. Anything else (arrays, maps, doubles outside that range) returns False, and the
        Python renderer in ``query.results`` writes the file instead.
        """
        simple = ("varchar", "bigint", "integer", "smallint", "tinyint", "date", "boolean", "decimal(")
        exprs: list[str] = []
        for col, name, typ in zip(cols, names, types, strict=True):
            src = quote_ident(col)
            if typ.startswith(simple):
                exprs.append(f"{src} AS {quote_ident(name)}")
            elif typ == "double":
                cast = f"CAST({src} AS DOUBLE)"
                out_of_range = cur.execute(
                    f"SELECT count(*) FROM {table} WHERE {src} IS NOT NULL AND NOT ({cast} = 0 OR "
                    f"(abs({cast}) >= 0.001 AND abs({cast}) < 10000000))"
                ).fetchone()
                if out_of_range and out_of_range[0]:
                    return False
                exprs.append(f"{src} AS {quote_ident(name)}")
            elif typ == "timestamp(3)":
                exprs.append(f"strftime({src}, '%Y-%m-%d %H:%M:%S.%g') AS {quote_ident(name)}")
            else:
                return False
        if len({n.lower() for n in names}) != len(names):
            return False
        limit = f" LIMIT {int(max_rows)}" if max_rows is not None else ""
        dest = self.store.local_path(key)
        if dest is None:
            return False
        path = self._root() / "_lakebox" / "tmp" / "results" / f"{_STAGING_PREFIX}{uuid.uuid4().hex}.csv"
        try:
            cur.execute(f"COPY (SELECT {', '.join(exprs)} FROM {table}{limit}) TO {quote_literal(str(path))} "
                        "(FORMAT csv, FORCE_QUOTE *, HEADER true, NEW_LINE '\n')")
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, dest)  # same file system: readers see no file or the whole file
        finally:
            path.unlink(missing_ok=True)
        return True

    def _run_ddl(self, run: _Execution, result: QueryResult) -> None:
        """A DDL statement (see :mod:`lakebox.query.ddl`); one that changes the catalog only when allowed."""
        if changes_catalog(run.sql) and not run.ddl_allowed:
            _check_ddl_allowed(run.sql, False if not self.settings.allow_ddl else None)
        from lakebox.query.ddl import run_ddl

        self._connection()  # the tables and views DDL resolves against are the catalog's current ones
        out = run_ddl(self._ddl_host(), run.sql, run.database)
        result.columns = [{"name": n, "type": "varchar"} for n in out.columns]
        result.rows = [list(r) for r in out.rows]
        result.row_count = len(out.rows)
        result.statement_type = out.statement_type

    def _answer_from_catalog(self, tr: Translation, database: str, result: QueryResult) -> None:
        from lakebox.query.show import answer_from_catalog

        names, rows = answer_from_catalog(self.catalog, tr.sql, database)
        result.columns = [{"name": n, "type": "varchar"} for n in names]
        result.rows = rows
        result.row_count = len(rows)

    def record(self, result: QueryResult) -> None:
        """Write the result file and metadata of an execution that ran elsewhere and could not write them
        (a query worker killed at its deadline or out of memory: ``query.workers``)."""
        self._write_artefacts(result)

    def _write_artefacts(self, result: QueryResult) -> None:
        key = f"{ENRICHED}{result.execution_id}.csv"
        written = 0
        if result.state == "SUCCEEDED" and result.csv_written:
            result.result_location = self.store.url.rstrip("/") + "/" + key
            written = self.store.head_object(key).size
        elif result.state == "SUCCEEDED":
            body = "".join(athena_csv([c["name"] for c in result.columns], [c["type"] for c in result.columns],
                                      result.rows)).encode("utf-8")
            written = self.store.put_object(key, body).size
            result.result_location = self.store.url.rstrip("/") + "/" + key
        meta = {
            "QueryExecutionId": result.execution_id,
            "Query": result.sql,
            "StatementType": result.statement_type,
            "QueryExecutionContext": {"Database": result.database, "Catalog": CATALOG_NAME},
            "ResultConfiguration": {"OutputLocation": result.result_location},
            "Status": {
                "State": result.state,
                "SubmissionDateTime": result.stats.get("SubmissionDateTime"),
                "CompletionDateTime": result.stats.get("CompletionDateTime"),
                **({"StateChangeReason": str(result.error), "AthenaError": error_record(result.error)}
                   if result.error else {}),
            },
            "Statistics": {k: v for k, v in result.stats.items() if k.endswith(("Millis", "Bytes"))},
            "ResultSetMetadata": {"ColumnInfo": [{"Name": c["name"], "Label": c["name"], "Type": c["type"]}
                                                 for c in result.columns]},
            "RowCount": result.row_count,
            "Truncated": result.truncated,
        }
        written += self.store.put_object(key + ".metadata", json.dumps(meta, indent=1, default=str).encode()).size
        result.result_bytes = written
        if self.sweeper is not None:
            self.sweeper.wrote(result.execution_id, written)

    def get_query_execution(self, execution_id: str) -> QueryExecution:
        """GetQueryExecution: the record of a running execution, else its metadata file."""
        with self._lock:
            run = self._running.get(execution_id)
        if run is not None:
            return run.record()
        try:
            body = self.store.get_object(f"{ENRICHED}{execution_id}.csv.metadata")
        except (NoSuchKeyError, InvalidKeyError):
            raise AthenaError("InvalidRequestException",
                              f"QueryExecution {execution_id} was not found") from None
        return cast(QueryExecution, json.loads(body))

    def get_query_results(
        self, execution_id: str, max_results: int = MAX_RESULTS_PAGE, next_token: str | None = None
    ) -> QueryResultsPage:
        """GetQueryResults from the result file: the header row first, then the values as Athena's text."""
        check_page_size(max_results, MAX_RESULTS_PAGE)
        execution = self.get_query_execution(execution_id)
        state = execution.get("Status", {}).get("State")
        if state != "SUCCEEDED":
            raise AthenaError("InvalidRequestException",
                              f"Query has not yet finished. Current state: {state}" if state == "RUNNING" else
                              f"Query did not finish successfully. Final query state: {state}")
        rows = read_athena_csv(self.store.get_object(f"{ENRICHED}{execution_id}.csv").decode("utf-8"))
        start = page_offset(next_token)
        end = min(start + max_results, len(rows))
        page: QueryResultsPage = {
            "ResultSet": {
                "Rows": [{"Data": [_datum(v) for v in row]} for row in rows[start:end]],
                "ResultSetMetadata": execution.get("ResultSetMetadata") or {"ColumnInfo": []},
            },
            "UpdateCount": 0,
        }
        token = page_token(end, len(rows))
        if token is not None:
            page["NextToken"] = token
        return page

    def list_query_executions(
        self, max_results: int = MAX_LIST_PAGE, next_token: str | None = None
    ) -> QueryExecutionIdsPage:
        """ListQueryExecutions: running executions, then the history (metadata files), newest first."""
        check_page_size(max_results, MAX_LIST_PAGE)
        with self._lock:
            running = sorted(self._running.values(), key=lambda r: r.submitted, reverse=True)
        metas = [o for o in self.store.list_objects_v2(ENRICHED) if o.key.endswith(".csv.metadata")]
        metas.sort(key=lambda o: o.modified, reverse=True)
        ids = [r.execution_id for r in running]
        ids += [o.key[len(ENRICHED):-len(".csv.metadata")] for o in metas]
        ids = list(dict.fromkeys(ids))  # an execution finishing during the listing appears once
        start = page_offset(next_token)
        end = min(start + max_results, len(ids))
        page: QueryExecutionIdsPage = {"QueryExecutionIds": ids[start:end]}
        token = page_token(end, len(ids))
        if token is not None:
            page["NextToken"] = token
        return page

    def batch_get_query_execution(self, execution_ids: Sequence[str]) -> QueryExecutionsBatch:
        """BatchGetQueryExecution: unknown ids, and records that cannot be read, come back unprocessed."""
        if not 1 <= len(execution_ids) <= MAX_LIST_PAGE:
            raise AthenaError("InvalidRequestException",
                              f"QueryExecutionIds must hold 1 to {MAX_LIST_PAGE} ids, got {len(execution_ids)}")
        out: QueryExecutionsBatch = {"QueryExecutions": [], "UnprocessedQueryExecutionIds": []}
        for eid in execution_ids:
            try:
                out["QueryExecutions"].append(self.get_query_execution(eid))
            except AthenaError as exc:
                out["UnprocessedQueryExecutionIds"].append(_unprocessed(eid, exc.code, exc.message))
            except ValueError as exc:  # a record cut short by a crash: the others are still answered
                out["UnprocessedQueryExecutionIds"].append(_unprocessed(eid, "InternalServerException", str(exc)))
        return out

    def close(self) -> None:
        """Stop running executions and close the DuckDB connection."""
        with self._lock:
            pool, self._pool = self._pool, None
            running = list(self._running.values())
        for run in running:
            self.stop_query_execution(run.execution_id)
        if pool is not None:
            pool.shutdown(wait=True)
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


#: Results of at most this many rows skip the temp table: Python writes their result file faster than
#: DuckDB creates, copies and drops a table (about 12 µs a row against a few milliseconds).
SMALL_RESULT = 100



def _profiled_cursors(con: duckdb.DuckDBPyConnection, n: int) -> list[duckdb.DuckDBPyConnection]:
    cursors = []
    for _ in range(n):
        cur = con.cursor()
        cur.execute("SET enable_profiling = 'no_output'")
        cur.execute("SET profiling_coverage = 'ALL'")
        cursors.append(cur)
    return cursors


def _hive_layout(t: TableDef) -> bool:
    """Whether every file of ``t`` sits in ``key=value`` folders named exactly after its partition keys."""
    names = [k.name for k in t.partition_keys]
    if not names or not t.files:
        return False
    for key in t.files:
        rel = key[len(t.location):].split("/")[:-1]
        if len(rel) != len(names) or any(part.partition("=")[0] != n or "=" not in part
                                         for part, n in zip(rel, names, strict=True)):
            return False
    return True


def _check_ddl_allowed(sql: str, setting: bool | None) -> None:
    """Refuse a catalog-changing statement: ``setting`` False means the allow_ddl setting is off, None that
    this path (the dashboard's editor) never runs DDL."""
    if not changes_catalog(sql) or setting:
        return
    word = " ".join(sql.split()[:2]).upper()
    if setting is False:
        raise AthenaError("NOT_SUPPORTED", f"{word} is not allowed: DDL is turned off (setting allow_ddl, "
                          "LAKEBOX_ALLOW_DDL)")
    raise AthenaError("NOT_SUPPORTED", f"{word} is not allowed here: lakebox runs read-only queries (SELECT, WITH, "
                      "VALUES, SHOW, DESCRIBE, EXPLAIN); DDL runs through lakebox query and the Athena API")


def _empty_source(t: TableDef) -> str:
    cols = ", ".join(f"CAST(NULL AS {_duck_type(c.type)}) AS {quote_ident(c.name)}"
                     for c in [*t.columns, *t.partition_keys])
    return f"SELECT {cols or 'NULL AS _none'} WHERE false"


#: A delimiter no text file holds, so read_csv returns each line whole.
_WHOLE_LINE = "\x1e\x1f\x1e\x1f"


def _serde_source(t: TableDef, listing: str, with_file: str) -> str:
    """A table made by DDL, read as its SerDe reads it.

    LazySimpleSerDe: split on the delimiter with no quote or escape handling, ``\\N`` is NULL, a value that
    does not parse as its column's type is NULL, missing trailing fields are NULL. OpenCSVSerDe: quotes and
    escapes honoured, every column a string. JSON SerDes: one object per line, keys matched to columns.
    """
    p = t.parameters
    skip = int(str(p.get("skip.header.line.count", "0")) or 0)
    if t.format == "json":
        cols = "{" + ", ".join(f"{quote_literal(c.name)}: {quote_literal(_duck_type(c.type))}"
                               for c in t.columns) + "}"
        return (f"read_json({listing}, format='newline_delimited', columns={cols}, ignore_errors=true"
                f"{with_file})")
    extra = ", _lakebox_file" if with_file else ""
    delim = str(p.get("field.delim", ","))
    if str(p.get(SERDE_PARAM, "")).endswith("OpenCSVSerde"):
        as_text = "{" + ", ".join(f"{quote_literal(c.name)}: 'VARCHAR'" for c in t.columns) + "}"
        quote = str(p.get(f"{SERDE_PARAM}.quoteChar", '"'))
        escape = str(p.get(f"{SERDE_PARAM}.escapeChar", "\\"))
        source = (f"read_csv({listing}, header=false, skip={skip}, columns={as_text}, delim={quote_literal(delim)}, "
                  f"quote={quote_literal(quote)}, escape={quote_literal(escape)}, allow_quoted_nulls=false, "
                  f"hive_partitioning=false, auto_detect=false, strict_mode=false, null_padding=true{with_file})")
        return f"(SELECT {', '.join(quote_ident(c.name) for c in t.columns)}{extra} FROM {source})"
    # Each line whole (the record/unit separator pair never occurs in text), split on the delimiter as Hive
    # does: no quotes, extra fields ignored, missing ones NULL.
    lines = (f"read_csv({listing}, header=false, skip={skip}, columns={{'line': 'VARCHAR'}}, "
             f"delim={quote_literal(_WHOLE_LINE)}, "
             f"quote='', escape='', hive_partitioning=false, auto_detect=false{with_file})")
    fields = []
    for i, c in enumerate(t.columns):
        raw = f"nullif(_f[{i + 1}], {quote_literal(chr(92) + 'N')})"
        duck = _duck_type(c.type)
        fields.append(f"{raw if duck == 'VARCHAR' else f'TRY_CAST({raw} AS {duck})'} AS {quote_ident(c.name)}")
    return (f"(SELECT {', '.join(fields)}{extra} FROM "
            f"(SELECT string_split(line, {quote_literal(delim)}) AS _f{extra} FROM {lines}))")


def _unprocessed(execution_id: str, code: str, message: str) -> UnprocessedQueryExecutionId:
    return {"QueryExecutionId": execution_id, "ErrorCode": code, "ErrorMessage": message}


def _datum(value: str | None) -> Datum:
    return {} if value is None else {"VarCharValue": value}


def _duck_type(hive: str) -> str:
    h = hive.lower()
    if h.startswith("decimal"):
        return h.upper()
    return {"string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER", "double": "DOUBLE", "float": "FLOAT",
            "boolean": "BOOLEAN", "date": "DATE", "timestamp": "TIMESTAMP", "smallint": "SMALLINT",
            "tinyint": "TINYINT"}.get(h, "VARCHAR")

"""LocalCatalog: the Glue Data Catalog in a SQLite file (``_lakebox/catalog.sqlite``).

Implements :class:`~lakebox.catalog.base.Catalog` (method names are Glue's actions, so the mapping to
``GlueCatalog`` can be found with grep). Every write is one SQLite
transaction, so a crash (even SIGKILL) leaves the previous or the new state, never a torn one.
``data_version`` increases with every change: the dashboard's cache is keyed on it.

A table's row holds its definition and partitions; its file list lives in ``table_files``, one row per file,
so adding a file to a table of any size writes one row there, one in the crawler's file cache and the table's
row (:meth:`LocalCatalog.apply_files`), never every file again.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from lakebox.catalog.base import (
    AlreadyExistsError,
    CatalogError,
    CrawlerInfo,
    CrawlerState,
    CrawlRunner,
    EntityNotFoundError,
)
from lakebox.catalog.crawler import (
    ColumnDef,
    FileInfo,
    PartitionDef,
    TableDef,
    apply_file_delta,
    schema_changed,
)
from lakebox.store.diskspace import disk_full

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS databases (name TEXT PRIMARY KEY, created_at TEXT);
CREATE TABLE IF NOT EXISTS tables (
  database TEXT, name TEXT, version INTEGER, body TEXT, updated_at TEXT, last_crawl TEXT,
  PRIMARY KEY (database, name));
CREATE TABLE IF NOT EXISTS table_versions (
  database TEXT, name TEXT, version INTEGER, body TEXT, created_at TEXT,
  PRIMARY KEY (database, name, version));
CREATE TABLE IF NOT EXISTS files (
  database TEXT, name TEXT, key TEXT, etag TEXT, size INTEGER, rows INTEGER, columns TEXT, format TEXT,
  delimiter TEXT, has_header INTEGER, sources TEXT, PRIMARY KEY (database, name, key));
CREATE TABLE IF NOT EXISTS table_files (
  database TEXT, name TEXT, key TEXT, PRIMARY KEY (database, name, key));
"""


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _table_from_body(body: str) -> TableDef:
    d = json.loads(body)
    return TableDef(
        database=d["database"],
        name=d["name"],
        location=d["location"],
        format=d["format"],
        columns=[ColumnDef(c["name"], c["type"]) for c in d["columns"]],
        partition_keys=[ColumnDef(c["name"], c["type"]) for c in d["partition_keys"]],
        partitions=[
            PartitionDef(tuple(p["values"]), p["location"], p["file_count"], p["row_count"], p["size_bytes"])
            for p in d.get("partitions", [])
        ],
        files=d.get("files", []),
        file_count=d["file_count"],
        row_count=d["row_count"],
        size_bytes=d["size_bytes"],
        parameters=d.get("parameters", {}),
        version=d.get("version", 1),
        updated_at=d.get("updated_at"),
        last_crawl=d.get("last_crawl"),
    )


def _file_row(database: str, name: str, f: FileInfo) -> tuple[object, ...]:
    return (database, name, f.key, f.etag, f.size, f.rows, json.dumps([[c.name, c.type] for c in f.columns]),
            f.format, f.delimiter, int(f.has_header), json.dumps([list(x) for x in f.sources]))


class LocalCatalog:
    """A Glue-like catalog stored in SQLite.

    Crawlers are registered with :meth:`register_crawler` (the update path registers the lake's crawler);
    :meth:`start_crawler` runs one to completion in the calling thread.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._crawlers: dict[str, CrawlRunner] = {}
        self._running: dict[str, threading.Lock] = {}
        self._last_status: dict[str, str] = {}
        self._local = threading.local()
        with self._conn() as con:
            con.executescript(_SCHEMA)
            self._migrate(con)

    def _migrate(self, con: sqlite3.Connection) -> None:
        """Bring catalogs written by older lakebox versions up to the current schema."""
        have = {r[1] for r in con.execute("PRAGMA table_info(files)")}
        for column, ddl in (("delimiter", "TEXT"), ("has_header", "INTEGER"), ("sources", "TEXT")):
            if column not in have:
                con.execute(f"ALTER TABLE files ADD COLUMN {column} {ddl}")
        # Older catalogs kept each table's file list inside its row: move it to table_files.
        for database, name, body in con.execute("SELECT database, name, body FROM tables").fetchall():
            d = json.loads(body)
            if "files" in d:
                con.executemany("INSERT OR IGNORE INTO table_files VALUES (?, ?, ?)",
                                [(database, name, k) for k in d.pop("files")])
                con.execute("UPDATE tables SET body = ? WHERE database = ? AND name = ?",
                            (json.dumps(d), database, name))

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, opened once: closing the last connection checkpoints the WAL into the
        database file, which per call cost more than the update itself."""
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            try:
                con = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            except sqlite3.OperationalError as exc:
                raise self._io_error(exc) from exc
            try:
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.OperationalError as exc:
                con.close()
                raise self._io_error(exc) from exc
            # Thread-local: a thread's connection is closed when the thread ends and its locals are freed.
            self._local.con = con
        yield con

    def _io_error(self, exc: sqlite3.OperationalError) -> Exception:
        """The catalog file cannot be opened: a full disk says so, anything else names the file."""
        full = disk_full(exc, f"the catalog {self.path.name}", self.path.parent)
        return full if full is not None else CatalogError(f"the catalog {self.path} cannot be opened: {exc}")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._conn() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # --- databases ---------------------------------------------------------------------------------------

    def create_database(self, name: str) -> None:
        """Create the database unless it exists. Every command opening the lake calls this, so an existing
        database costs one read, not a write transaction, and leaves the data version alone (a bump would
        throw away every cache keyed by it, the dashboard's among them)."""
        with self._conn() as con:
            if con.execute("SELECT 1 FROM databases WHERE name = ?", (name.lower(),)).fetchone():
                return
        with self._tx() as con:
            added = con.execute("INSERT OR IGNORE INTO databases VALUES (?, ?)", (name.lower(), _now()))
            if added.rowcount:
                self._bump(con)

    def get_database(self, name: str) -> str:
        with self._conn() as con:
            row = con.execute("SELECT name FROM databases WHERE name = ?", (name.lower(),)).fetchone()
        if row is None:
            raise EntityNotFoundError(f"Database {name.lower()} not found.")
        return str(row[0])

    def get_databases(self) -> list[str]:
        with self._conn() as con:
            return [r[0] for r in con.execute("SELECT name FROM databases ORDER BY name")]

    # --- tables ------------------------------------------------------------------------------------------

    def get_tables(self, database: str | None = None) -> list[TableDef]:
        with self._conn() as con:
            if database is None:
                rows = con.execute("SELECT body FROM tables ORDER BY database, name").fetchall()
            else:
                rows = con.execute(
                    "SELECT body FROM tables WHERE database = ? ORDER BY name", (database.lower(),)
                ).fetchall()
            tables = [_table_from_body(r[0]) for r in rows]
            for t in tables:
                t.files = self._table_files(con, t.database, t.name)
        return tables

    def get_table(self, database: str, name: str) -> TableDef | None:
        with self._conn() as con:
            return self._read_table(con, database, name)

    def _table_files(self, con: sqlite3.Connection, database: str, name: str) -> list[str]:
        return [r[0] for r in con.execute(
            "SELECT key FROM table_files WHERE database = ? AND name = ? ORDER BY key", (database, name))]

    def create_table(self, table: TableDef) -> None:
        with self._tx() as con:
            if self._read_table(con, table.database, table.name) is not None:
                raise AlreadyExistsError(f"Table {table.database.lower()}.{table.name.lower()} already exists.")
            self._write_table(con, table, None, archive=True, last_crawl=table.last_crawl)

    def update_table(self, table: TableDef, *, skip_archive: bool = False) -> None:
        with self._tx() as con:
            old = self._read_table(con, table.database, table.name)
            if old is None:
                raise EntityNotFoundError(f"Table {table.name.lower()} not found in {table.database.lower()}.")
            self._write_table(con, table, old, archive=not skip_archive, last_crawl=table.last_crawl)

    def put_table(self, table: TableDef, *, files: Sequence[FileInfo] | None = None,
                  prune: bool = True) -> TableDef:
        """CreateTable or UpdateTable in one transaction, with the per-file cache when ``files`` is given.

        Partitions live in the table's row, so ``prune=True`` replaces them; ``prune=False`` keeps stored
        partitions that ``table`` lacks (added, never removed).
        """
        with self._tx() as con:
            old = self._read_table(con, table.database, table.name)
            if old is not None and not prune:
                have = {p.values for p in table.partitions}
                table.partitions = sorted([*table.partitions, *(p for p in old.partitions if p.values not in have)],
                                          key=lambda p: p.values)
            self._write_table(con, table, old, archive=old is None or schema_changed(old, table), last_crawl=_now())
            if files is not None:
                self._replace_files(con, table.database, table.name, files)
        return table

    def _read_table(self, con: sqlite3.Connection, database: str, name: str, *,
                    with_files: bool = True) -> TableDef | None:
        row = con.execute(
            "SELECT body FROM tables WHERE database = ? AND name = ?", (database.lower(), name.lower())
        ).fetchone()
        if row is None:
            return None
        table = _table_from_body(row[0])
        if with_files:
            table.files = self._table_files(con, table.database, table.name)
        return table

    def apply_files(self, database: str, name: str, added: Sequence[FileInfo],
                    removed: Sequence[str] = ()) -> TableDef | None:
        """Add (or replace) ``added`` files and drop ``removed`` keys, in one transaction whose cost does not
        grow with the table: the table's row (counts, partitions) and one cache row per file. None when the
        table does not exist or the change needs a crawl (see :func:`~lakebox.catalog.crawler.apply_file_delta`);
        nothing is written then."""
        database, name = database.lower(), name.lower()
        with self._tx() as con:
            table = self._read_table(con, database, name, with_files=False)
            if table is None:
                return None
            touched = sorted({*removed, *(f.key for f in added)})
            marks = ",".join("?" * len(touched))
            listed = {r[0] for r in con.execute(
                f"SELECT key FROM table_files WHERE database = ? AND name = ? AND key IN ({marks})",
                (database, name, *touched))}
            cached = self._cached_files(con, database, name, touched)
            if listed - set(cached):
                return None  # a listed file the cache does not describe: only a crawl can say what it holds
            old = [cached[k] for k in touched if k in listed]
            new = apply_file_delta(table, added, old)
            if new is None:
                return None
            self._write_table(con, new, table, archive=False, last_crawl=_now(), files=False)
            gone = [k for k in removed if k not in {f.key for f in added}]
            con.executemany("DELETE FROM table_files WHERE database = ? AND name = ? AND key = ?",
                            [(database, name, k) for k in gone])
            con.executemany("DELETE FROM files WHERE database = ? AND name = ? AND key = ?",
                            [(database, name, k) for k in gone])
            con.executemany("INSERT OR IGNORE INTO table_files VALUES (?, ?, ?)",
                            [(database, name, f.key) for f in added])
            con.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [_file_row(database, name, f) for f in added])
        new.files = []  # not read back: the caller has the delta, and reading every key is what this avoids
        return new

    def _write_table(self, con: sqlite3.Connection, table: TableDef, old: TableDef | None, *, archive: bool,
                     last_crawl: str | None, files: bool = True) -> None:
        """Store ``table`` (normalising its names, version and times in place); ``archive`` starts a new
        version (kept in table_versions), as Glue's UpdateTable without SkipArchive does. ``files`` replaces
        the table's file list with ``table.files``; the incremental path edits it row by row instead."""
        now = _now()
        table.database, table.name = table.database.lower(), table.name.lower()
        con.execute("INSERT OR IGNORE INTO databases VALUES (?, ?)", (table.database, now))
        table.version = 1 if old is None else old.version + (1 if archive else 0)
        table.updated_at = now
        table.last_crawl = last_crawl or now
        body = json.dumps(table.to_dict())
        con.execute(
            "INSERT OR REPLACE INTO tables VALUES (?, ?, ?, ?, ?, ?)",
            (table.database, table.name, table.version, body, now, table.last_crawl),
        )
        if files:
            con.execute("DELETE FROM table_files WHERE database = ? AND name = ?", (table.database, table.name))
            con.executemany("INSERT OR IGNORE INTO table_files VALUES (?, ?, ?)",
                            [(table.database, table.name, k) for k in table.files])
        if archive:
            # A version keeps the file list it had: versions are rare (schema changes), so the copy is cheap.
            con.execute(
                "INSERT OR REPLACE INTO table_versions VALUES (?, ?, ?, ?, ?)",
                (table.database, table.name, table.version,
                 json.dumps(table.to_dict() | {"files": table.files}), now),
            )
        self._bump(con)

    def delete_table(self, database: str, name: str) -> None:
        with self._tx() as con:
            for t in ("tables", "table_versions", "files", "table_files"):
                con.execute(f"DELETE FROM {t} WHERE database = ? AND name = ?", (database.lower(), name.lower()))
            self._bump(con)

    def get_table_versions(self, database: str, name: str) -> list[TableDef]:
        with self._conn() as con:
            rows = con.execute(
                "SELECT body FROM table_versions WHERE database = ? AND name = ? ORDER BY version",
                (database.lower(), name.lower()),
            ).fetchall()
        return [_table_from_body(r[0]) for r in rows]

    def get_partitions(self, database: str, name: str) -> list[PartitionDef]:
        t = self.get_table(database, name)
        return sorted(t.partitions, key=lambda p: p.values) if t else []

    def batch_create_partition(self, table: TableDef, partitions: Iterable[PartitionDef]) -> None:
        with self._tx() as con:
            stored = self._read_table(con, table.database, table.name)
            if stored is None:
                raise EntityNotFoundError(f"Table {table.name.lower()} not found in {table.database.lower()}.")
            have = {p.values for p in stored.partitions}
            new = [p for p in partitions if p.values not in have]
            if not new:
                return
            stored.partitions = sorted([*stored.partitions, *new], key=lambda p: p.values)
            self._write_table(con, stored, stored, archive=False, last_crawl=stored.last_crawl, files=False)

    # --- crawlers ----------------------------------------------------------------------------------------

    def register_crawler(self, name: str, run: CrawlRunner) -> None:
        """Make ``name`` a crawler that :meth:`start_crawler` runs (Glue's CreateCrawler, minus the config)."""
        self._crawlers[name] = run
        self._running.setdefault(name, threading.Lock())

    def start_crawler(self, name: str) -> bool:
        run = self._crawlers.get(name)
        if run is None:
            raise EntityNotFoundError(f"Crawler with name {name} does not exist")
        lock = self._running[name]
        if not lock.acquire(blocking=False):
            return False  # running in another thread: that run covers the caller's objects
        try:
            run()
            self._last_status[name] = "SUCCEEDED"
        except BaseException:
            self._last_status[name] = "FAILED"
            raise
        finally:
            lock.release()
        return True

    def get_crawler(self, name: str) -> CrawlerInfo:
        if name not in self._crawlers:
            raise EntityNotFoundError(f"Crawler with name {name} does not exist")
        state: CrawlerState = "RUNNING" if self._running[name].locked() else "READY"
        return CrawlerInfo(name, state, self._last_status.get(name))

    # --- crawler file cache ------------------------------------------------------------------------------

    def get_files(self, database: str, name: str) -> dict[str, FileInfo]:
        """What the last crawl learned about each file, so a re-crawl reads only new or changed footers."""
        with self._conn() as con:
            return self._cached_files(con, database.lower(), name.lower(), None)

    def _cached_files(self, con: sqlite3.Connection, database: str, name: str,
                      keys: Sequence[str] | None) -> dict[str, FileInfo]:
        sql = ("SELECT key, etag, size, rows, columns, format, delimiter, has_header, sources FROM files "
               "WHERE database = ? AND name = ?")
        args: tuple[str, ...] = (database, name)
        if keys is not None:
            sql += f" AND key IN ({','.join('?' * len(keys))})"
            args += tuple(keys)
        return {
            r[0]: FileInfo(r[0], r[2], r[1], r[3], tuple(ColumnDef(c[0], c[1]) for c in json.loads(r[4])), r[5],
                           r[6] or ",", bool(r[7]), tuple((x[0], int(x[1]), int(x[2])) for x in json.loads(r[8] or "[]")))
            for r in con.execute(sql, args)
        }

    def files_from_source(self, database: str, name: str, raw_key: str) -> list[FileInfo]:
        """The table's files holding rows of ``raw_key`` (its own outputs, and compacted files it was merged
        into), from the provenance the writer and the compactor recorded."""
        needle = json.dumps(raw_key)
        with self._conn() as con:
            keys = [r[0] for r in con.execute(
                "SELECT key FROM files WHERE database = ? AND name = ? AND instr(sources, ?) > 0",
                (database.lower(), name.lower(), needle))]
            found = self._cached_files(con, database.lower(), name.lower(), keys) if keys else {}
        return [f for f in found.values() if any(src == raw_key for src, _, _ in f.sources)]

    def put_files(self, database: str, name: str, files: Sequence[FileInfo]) -> None:
        with self._tx() as con:
            self._replace_files(con, database, name, files)

    def _replace_files(self, con: sqlite3.Connection, database: str, name: str,
                       files: Sequence[FileInfo]) -> None:
        con.execute("DELETE FROM files WHERE database = ? AND name = ?", (database.lower(), name.lower()))
        con.executemany("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [_file_row(database.lower(), name.lower(), f) for f in files])

    # --- change tracking ---------------------------------------------------------------------------------

    def _bump(self, con: sqlite3.Connection) -> None:
        con.execute(
            "INSERT INTO meta VALUES ('data_version', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    def data_version(self) -> int:
        """A counter that changes whenever any table changes (cache key for query results)."""
        with self._conn() as con:
            row = con.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchone()
        return int(row[0]) if row else 0

    def check(self) -> str:
        """SQLite's integrity check: ``ok`` when the file is sound."""
        with self._conn() as con:
            return str(con.execute("PRAGMA integrity_check").fetchone()[0])

    def describe(self) -> dict[str, object]:
        return {"path": str(self.path), "databases": self.get_databases(), "data_version": self.data_version()}

"""A small per-process pool of DuckDB connections for processing.

Opening an in-memory DuckDB costs several milliseconds (tens on a loaded machine), as much as processing a
1,000-row file; a watcher handling thousands of small files would spend most of its time opening databases.
Connections are handed out one at a time per thread, reset between files (temp tables dropped, settings
back to the job's), and closed instead of returned if a job failed in a way that may have left them odd.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from lakebox.core.sql import quote_ident
from lakebox.process.transform import RejectedFile, connect

#: Idle connections kept per configuration: the watcher's worker count is 2 by default.
MAX_IDLE = 4

_Key = tuple[str, int, str]


class ConnectionPool:
    """Idle DuckDB connections keyed by (memory limit, threads, spill folder)."""

    def __init__(self, max_idle: int = MAX_IDLE) -> None:
        self.max_idle = max_idle
        self._idle: dict[_Key, list[duckdb.DuckDBPyConnection]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def connection(self, memory_limit: str = "1GB", threads: int = 0,
                   spill_dir: Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one processing job, returned to the pool afterwards (clean) if the job ended
        normally or with a rejected file."""
        key: _Key = (memory_limit, threads, str(spill_dir or ""))
        with self._lock:
            idle = self._idle.get(key)
            con = idle.pop() if idle else None
        if con is None:
            con = connect(memory_limit, threads, spill_dir)
        try:
            yield con
        except RejectedFile:
            self._give_back(key, con)
            raise
        except BaseException:
            con.close()
            raise
        self._give_back(key, con)

    def _give_back(self, key: _Key, con: duckdb.DuckDBPyConnection) -> None:
        try:
            _reset(con)
        except duckdb.Error:
            con.close()
            return
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.max_idle:
                idle.append(con)
                return
        con.close()

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for cons in idle.values():
            for con in cons:
                con.close()


def _reset(con: duckdb.DuckDBPyConnection) -> None:
    """Drop what a job left behind (its staging tables and DuckDB's reject tables, which a CSV read with
    ``store_rejects`` appends to) and restore the default row order."""
    # By database name, not ``WHERE temporary``: the same tables, but the first such call on a connection
    # took about 11 ms against 1.5 ms (DuckDB 2.0), a fixed cost of every processed file.
    temps = con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'temp'").fetchall()
    drops = "".join(f"DROP TABLE IF EXISTS temp.main.{quote_ident(name)}; " for (name,) in temps)
    con.execute(drops + "SET preserve_insertion_order = true")


#: The process's pool (empty until the first job: no connection is opened at import).
POOL = ConnectionPool()

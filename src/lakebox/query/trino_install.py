"""Creating the Trino compatibility macros (``trino_macros.MACROS``, ``trino_collections.MACROS``) on DuckDB.

Creating all of them costs DuckDB tens of milliseconds per connection, more than most queries, and most
queries call none of them. So a connection gets only the macros its statements call, just before they run:
:class:`InstalledMacros` finds the ``__trino_*`` names in the translated SQL, adds the macros those call in
turn, and creates the missing ones in declaration order (DuckDB binds a macro's body when it is created, so
what it calls must exist first). Nothing here imports sqlglot or DuckDB.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Protocol

from lakebox.query import trino_collections, trino_macros

#: A macro call: sqlglot writes function names in upper case.
_NAME = re.compile(r"__trino_\w+", re.IGNORECASE)
_CREATE = re.compile(r"CREATE\s+OR\s+REPLACE\s+MACRO\s+(__trino_\w+)\s*\(")


class Executes(Protocol):
    def execute(self, sql: str, /) -> object: ...


@functools.cache
def _declared() -> tuple[tuple[str, str, frozenset[str]], ...]:
    """(name, CREATE statement, the macros its body calls) per macro, in declaration order."""
    out = []
    for sql in (*trino_macros.MACROS, *trino_collections.MACROS):
        m = _CREATE.match(sql)
        if m is None:
            raise ValueError(f"a Trino macro must be CREATE OR REPLACE MACRO __trino_...: {sql[:80]}")
        calls = frozenset(n.lower() for n in _NAME.findall(sql, m.end()))
        out.append((m.group(1), sql, calls - {m.group(1)}))
    return tuple(out)


def needed(sql: str) -> set[str]:
    """The macros ``sql`` calls, with every macro they call in turn."""
    calls = {name: deps for name, _, deps in _declared()}
    todo = [n for n in (f.lower() for f in _NAME.findall(sql)) if n in calls]
    found: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(calls[name] - found)
    return found


def install_all(con: Executes) -> None:
    """Create every Trino macro on ``con``."""
    for _, sql, _ in _declared():
        con.execute(sql)


class InstalledMacros:
    """The macros created so far on one DuckDB database (all its cursors share them). Creations hold
    ``lock``: two cursors replacing the same macro at once would conflict, so share one lock between the
    records of one database."""

    def __init__(self, lock: threading.Lock) -> None:
        self._names: set[str] = set()
        self._lock = lock

    def ensure(self, cur: Executes, sql: str) -> None:
        """Create, through ``cur``, the macros ``sql`` needs that this database lacks."""
        if _NAME.search(sql) is None:
            return
        self._create(cur, needed(sql))

    def ensure_all(self, cur: Executes) -> None:
        """Create every macro this database lacks."""
        self._create(cur, {name for name, _, _ in _declared()})

    def _create(self, cur: Executes, names: set[str]) -> None:
        with self._lock:
            if names <= self._names:
                return
            for name, sql, _ in _declared():
                if name in names and name not in self._names:
                    cur.execute(sql)
                    self._names.add(name)

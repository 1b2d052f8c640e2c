"""Translations the embedded engine has made before, in memory and in the lake's ``_lakebox/cache/`` folder.

Translating Trino SQL for DuckDB (parse, check, rewrite, generate: :func:`lakebox.query.dialect.translate`)
costs milliseconds, more than a small query; importing sqlglot to do it costs a short-lived ``lakebox
query`` more than the query itself. A translation is a function of the SQL, the default database, the
catalog's tables as the engine sees them (names, columns and types, and the tables it cannot read) and the
translator's own code, so it is kept under a key made of exactly those. A later run of the same query on the
same catalog skips the translator; any change to the catalog or to the code gives a new key.

Only successful translations are kept: a query that fails to translate does so again, with its message.
The files hold SQL that DuckDB runs, so they are written and read only under the lake's private
``_lakebox/`` folder, next to the catalog that could change every answer anyway; a file whose content does
not match its key is ignored.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from importlib.util import find_spec
from pathlib import Path

from lakebox.query.statement import Translation

#: Translations kept in memory per engine.
MEMORY_ENTRIES = 512
#: Files kept on disk per lake: past this many, the least recently written are removed.
DISK_ENTRIES = 2048


@functools.cache
def code_version() -> str:
    """A fingerprint of the translator's code: lakebox's query and core modules and the installed sqlglot
    (sizes and modification times; no module is imported to take it)."""
    here = Path(__file__).resolve().parent
    files = sorted([*here.glob("*.py"), *(here.parent / "core").glob("*.py")])
    spec = find_spec("sqlglot")
    if spec is not None and spec.origin:
        pkg = Path(spec.origin).parent
        files += [p for p in (pkg / "_version.py", pkg / "__init__.py") if p.exists()]
    h = hashlib.sha256(sys.version.encode())
    for f in files:
        st = f.stat()
        h.update(f"{f}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()


def catalog_key(columns: Mapping[tuple[str, str], Sequence[tuple[str, str]]],
                broken: Mapping[tuple[str, str], str]) -> str:
    """A fingerprint of what translation reads of the catalog: every table's columns and types, and the
    tables that cannot be read."""
    doc = json.dumps([sorted([list(k), [list(c) for c in v]] for k, v in columns.items()),
                      sorted([list(k), v] for k, v in broken.items())])
    return hashlib.sha256(doc.encode()).hexdigest()


class TranslationCache:
    """Successful translations by (SQL, default database, catalog key): an LRU in memory, backed by one small
    JSON file per translation under ``folder`` (None: memory only). Thread-safe."""

    def __init__(self, folder: Path | None, memory_entries: int = MEMORY_ENTRIES,
                 disk_entries: int = DISK_ENTRIES) -> None:
        self.folder = folder
        self._memory: OrderedDict[tuple[str, str, str], Translation] = OrderedDict()
        self._memory_entries = memory_entries
        self._disk_entries = disk_entries
        self._lock = threading.Lock()

    def get(self, sql: str, database: str, catalog: str) -> Translation | None:
        """The translation kept for this key, or None."""
        key = (sql, database, catalog)
        with self._lock:
            tr = self._memory.get(key)
            if tr is not None:
                self._memory.move_to_end(key)
                return tr
        tr = self._read(key)
        if tr is not None:
            self._remember(key, tr)
        return tr

    def put(self, sql: str, database: str, catalog: str, tr: Translation) -> None:
        """Keep ``tr`` as the translation of this key (in memory, and on disk when there is a folder)."""
        key = (sql, database, catalog)
        self._remember(key, tr)
        self._write(key, tr)

    def _remember(self, key: tuple[str, str, str], tr: Translation) -> None:
        with self._lock:
            self._memory[key] = tr
            self._memory.move_to_end(key)
            while len(self._memory) > self._memory_entries:
                self._memory.popitem(last=False)

    def _path(self, key: tuple[str, str, str]) -> Path | None:
        if self.folder is None:
            return None
        digest = hashlib.sha256(json.dumps([*key, code_version()]).encode()).hexdigest()
        return self.folder / f"{digest}.json"

    def _read(self, key: tuple[str, str, str]) -> Translation | None:
        path = self._path(key)
        if path is None:
            return None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):  # unreadable or cut short: translate again (and rewrite it)
            return None
        if not isinstance(doc, dict) or doc.get("key") != [*key, code_version()]:
            return None
        t = doc.get("translation")
        if not isinstance(t, dict):
            return None
        try:
            return Translation(kind=str(t["kind"]), sql=str(t["sql"]),
                               tables=[(str(db), str(name)) for db, name in t["tables"]],
                               output_names=[str(n) for n in t["output_names"]], source=str(t["source"]),
                               row_bound=None if t["row_bound"] is None else int(t["row_bound"]))
        except (KeyError, TypeError, ValueError):
            return None

    def _write(self, key: tuple[str, str, str], tr: Translation) -> None:
        path = self._path(key)
        if path is None:
            return
        doc = {"key": [*key, code_version()],
               "translation": {"kind": tr.kind, "sql": tr.sql, "tables": [list(t) for t in tr.tables],
                               "output_names": tr.output_names, "source": tr.source, "row_bound": tr.row_bound}}
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(doc), encoding="utf-8")
            os.replace(tmp, path)  # readers see no file or the whole file
        except OSError:
            # A full or read-only disk costs the next run a translation, never this query its answer.
            tmp.unlink(missing_ok=True)
            return
        self._prune(path.parent, keep=path.name)

    def _prune(self, folder: Path, keep: str) -> None:
        """Past ``disk_entries`` files, remove the least recently written down to three quarters of that, so
        the folder is sorted once per many writes. (Counted after every write: a write follows a translation,
        which costs more than listing the folder.) ``keep``, just written, stays whatever the clock's
        resolution."""
        try:
            names = [e.name for e in os.scandir(folder) if e.name.endswith(".json")]
            if len(names) <= self._disk_entries:
                return
            entries = sorted(((folder / n).stat().st_mtime_ns, n) for n in names if n != keep)
        except OSError:  # a file removed meanwhile by another process's prune: prune next time
            return
        for _, old in entries[:len(entries) + 1 - self._disk_entries * 3 // 4]:
            (folder / old).unlink(missing_ok=True)

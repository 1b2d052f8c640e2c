"""SHOW and DESCRIBE, answered from the catalog as Athena answers them (Athena runs these on its Hive side,
not on Trino, so they never reach the SQL engine)."""

from __future__ import annotations

import re
from collections.abc import Callable

from lakebox.query.base import CatalogView, Value
from lakebox.query.errors import AthenaError
from lakebox.query.statement import CATALOG_NAME


def hive_pattern(pattern: str) -> Callable[[str], bool]:
    """Hive's SHOW TABLES pattern as a predicate: ``*`` is any text, ``|`` separates alternatives, matched
    case-insensitively; nothing else is special.

    No regular expression: each alternative is cut at its stars into literal pieces (runs of stars count
    once), the first anchored at the start, the last at the end, the ones between found leftmost-first,
    which is exact for ``*`` wildcards. A name costs at most one substring search per piece, so a pattern of
    thousands of stars cannot stall the server as the backtracking ``.*.*.*`` regex did."""
    alts = [_pieces(alt) for alt in pattern.split("|")]

    def matches(name: str) -> bool:
        text = name.casefold()
        return any(_pieces_match(pieces, text) for pieces in alts)

    return matches


def hive_pattern_matches(pattern: str, name: str) -> bool:
    """Whether ``name`` matches Hive's SHOW TABLES ``pattern`` (see :func:`hive_pattern`)."""
    return hive_pattern(pattern)(name)


def _pieces(alternative: str) -> list[str]:
    """An alternative's literal pieces between stars; empty ones only at the two ends (they anchor)."""
    parts = alternative.casefold().split("*")
    if len(parts) == 1:
        return parts
    return [parts[0], *(p for p in parts[1:-1] if p), parts[-1]]


def _pieces_match(pieces: list[str], text: str) -> bool:
    if len(pieces) == 1:
        return pieces[0] == text
    first, last = pieces[0], pieces[-1]
    if len(first) + len(last) > len(text) or not text.startswith(first) or not text.endswith(last):
        return False
    pos, end = len(first), len(text) - len(last)
    for piece in pieces[1:-1]:
        found = text.find(piece, pos, end)
        if found < 0:
            return False
        pos = found + len(piece)
    return True


def _unquote(name: str) -> str:
    return name.strip('"`')


def answer_from_catalog(catalog: CatalogView, sql: str, database: str) -> tuple[list[str], list[list[Value]]]:
    """SHOW TABLES / SHOW DATABASES / SHOW COLUMNS / DESCRIBE, as Athena answers them."""
    text = re.sub(r"\s+", " ", sql.strip())
    up = text.upper()
    rows: list[list[Value]]
    if up.startswith(("SHOW DATABASES", "SHOW SCHEMAS")):
        dbs = catalog.get_databases()
        rows, names = [[d] for d in dbs], ["database_name"]
    elif up.startswith("SHOW TABLES"):
        m = re.match(r"SHOW TABLES(?: (?:IN|FROM) (\S+))?(?: '([^']*)')?$", text, re.I)
        if not m:
            raise AthenaError("SYNTAX_ERROR", f"cannot parse {text!r}")
        db = _unquote(m.group(1) or database).split(".")[-1].lower()
        pattern = m.group(2)
        tables = [t.name for t in catalog.get_tables(db)]
        if pattern:
            matches = hive_pattern(pattern)
            tables = [t for t in tables if matches(t)]
        rows, names = [[t] for t in tables], ["tab_name"]
    elif up.startswith("SHOW COLUMNS") or up.startswith(("DESCRIBE", "DESC ")):
        m = re.match(r"(?:SHOW COLUMNS (?:IN|FROM)|DESCRIBE|DESC) (\S+)(?: (?:IN|FROM) (\S+))?$", text, re.I)
        if not m:
            raise AthenaError("SYNTAX_ERROR", f"cannot parse {text!r}")
        parts = [_unquote(p) for p in m.group(1).split(".")]
        db = _unquote(m.group(2)) if m.group(2) else (parts[-2] if len(parts) > 1 else database)
        t = catalog.get_table(db.lower(), parts[-1].lower())
        if t is None:
            raise AthenaError("TABLE_NOT_FOUND", f"Table '{CATALOG_NAME}.{db.lower()}.{parts[-1].lower()}' does not exist")
        if up.startswith("SHOW COLUMNS"):
            rows, names = [[c.name] for c in [*t.columns, *t.partition_keys]], ["field"]
        else:
            rows = [[c.name, c.type, ""] for c in t.columns]
            if t.partition_keys:
                rows += [[c.name, c.type, "partition key"] for c in t.partition_keys]
            names = ["col_name", "data_type", "comment"]
    else:
        raise AthenaError("NOT_SUPPORTED", f"{text.split(' ')[0:2]} is not supported; try SHOW TABLES")
    return names, rows

"""SHOW and DESCRIBE, answered from the catalog as Athena answers them (Athena runs these on its Hive side,
not on Trino, so they never reach the SQL engine)."""

from __future__ import annotations

import re

from lakebox.query.base import CatalogView, Value
from lakebox.query.errors import AthenaError
from lakebox.query.statement import CATALOG_NAME


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
            # Hive's SHOW TABLES patterns: * is any text, | separates alternatives; nothing else is special.
            alts = [re.escape(p).replace(r"\*", ".*") for p in pattern.split("|")]
            rx = re.compile("^(" + "|".join(alts) + ")$", re.I)
            tables = [t for t in tables if rx.match(t)]
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

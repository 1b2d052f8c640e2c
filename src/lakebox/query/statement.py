"""What lakebox knows of an Athena statement without parsing it. Pure, and free of sqlglot.

The embedded engine runs a query whose translation it has cached without importing the translator at all
(sqlglot and the Trino rewrites cost more than a small query); the names here are what that path needs: the
statement's kind by its first words, Athena's limits and names, and the translated query itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Athena's largest query string, in bytes (UTF-8).
MAX_QUERY_BYTES = 262_144
#: The catalog every Athena table name is in (``"AwsDataCatalog".db.table``), as Athena spells it in errors.
CATALOG_NAME = "awsdatacatalog"
#: Table parameter naming the SerDe a table made by DDL reads with (Glue keeps it in SerdeInfo).
SERDE_PARAM = "lakebox.serde"

_COMMENTS = re.compile(r"^(\s+|--[^\n]*(\n|$)|/\*.*?\*/)*", re.DOTALL)
_HEAD = re.compile(
    r"(CREATE|DROP|ALTER|MSCK|SHOW\s+CREATE|SHOW\s+PARTITIONS|SHOW\s+VIEWS)\b", re.IGNORECASE)


def skip_leading_comments(sql: str) -> str:
    """``sql`` without the whitespace and comments before its first word."""
    return _COMMENTS.sub("", sql, count=1)


def is_ddl(sql: str) -> bool:
    """Whether ``sql`` is one of the statements :mod:`lakebox.query.ddl` runs (or refuses as DDL)."""
    return bool(_HEAD.match(skip_leading_comments(sql)))


def changes_catalog(sql: str) -> bool:
    """Whether ``sql`` is DDL that changes the catalog or the lake (not SHOW CREATE/PARTITIONS/VIEWS)."""
    m = _HEAD.match(skip_leading_comments(sql))
    return m is not None and not m.group(1).upper().startswith("SHOW")


@dataclass
class Translation:
    """A query ready for DuckDB, plus what the engine needs to know about it (made by
    :func:`lakebox.query.dialect.translate`)."""

    kind: str  # "select" | "show" | "describe" | "explain"
    sql: str  # DuckDB SQL for "select"/"explain"; the original text otherwise
    tables: list[tuple[str, str]] = field(default_factory=list)
    output_names: list[str] = field(default_factory=list)
    source: str = ""  # the statement as written, for error positions
    #: At most this many rows, when the query's top level says so (a LIMIT, or one aggregate row); else None.
    row_bound: int | None = None


#: The DuckDB database (attached in memory by the engine) that holds one view per catalog table; the
#: translation (``query.relations``) points every table reference there.
VIEW_DATABASE = "lakebox_views"


def view_name(database: str, table: str) -> str:
    """The quoted, fully qualified DuckDB name of a catalog table's view."""
    return ".".join('"' + p.replace('"', '""') + '"' for p in (VIEW_DATABASE, database, table))

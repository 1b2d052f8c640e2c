"""Trino semantics on DuckDB: AST rewrites (sqlglot) and DuckDB macros where the two engines differ.

``rewrite`` runs on a parsed Athena statement after name resolution; ``install`` adds macros to each
DuckDB connection the engine opens. Pure: sqlglot only.
"""

from __future__ import annotations

from sqlglot import exp

#: SQL run on every query connection (CREATE MACRO ...), for Trino functions DuckDB lacks.
MACROS: tuple[str, ...] = ()


def rewrite(tree: exp.Expression) -> exp.Expression:
    """Return ``tree`` rewritten so that DuckDB computes what Trino would."""
    return tree


def install(con: object) -> None:
    """Create the Trino compatibility macros on a DuckDB connection."""
    for sql in MACROS:
        con.execute(sql)  # type: ignore[attr-defined]

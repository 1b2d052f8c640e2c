"""Static Trino types for the translation: catalog (Hive) type names as Trino spells them, and the type of an
expression when it is evident without running the query.

Used by ``trino`` and ``trino_functions`` for the rewrites that depend on an argument's type (decimal
``avg``/``round``, ``date_format`` on a string, integer division of aggregates) and by ``trino_checks``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlglot import exp

#: Trino type names of the catalog's columns, per (database, table): {(db, table): {column: type}}.
Schema = Mapping[tuple[str, str], Mapping[str, str]]

_HIVE_TO_TRINO = {"string": "varchar", "int": "integer", "float": "real", "timestamp": "timestamp(3)",
                  "tinyint": "tinyint", "smallint": "smallint", "bigint": "bigint", "double": "double",
                  "boolean": "boolean", "date": "date", "binary": "varbinary"}

#: A Trino decimal type name, ``decimal(p,s)``: groups are the precision and the scale.
DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")


def trino_type(hive: str) -> str:
    """A catalog (Hive) column type as Trino names it: string -> varchar, int -> integer."""
    h = hive.strip().lower()
    return _HIVE_TO_TRINO.get(h, h.replace("<", "(").replace(">", ")"))


def static_type(node: exp.Expression, columns: Mapping[str, str]) -> str | None:
    """The Trino type of ``node`` when it is evident without running the query, else None.

    Enough for the few rules that need it (decimal avg/round, date_format on a string): casts, literals
    and columns whose name is unique among the query's tables.
    """
    if isinstance(node, exp.Paren | exp.Neg):
        return static_type(node.this, columns)
    if isinstance(node, exp.Cast | exp.TryCast):
        to = node.to
        if to.is_type(*exp.DataType.TEXT_TYPES):
            return "varchar"
        if to.is_type(exp.DataType.Type.DECIMAL):
            params = [p.name for p in to.expressions]
            p, s = (params + ["38", "0"])[:2] if params else ("38", "0")
            return f"decimal({p},{s})"
        return to.sql("trino").lower()
    if isinstance(node, exp.Literal):
        if node.is_string:
            return f"varchar({len(node.this)})"
        text = node.this
        if "e" in text.lower():
            return "double"
        if "." in text:
            whole, frac = text.split(".", 1)
            digits = len(whole.lstrip("-+").lstrip("0")) + len(frac)
            return f"decimal({max(digits, 1)},{len(frac)})"
        return "integer" if abs(int(text)) < 2**31 else "bigint"
    if isinstance(node, exp.Column) and not node.table:
        return columns.get(node.name.lower())
    if isinstance(node, exp.Column):
        return columns.get(f"{node.table.lower()}.{node.name.lower()}") or columns.get(node.name.lower())
    return None


def column_types(tree: exp.Expression, schema: Schema, tables: list[tuple[str, str]]) -> dict[str, str]:
    """Column name (and ``alias.column``) -> Trino type for the tables the query reads; ambiguous names
    are left out (their type is then unknown, which only disables the type-dependent rewrites)."""
    out: dict[str, str] = {}
    seen: dict[str, int] = {}
    aliases: dict[tuple[str, str], list[str]] = {}
    for t in tree.find_all(exp.Table):
        key = (t.db.lower(), t.name.lower())
        aliases.setdefault(key, []).append((t.alias or t.name).lower())
    for key in dict.fromkeys(tables):
        for col, typ in (schema.get(key) or {}).items():
            tt = trino_type(typ)
            seen[col] = seen.get(col, 0) + 1
            out[col] = tt
            for alias in aliases.get(key, []):
                out[f"{alias}.{col}"] = tt
    for col, n in seen.items():
        if n > 1:
            out.pop(col, None)
    return out

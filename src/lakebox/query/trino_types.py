"""Static Trino types for the translation: catalog (Hive) type names as Trino spells them, and the type of an
expression when it is evident without running the query.

Used by ``trino`` and ``trino_functions`` for the rewrites that depend on an argument's type (decimal
``avg``/``round``, ``date_format`` on a string, integer division of aggregates) and by ``trino_checks``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from sqlglot import exp

from lakebox.query.errors import AthenaError
from lakebox.query.trino_scope import ColumnTypes, resolve

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


def decimal_literal_type(text: str) -> str:
    """The type of ``DECIMAL 'text'``: every digit written counts, leading zeros included
    (https://trino.io/docs/current/functions/decimal.html#decimal-literals)."""
    whole, _, frac = text.strip().lstrip("+-").partition(".")
    return f"decimal({max(len(whole) + len(frac), 1)},{len(frac)})"


def static_type(node: exp.Expr, columns: Mapping[str, str]) -> str | None:
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
        if to.is_type(exp.DataType.Type.DECIMAL) and not to.expressions and isinstance(node.this, exp.Literal):
            return decimal_literal_type(node.this.this)  # DECIMAL '1.50': decimal(3,2)
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
            digits = len(whole.lstrip("-+")) + len(frac)  # leading zeros count (decimal.html#decimal-literals)
            return f"decimal({max(digits, 1)},{len(frac)})"
        return "integer" if abs(int(text)) < 2**31 else "bigint"
    if isinstance(node, exp.Column) and isinstance(columns, ColumnTypes):
        known, t = columns.of(node)
        if known:
            return t
    if isinstance(node, exp.Column) and not node.table:
        return columns.get(node.name.lower())
    if isinstance(node, exp.Column):
        return columns.get(f"{node.table.lower()}.{node.name.lower()}") or columns.get(node.name.lower())
    if type(node) in _ARITH_OPS:
        return arithmetic_type(type(node), static_type(node.this, columns), static_type(node.expression, columns))
    if isinstance(node, exp.DPipe):
        return "varchar"
    if isinstance(node, exp.Boolean | exp.Predicate | exp.Not):
        return "boolean"
    if isinstance(node, exp.Window):
        return static_type(node.this, columns)
    if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select) and len(node.this.expressions) == 1:
        return static_type(node.this.expressions[0].unalias(), columns)  # a scalar subquery
    if isinstance(node, exp.Case | exp.If | exp.Coalesce):
        return _common_type(node, columns)
    return _aggregate_type(node, columns)


def _common_type(node: exp.Expr, columns: Mapping[str, str]) -> str | None:
    """The type of CASE/IF/COALESCE: its branches' type when they agree (integers widen), else None."""
    if isinstance(node, exp.Case):
        branches = [i.args.get("true") for i in node.args.get("ifs") or []] + [node.args.get("default")]
    elif isinstance(node, exp.If):
        branches = [node.args.get("true"), node.args.get("false")]
    else:
        branches = [node.this, *node.expressions]
    types = {static_type(b, columns) for b in branches if b is not None and not isinstance(b, exp.Null)}
    if len(types) == 1:
        return types.pop()
    known = {t for t in types if t is not None}
    if known and known == types and known <= set(INTEGERS):
        order = list(INTEGERS)
        return order[max(order.index(t) for t in known)]
    return None


def _aggregate_type(node: exp.Expr, columns: Mapping[str, str]) -> str | None:
    """count, sum, avg, min and max: Trino's result type from the argument's."""
    name = node.name.lower() if isinstance(node, exp.Anonymous) else type(node).__name__.lower()
    if name == "count":
        return "bigint"
    if name not in ("sum", "avg", "min", "max", "__trino_sum"):
        return None
    arg = node.expressions[0] if isinstance(node, exp.Anonymous) and node.expressions else node.this
    t = static_type(arg, columns) if isinstance(arg, exp.Expression) else None
    if t is None or name in ("min", "max"):
        return t
    m = DECIMAL.match(t)
    if name in ("sum", "__trino_sum"):
        return f"decimal(38,{m.group(2)})" if m else ("bigint" if t in INTEGERS else t)
    return t if m or t == "real" else "double"


#: Trino's exact integer types, narrowest first, and the decimal each coerces to in decimal arithmetic.
INTEGERS = {"tinyint": (3, 0), "smallint": (5, 0), "integer": (10, 0), "bigint": (19, 0)}
_ARITH_OPS = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}


def decimal_parts(t: str | None) -> tuple[int, int] | None:
    """(precision, scale) of a decimal or integer type as Trino coerces it for decimal arithmetic."""
    if t is None:
        return None
    m = DECIMAL.match(t)
    if m:
        return int(m.group(1)), int(m.group(2))
    return INTEGERS.get(t)


def arithmetic_type(op: type, left: str | None, right: str | None) -> str | None:
    """The Trino type of ``left op right`` for numeric operands (https://trino.io/docs/current/functions/
    decimal.html#binary-arithmetic-decimal-operators), or None when it is not evident."""
    if left is None or right is None:
        return None
    if left in INTEGERS and right in INTEGERS:
        order = list(INTEGERS)
        return order[max(order.index(left), order.index(right), order.index("integer"))]
    if "double" in (left, right) and {left, right} <= {"double", "real", *INTEGERS} | _decimals(left, right):
        return "double"
    if "real" in (left, right) and {left, right} <= {"real", *INTEGERS} | _decimals(left, right):
        return "real"
    a, b = decimal_parts(left), decimal_parts(right)
    if a is None or b is None:
        return None
    (ap, as_), (bp, bs) = a, b
    if op in (exp.Add, exp.Sub):
        p, s = 1 + max(as_, bs) + max(ap - as_, bp - bs), max(as_, bs)
    elif op is exp.Mul:
        p, s = ap + bp, as_ + bs
    elif op is exp.Div:
        p, s = ap + bs + max(bs - as_, 0), max(as_, bs)
    else:
        p, s = min(bp - bs, ap - as_) + max(as_, bs), max(as_, bs)
    return f"decimal({min(38, p)},{s})"


def _decimals(*types: str) -> set[str]:
    return {t for t in types if DECIMAL.match(t)}


def catalog_columns(schema: Schema, tables: list[tuple[str, str]]) -> Callable[[exp.Table], dict[str, str | None] | None]:
    """A table reference's columns (name -> Trino type) from the catalog, or None when not known. The query's
    table names were already resolved to ``(database, table)``; a bare name is looked up among them."""
    by_name: dict[str, list[tuple[str, str]]] = {}
    for key in dict.fromkeys(tables):
        by_name.setdefault(key[1], []).append(key)

    def table_columns(t: exp.Table) -> dict[str, str | None] | None:
        keys = [(t.db.lower(), t.name.lower())] if t.db else by_name.get(t.name.lower(), [])
        cols = schema.get(keys[0]) if len(keys) == 1 else None
        return {c.lower(): trino_type(typ) for c, typ in cols.items()} if cols else None

    return table_columns


def column_types(tree: exp.Expr, schema: Schema, tables: list[tuple[str, str]]) -> ColumnTypes:
    """Column name (and ``alias.column``) -> Trino type for the tables the query reads; ambiguous names
    are left out (their type is then unknown, which only disables the type-dependent rewrites). Each
    column reference is also typed by scope (``trino_scope``), which :func:`static_type` prefers."""
    out = ColumnTypes()
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
    _derived_columns(tree, out, set(seen))
    table_columns = catalog_columns(schema, tables)
    resolve(tree, out, table_columns, static_type)
    return out


def _derived_columns(tree: exp.Expr, out: dict[str, str], taken: set[str]) -> None:
    """Add the evident types of CTE and subquery output columns (``WITH t AS (SELECT CAST(x AS
    DECIMAL(10,2)) AS a ...)``), innermost first; a name two derived tables type differently is left out."""
    derived: dict[str, str | None] = {}
    queries = [c.this for c in tree.find_all(exp.CTE)] + [q.this for q in tree.find_all(exp.Subquery)
                                                          if q.args.get("alias") is not None]
    for query in reversed(queries):
        if not isinstance(query, exp.Select):
            continue
        for e in query.expressions:
            name = e.alias_or_name.lower()
            if not name or name == "*":
                continue
            t = static_type(e.unalias(), {**out, **{k: v for k, v in derived.items() if v}})
            if name in taken and t != out.get(name):
                t = None  # shadows a catalog column with another (or an unknown) type: ambiguous by name
            derived[name] = t if name not in derived or derived[name] == t else None
    for k, v in derived.items():
        if v:
            out[k] = v
        else:
            out.pop(k, None)


#: Trino analyses a query's clauses in this order (errors in FROM first, then WHERE, ...).
_CLAUSE_RANK = {"with": 0, "from": 1, "from_": 1, "joins": 1, "laterals": 1, "where": 2, "group": 3,
                "having": 4, "expressions": 5, "qualify": 6, "order": 7, "limit": 8, "offset": 8}


def clause_rank(node: exp.Expr) -> int:
    """Where ``node`` sits in its innermost SELECT, in Trino's order of analysis."""
    child, parent = node, node.parent
    while parent is not None and not isinstance(parent, exp.Select):
        child, parent = parent, parent.parent
    return _CLAUSE_RANK.get(child.arg_key or "", 5) if parent is not None else 5


#: An error found before running, with its place in Trino's order of analysis.
Problem = tuple[tuple[int, int], AthenaError]


def analysis_order(node: exp.Expr) -> tuple[int, int]:
    """When Trino's analyzer reaches ``node``: by clause (FROM, WHERE, ..., the select list, ORDER BY), then
    by where the node ends in the text, since a call is resolved after its arguments."""
    ends = [int(n.meta["end"]) for n in node.walk() if "end" in n.meta]
    return clause_rank(node), max(ends) if ends else 0

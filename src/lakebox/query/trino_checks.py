"""Queries Athena rejects at analysis time but DuckDB would run: found on the AST, before DuckDB sees them.

- ``GROUP BY`` a select-list alias. Trino resolves GROUP BY names against the FROM clause only (the SQL
  standard), so ``SELECT upper(customer) AS c ... GROUP BY c`` fails with
  ``COLUMN_NOT_FOUND: line 1:N: Column 'c' cannot be resolved``; DuckDB (like MySQL) accepts it. ``GROUP BY 1``
  and ``ORDER BY c`` are fine in both.
- Arithmetic between a string and a number (``'1' + 1``): Trino has no implicit varchar coercion and fails
  with ``TYPE_MISMATCH: Cannot apply operator: varchar(1) + integer``; DuckDB casts the literal.
- Comparing a DATE or TIMESTAMP to a string (``order_date = '2025-01-01'`` on a DATE column): Trino fails with
  ``TYPE_MISMATCH: '=' cannot be applied to date, varchar(10)``; DuckDB casts the string.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlglot import exp

from lakebox.query.errors import AthenaError, at, position_of
from lakebox.query.trino import static_type, trino_type

_ARITH = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}
_CMP = {exp.EQ: "=", exp.NEQ: "<>", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}
_NUMERIC = ("integer", "bigint", "smallint", "tinyint", "double", "real", "decimal")
_TEMPORAL = ("date", "timestamp")


def _source_columns(select: exp.Select, schema: Mapping[tuple[str, str], Sequence[tuple[str, str]]],
                    ctes: Mapping[str, exp.Expression]) -> set[str] | None:
    """Names the FROM clause of ``select`` provides, or None when some source's columns are unknown."""
    names: set[str] = set()
    from_ = select.args.get("from_") or select.args.get("from")
    sources = ([from_.this] if from_ is not None else []) + [j.this for j in select.args.get("joins") or []]
    for src in sources:
        alias = src.args.get("alias")
        alias_cols = [c.name.lower() for c in alias.columns] if isinstance(alias, exp.TableAlias) else []
        if alias_cols:
            names.update(alias_cols)
            continue
        if isinstance(src, exp.Table):
            key = (src.db.lower(), src.name.lower())
            if not src.db and src.name.lower() in ctes:
                cols = ctes[src.name.lower()]
                outs = [n.lower() for n in cols.named_selects] if isinstance(cols, exp.Query) else []
                if not outs or "*" in outs:
                    return None
                names.update(outs)
            elif key in schema:
                names.update(c.lower() for c, _ in schema[key])
            else:
                return None
        elif isinstance(src, exp.Subquery) and isinstance(src.this, exp.Query):
            outs = [n.lower() for n in src.this.named_selects]
            if not outs or "*" in outs:
                return None
            names.update(outs)
        else:
            return None
    return names


def check_group_by_aliases(tree: exp.Expression, sql: str,
                           schema: Mapping[tuple[str, str], Sequence[tuple[str, str]]]) -> None:
    """Refuse GROUP BY on a select-list alias that is not also a column of the FROM clause."""
    ctes = {c.alias_or_name.lower(): c.this for c in tree.find_all(exp.CTE)}
    for select in tree.find_all(exp.Select):
        group = select.args.get("group")
        if group is None:
            continue
        aliases = {e.alias.lower() for e in select.expressions if isinstance(e, exp.Alias)}
        if not aliases:
            continue
        columns = None
        for expr in group.expressions:
            for col in expr.find_all(exp.Column):
                if col.table or col.name.lower() not in aliases:
                    continue
                if columns is None:
                    columns = _source_columns(select, schema, ctes)
                    if columns is None:
                        return
                if col.name.lower() in columns:
                    continue
                line, c = position_of(col.this, sql)
                raise AthenaError("COLUMN_NOT_FOUND", at(f"Column '{col.name.lower()}' cannot be resolved", line, c),
                                  line=line, column=c)


def check_operand_types(tree: exp.Expression, sql: str, columns: Mapping[str, str]) -> None:
    """Refuse string/number arithmetic and temporal/string comparisons, as Trino's analyzer does."""
    for node in tree.walk():
        if type(node) in _ARITH:
            op = _ARITH[type(node)]
            left, right = static_type(node.this, columns), static_type(node.expression, columns)
            if left and right and _mixes(left, right, ("varchar", "char"), _NUMERIC):
                line, col = position_of(node.this, sql)
                raise AthenaError("TYPE_MISMATCH", at(f"Cannot apply operator: {left} {op} {right}", line, col),
                                  line=line, column=col)
        elif type(node) in _CMP:
            op = _CMP[type(node)]
            left, right = static_type(node.this, columns), static_type(node.expression, columns)
            if left and right and _mixes(left, right, ("varchar", "char"), _TEMPORAL):
                line, col = position_of(node.this, sql)
                raise AthenaError("TYPE_MISMATCH", at(f"'{op}' cannot be applied to {left}, {right}", line, col),
                                  line=line, column=col)


def _mixes(a: str, b: str, one: tuple[str, ...], other: tuple[str, ...]) -> bool:
    return (a.startswith(one) and b.startswith(other)) or (b.startswith(one) and a.startswith(other))


__all__ = ["check_group_by_aliases", "check_operand_types", "trino_type"]

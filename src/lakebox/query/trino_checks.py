"""Queries Athena rejects at analysis time but DuckDB would run: found on the AST, before DuckDB sees them.

- ``GROUP BY`` a select-list alias. Trino resolves GROUP BY names against the FROM clause only (the SQL
  standard), so ``SELECT upper(customer) AS c ... GROUP BY c`` fails with
  ``COLUMN_NOT_FOUND: line 1:N: Column 'c' cannot be resolved``; DuckDB (like MySQL) accepts it. ``GROUP BY 1``
  and ``ORDER BY c`` are fine in both.
- Arithmetic between a string and a number (``'1' + 1``): Trino has no implicit varchar coercion and fails
  with ``TYPE_MISMATCH: Cannot apply operator: varchar(1) + integer``; DuckDB casts the literal.
- Comparing a DATE or TIMESTAMP to a string (``order_date = '2025-01-01'`` on a DATE column): Trino fails with
  ``TYPE_MISMATCH: '=' cannot be applied to date, varchar(10)``; DuckDB casts the string. The same for a string
  compared to a number (``'1' = 1``, ``customer_id = 1``).
- ``date + 1`` and ``date - date`` (``Cannot apply operator: date - date``: Trino has no such operator; use
  ``date_diff``), ``'a' || 1`` (no ``concat(varchar, integer)``: FUNCTION_NOT_FOUND), and set operations whose
  columns mix strings, numbers and dates (``column 1 in UNION query has incompatible types``).
- ``WHERE`` and ``HAVING`` on a select-list alias, as for GROUP BY.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence

from sqlglot import exp

from lakebox.query.errors import AthenaError, at, position_of
from lakebox.query.trino_scope import Columns, unresolved
from lakebox.query.trino_types import Problem, analysis_order, static_type

_ARITH: dict[type[exp.Expr], str] = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}
_CMP: dict[type[exp.Expr], str] = {exp.EQ: "=", exp.NEQ: "<>", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}
_NUMERIC = ("integer", "bigint", "smallint", "tinyint", "double", "real", "decimal")
_TEMPORAL = ("date", "timestamp")
_TEXT = ("varchar", "char")


def _source_columns(select: exp.Select, schema: Mapping[tuple[str, str], Sequence[tuple[str, str]]],
                    ctes: Mapping[str, exp.Expr]) -> set[str] | None:
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


def _own_columns(select: exp.Select, clause: exp.Expr) -> list[exp.Column]:
    """Columns of ``clause`` that belong to ``select`` itself (not to a subquery or a lambda inside it)."""
    out = []
    for col in clause.find_all(exp.Column):
        if col.find_ancestor(exp.Select) is select and col.find_ancestor(exp.Lambda) is None:
            out.append(col)
    return out


def check_group_by_aliases(tree: exp.Expr, sql: str,
                           schema: Mapping[tuple[str, str], Sequence[tuple[str, str]]]) -> None:
    """Refuse GROUP BY, WHERE and HAVING on a select-list alias that is not also a column of the FROM
    clause: Trino resolves them against the FROM clause only."""
    ctes = {c.alias_or_name.lower(): c.this for c in tree.find_all(exp.CTE)}
    for select in tree.find_all(exp.Select):
        clauses = [select.args.get(k) for k in ("group", "where", "having")]
        if not any(c is not None for c in clauses):
            continue
        aliases = {e.alias.lower() for e in select.expressions if isinstance(e, exp.Alias)}
        if not aliases:
            continue
        columns = None
        for clause in clauses:
            if clause is None:
                continue
            for col in _own_columns(select, clause):
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


def check_operand_types(tree: exp.Expr, sql: str, columns: Mapping[str, str]) -> None:
    """Refuse what Trino's analyzer refuses for lack of an implicit coercion: string/number arithmetic and
    comparisons, temporal/string comparisons, date/number arithmetic and date - date, ``||`` of a string
    and a number, and set operations whose columns have incompatible types."""
    for node in tree.walk():
        if type(node) in _ARITH:
            op = _ARITH[type(node)]
            left, right = static_type(node.this, columns), static_type(node.expression, columns)
            if left and right and (_mixes(left, right, _TEXT, _NUMERIC) or _mixes(left, right, _TEMPORAL, _NUMERIC)
                                   or (op == "-" and left == right == "date")):
                _mismatch(node, sql, f"Cannot apply operator: {left} {op} {right}")
        elif type(node) in _CMP:
            op = _CMP[type(node)]
            left, right = static_type(node.this, columns), static_type(node.expression, columns)
            if left and right and (_mixes(left, right, _TEXT, _TEMPORAL) or _mixes(left, right, _TEXT, _NUMERIC)):
                _mismatch(node, sql, f"'{op}' cannot be applied to {left}, {right}")
        elif isinstance(node, exp.Between):
            types = [static_type(n, columns) if isinstance(n, exp.Expr) else None
                     for n in (node.this, node.args.get("low"), node.args.get("high"))]
            known = [t for t in types if t]
            if any(_mixes(a, b, _TEXT, _NUMERIC) or _mixes(a, b, _TEXT, _TEMPORAL) for a in known for b in known):
                _mismatch(node, sql, f"Cannot check if {types[0]} is BETWEEN {types[1]} and {types[2]}")
        elif isinstance(node, exp.DPipe):
            left, right = static_type(node.this, columns), static_type(node.expression, columns)
            if left and right and (_mixes(left, right, _TEXT, _NUMERIC + _TEMPORAL + ("boolean",))):
                line, col = position_of(node.this, sql)
                raise AthenaError("FUNCTION_NOT_FOUND", at(
                    f"Unexpected parameters ({left}, {right}) for function concat. Expected: "
                    "concat(char(x), char(y)) char(x + y), concat(array(E)) array(E), concat(E, array(E)) array(E), "
                    "concat(array(E), E) array(E), concat(varbinary) varbinary, concat(varchar) varchar",
                    line, col), line=line, column=col)
        elif isinstance(node, exp.Union | exp.Intersect | exp.Except):
            _check_set_operation(node, sql, columns)


def _check_set_operation(node: exp.SetOperation, sql: str, columns: Mapping[str, str]) -> None:
    left, right = node.left, node.right
    if not isinstance(left, exp.Select) or not isinstance(right, exp.Select):
        return
    if len(left.expressions) != len(right.expressions):
        return
    for i, (a, b) in enumerate(zip(left.expressions, right.expressions, strict=True), start=1):
        ta, tb = static_type(a.unalias(), columns), static_type(b.unalias(), columns)
        if ta and tb and (_mixes(ta, tb, _TEXT, _NUMERIC + _TEMPORAL + ("boolean",))
                          or _mixes(ta, tb, _TEMPORAL, _NUMERIC + ("boolean",))):
            name = type(node).__name__.upper()
            _mismatch(left, sql, f"column {i} in {name} query has incompatible types: {ta}, {tb}")


def _mismatch(node: exp.Expr, sql: str, message: str) -> None:
    line, col = position_of(node, sql)
    raise AthenaError("TYPE_MISMATCH", at(message, line, col), line=line, column=col)


def _mixes(a: str, b: str, one: tuple[str, ...], other: tuple[str, ...]) -> bool:
    return (a.startswith(one) and b.startswith(other)) or (b.startswith(one) and a.startswith(other))


def column_problems(tree: exp.Expr, sql: str, table_columns: Callable[[exp.Table], Columns]) -> list[Problem]:
    """COLUMN_NOT_FOUND for each column no source provides (Trino resolves names before types, so these come
    before any type error), with its place in Trino's order of analysis."""
    out: list[Problem] = []
    missing = unresolved(tree, table_columns)
    if not missing:
        return out
    known: set[str] = set()
    for table in tree.find_all(exp.Table):
        known.update(table_columns(table) or {})
    for col in missing:
        line, c = position_of(col.this, sql)
        # Athena's message stops at "cannot be resolved"; the hint names the closest column in scope.
        near = difflib.get_close_matches(col.name.lower(), sorted(known), n=1, cutoff=0.6)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        out.append((analysis_order(col), AthenaError(
            "COLUMN_NOT_FOUND", at(f"Column '{col.name.lower()}' cannot be resolved{hint}", line, c),
            line=line, column=c)))
    return out

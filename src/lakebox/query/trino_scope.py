"""Column types per scope: each column reference typed from the source it actually reads.

A CTE or subquery may reuse a catalog column's name for another type (``date_format(order_date, '%Y-%m')
AS order_date``); a lookup by name across the whole query would give the outer reference the catalog's
``date``. Here every column of every scope (``sqlglot.optimizer.scope``) is resolved against that scope's
sources: a catalog table (its column types), a CTE or derived table (the static types of its select list,
typed innermost first), or an unknown source (UNNEST, VALUES, table functions), whose columns stay untyped.
An unresolved or ambiguous column has no type, which only disables the type-dependent checks and rewrites.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

#: Columns of a source: name -> Trino type (None when the type is not evident), or None when unknown.
Columns = dict[str, str | None] | None


class ColumnTypes(dict):
    """Name -> type for columns outside any resolved scope, plus :attr:`nodes`, the type of each column
    reference of the query (by identity), which :func:`trino_types.static_type` consults first."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.nodes: dict[int, tuple[exp.Column, str | None]] = {}

    def of(self, node: exp.Column) -> tuple[bool, str | None]:
        """(known, type) of a column reference resolved by scope."""
        hit = self.nodes.get(id(node))
        if hit is not None and hit[0] is node:
            return True, hit[1]
        return False, None


def resolve(tree: exp.Expr, out: ColumnTypes, table_columns: Callable[[exp.Table], Columns],
            static_type: Callable[[exp.Expr, Mapping[str, str]], str | None]) -> bool:
    """Fill ``out.nodes`` for every column of ``tree``; False when the scopes cannot be built."""
    try:
        scopes = traverse_scope(tree)
    except Exception:  # noqa: BLE001 - sqlglot refuses some shapes; the name lookup remains
        return False
    derived: dict[int, Columns] = {}
    for scope in scopes:  # innermost first
        sources = {name.lower(): _source_columns(src, derived, table_columns, static_type)
                   for name, (_, src) in scope.selected_sources.items()}
        for col in scope.columns:
            out.nodes[id(col)] = (col, _column_type(col, scope, sources, derived, table_columns))
        derived[id(scope.expression)] = _outputs(scope.expression, sources, derived, out, static_type)
    return True


def _values_columns(values: exp.Values,
                    static_type: Callable[[exp.Expr, Mapping[str, str]], str | None] | None) -> Columns:
    """A VALUES list's columns: a column's type is evident when every non-NULL row has the same one."""
    alias = values.args.get("alias")
    names = [c.name.lower() for c in alias.columns] if isinstance(alias, exp.TableAlias) else []
    if not names:
        return None
    rows = [r.expressions if isinstance(r, exp.Tuple) else [r] for r in values.expressions]
    out: dict[str, str | None] = {}
    for i, name in enumerate(names):
        seen = {static_type(r[i], {}) if static_type and i < len(r) else None
                for r in rows if i < len(r) and not isinstance(r[i], exp.Null)}
        out[name] = seen.pop() if len(seen) == 1 else None
    return out


def _source_columns(src: object, derived: dict[int, Columns], table_columns: Callable[[exp.Table], Columns],
                    static_type: Callable[[exp.Expr, Mapping[str, str]], str | None] | None = None) -> Columns:
    if isinstance(src, exp.Table):
        return table_columns(src)
    if isinstance(src, exp.Values):
        return _values_columns(src, static_type)
    if isinstance(src, Scope) and isinstance(src.expression, exp.Values):
        return _values_columns(src.expression, static_type)
    if isinstance(src, Scope):
        if isinstance(src.expression, exp.Unnest):
            alias = src.expression.args.get("alias")
            names = [c.name.lower() for c in alias.columns] if isinstance(alias, exp.TableAlias) else []
            offset = src.expression.args.get("offset")
            if isinstance(offset, exp.Identifier):
                names.append(offset.name.lower())  # WITH ORDINALITY
            return dict.fromkeys(names) if names else None
        return derived.get(id(src.expression))
    return None


def _column_type(col: exp.Column, scope: Scope, sources: dict[str, Columns], derived: dict[int, Columns],
                 table_columns: Callable[[exp.Table], Columns]) -> str | None:
    name = col.name.lower()
    if col.table:
        cols = sources.get(col.table.lower())
        return cols.get(name) if cols else None
    matches = [cols for cols in sources.values() if cols is not None and name in cols]
    if len(matches) == 1:
        return matches[0][name]
    if matches or any(cols is None for cols in sources.values()):
        return None
    # A correlated reference to an enclosing query's source.
    parent = scope.parent
    while parent is not None:
        outer = {n.lower(): _source_columns(s, derived, table_columns)
                 for n, (_, s) in parent.selected_sources.items()}
        found = [cols for cols in outer.values() if cols is not None and name in cols]
        if found or any(cols is None for cols in outer.values()):
            return found[0][name] if len(found) == 1 else None
        parent = parent.parent
    return None


def _outputs(query: exp.Expr, sources: dict[str, Columns], derived: dict[int, Columns],
             out: ColumnTypes, static_type: Callable[[exp.Expr, Mapping[str, str]], str | None]) -> Columns:
    """Output column types of a scope's query."""
    if isinstance(query, exp.SetOperation):
        left, right = derived.get(id(query.left)), derived.get(id(query.right))
        if left is None or right is None or len(left) != len(right):
            return None
        return {n: (t if t == u else None) for (n, t), u in zip(left.items(), right.values(), strict=True)}
    if not isinstance(query, exp.Select):
        return None
    result: dict[str, str | None] = {}
    for e in query.expressions:
        if isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star)):
            picked = [sources.get(e.table.lower())] if isinstance(e, exp.Column) and e.table else list(sources.values())
            if any(p is None for p in picked):
                return None
            for p in picked:
                result.update(p or {})
            continue
        name = e.alias_or_name.lower()
        if name:
            result[name] = static_type(e.unalias(), out)
    return result


__all__ = ["ColumnTypes", "resolve"]


#: Trino's session functions written without parentheses, which sqlglot reads as columns.
SESSION_NAMES = frozenset({"current_schema", "current_catalog", "current_path", "current_user", "current_role"})


def unresolved(tree: exp.Expr, table_columns: Callable[[exp.Table], Columns]) -> list[exp.Column]:
    """Column references no visible source provides, where every source's columns are known (catalog
    tables, CTEs and derived tables with evident outputs, aliased VALUES and UNNEST): Trino fails on them
    with COLUMN_NOT_FOUND. Lambda parameters and ORDER BY references to select aliases are not columns."""
    try:
        scopes = traverse_scope(tree)
    except Exception:  # noqa: BLE001 - sqlglot refuses some shapes; DuckDB's binder then reports the column
        return []
    derived: dict[int, Columns] = {}
    missing: list[exp.Column] = []
    for scope in scopes:
        sources = {name.lower(): _source_columns(src, derived, table_columns, None)
                   for name, (_, src) in scope.selected_sources.items()}
        derived[id(scope.expression)] = _names(scope.expression, sources, derived)
        aliases = {e.alias.lower() for e in getattr(scope.expression, "expressions", []) if isinstance(e, exp.Alias)}
        for col in scope.columns:
            if col.find_ancestor(exp.Select) is not scope.expression:
                continue  # a nested subquery's column, checked in its own scope
            if not col.table and col.name.lower() in SESSION_NAMES:
                continue  # Trino's current_schema etc., checked by the allow-list
            if _is_bound(col, aliases) or _found(col, scope, sources, derived, table_columns):
                continue
            missing.append(col)
    return missing


def _names(query: exp.Expr, sources: dict[str, Columns], derived: dict[int, Columns]) -> Columns:
    """Output column names of a scope's query (types unknown), or None when not evident."""
    if isinstance(query, exp.SetOperation):
        return derived.get(id(query.left))
    if not isinstance(query, exp.Select):
        return None
    out: dict[str, str | None] = {}
    for e in query.expressions:
        if isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star)):
            picked = [sources.get(e.table.lower())] if isinstance(e, exp.Column) and e.table else list(sources.values())
            if any(p is None for p in picked):
                return None
            for p in picked:
                out.update(dict.fromkeys(p or {}))
            continue
        if not e.alias_or_name:
            continue
        out[e.alias_or_name.lower()] = None
    return out


def _is_bound(col: exp.Column, aliases: set[str]) -> bool:
    lam = col.find_ancestor(exp.Lambda)
    while lam is not None:
        if col.name.lower() in {p.name.lower() for p in lam.expressions} and not col.table:
            return True
        lam = lam.find_ancestor(exp.Lambda)
    return col.find_ancestor(exp.Order) is not None and not col.table and col.name.lower() in aliases


def _found(col: exp.Column, scope: Scope, sources: dict[str, Columns], derived: dict[int, Columns],
           table_columns: Callable[[exp.Table], Columns]) -> bool:
    """True when some source provides the column, or when that cannot be told (an unknown source)."""
    name = col.name.lower()
    current: Scope | None = scope
    visible = sources
    while current is not None:
        if col.table:
            if col.table.lower() in visible:
                cols = visible[col.table.lower()]
                return cols is None or name in cols
        else:
            if any(cols is None for cols in visible.values()):
                return True
            if any(name in cols for cols in visible.values() if cols is not None):
                return True
        current = current.parent
        if current is not None:
            visible = {n.lower(): _source_columns(s, derived, table_columns, None)
                       for n, (_, s) in current.selected_sources.items()}
    # ``t.col.field`` (a row field) or an unknown qualifier: left to DuckDB's binder.
    return bool(col.table) and col.table.lower() not in sources

"""Trino semantics on DuckDB: AST rewrites (sqlglot) and DuckDB macros where the two engines differ.

``parse`` reads Athena (Trino) SQL with :class:`AthenaTrino`, a Trino dialect that leaves the functions
lakebox translates itself as plain calls (sqlglot's own mappings lose information: it turns Trino's
``%i`` into a generic minute code and cannot tell ``%D`` is unsupported). ``rewrite`` runs after name
resolution and turns those calls, and the operators whose meaning differs, into DuckDB SQL. ``install``
creates the ``__trino_*`` macros on each query connection.

The differences handled here, each with Trino's documented behaviour (https://trino.io/docs/current/):

- ``a / b`` on integers truncates (``7 / 2`` = 3); DuckDB's ``/`` always returns a double. ``/`` and ``%``
  by zero fail with DIVISION_BY_ZERO (DuckDB returns NULL). Typed macro overloads pick the behaviour from the
  argument types at bind time, so no guessing of column types is needed.
- ``date_format``/``date_parse`` use MySQL specifiers, ``format_datetime``/``parse_datetime`` Joda patterns
  (see ``trino_time``). ``date_format`` has no VARCHAR overload: a string argument fails as in Athena.
- ``date_trunc`` on a DATE returns a DATE, and only accepts day/week/month/quarter/year;
  ``DATE ± INTERVAL`` stays a DATE (DuckDB returns a TIMESTAMP).
- ``date_diff`` counts whole units elapsed (DuckDB's ``date_diff`` counts boundaries crossed).
- ``regexp_extract`` returns NULL without a match and ``split_part`` NULL past the last field (DuckDB:
  empty strings); ``regexp_replace`` replaces every match and writes groups as ``$1``.
- ``avg`` of ``decimal(p,s)`` is ``decimal(p,s)`` and ``round(decimal(p,s), n)`` is ``decimal(p+1,s)``; DuckDB
  returns a double and ``decimal(p,n)``. These need the argument's type, taken from casts, literals and the
  catalog's column types (:func:`static_type`).
- ``reduce`` takes an output lambda, applied here by substitution.
- Failures inside macros are raised by casting a marked string (``[[LAKEBOX:TYPE:message]]``), which,
  unlike DuckDB's ``error()``, is allowed inside ``TRY``; ``duck_errors.from_duckdb`` turns the marker back into
  the Athena error.

Operators whose value differs (``AT TIME ZONE``, integer casts of doubles, decimal division, subscripts,
``substr``, ``typeof``) are in ``trino_ops``. The per-function handlers live in ``trino_functions`` and the
static types in ``trino_types``.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp
from sqlglot.dialects.trino import Trino

from lakebox.query import trino_ops
from lakebox.query.errors import AthenaError
from lakebox.query.trino_functions import (
    RAW_FUNCTIONS,
    UNSUPPORTED_FUNCTIONS,
    FunctionRewriter,
    call,
)
from lakebox.query.trino_macros import native_fallback, specialized
from lakebox.query.trino_types import DECIMAL, arithmetic_type, decimal_literal_type, static_type

_FLOATS = ("double", "real")
#: Aggregates parsed as plain calls (``RAW_FUNCTIONS``): an argument holding one is an aggregate too.
_AGGREGATE_CALLS = frozenset({"avg", "approx_percentile", "every", "count_if", "arbitrary", "max_by", "min_by"})

#: EXTRACT fields DuckDB names otherwise.
_EXTRACT_FIELDS = {"DAY_OF_MONTH": "day", "DAY_OF_YEAR": "dayofyear", "DOY": "dayofyear"}


class AthenaTrino(Trino):
    """Trino as Athena engine v3 speaks it, parsed for lakebox's own translation of some functions."""

    # sqlglot 30 binds ``Trino.Parser = TrinoParser`` (a class attribute, not a nested class, to mypy).
    class Parser(Trino.Parser):  # type: ignore[valid-type,misc]
        FUNCTIONS = {k: v for k, v in Trino.Parser.FUNCTIONS.items() if k not in RAW_FUNCTIONS}


class Rewriter(FunctionRewriter):
    """One query's rewrite: needs the query text (for positions) and the column types in scope.

    Function calls are handled by :class:`~lakebox.query.trino_functions.FunctionRewriter`; this class adds
    the operators, aggregates and result columns whose meaning differs, and the walk over the tree."""

    def _div(self, node: exp.Div) -> exp.Expr:
        """Decimal division keeps a decimal (``trino_ops``); integer division truncates and fails on zero.
        Decided from the operands' static types, read before the rewrite: DuckDB cannot pick a macro
        overload for an aggregate or window argument, so known types call a single-type variant."""
        a, b = node.this, node.expression
        ta, tb = self._types.get(id(node), (None, None))
        dec = trino_ops.decimal_division(a, b, ta, tb)
        if dec is not None:
            return dec
        spec = specialized("div", ta, tb)
        if spec is not None:
            return call(spec, a, b)
        if ta in _FLOATS or tb in _FLOATS or id(node) in self._aggregates:
            # A double operand divides as doubles; with unknown aggregate operands DuckDB's ``/`` (integer
            # division on, as the engine sets it) truncates integers like Trino.
            return exp.Div(this=a, expression=b)
        return call("__trino_div", a, b)

    def _mod(self, node: exp.Mod) -> exp.Expr:
        """``%``: DuckDB's is right on decimals and doubles; integers fail on a zero divisor."""
        ta, tb = self._types.get(id(node), (None, None))
        spec = specialized("mod", ta, tb)
        if spec is not None:
            return call(spec, node.this, node.expression)
        if any(DECIMAL.match(t or "") for t in (ta, tb)):
            out = arithmetic_type(exp.Mod, ta, tb)  # decimal(min(p2 - s2, p1 - s1) + max(s1, s2), max(s1, s2))
            mod = exp.Mod(this=node.this, expression=node.expression)
            return exp.cast(mod, out.upper()) if out and DECIMAL.match(out) else mod
        if ta in _FLOATS or tb in _FLOATS or id(node) in self._aggregates:
            return exp.Mod(this=node.this, expression=node.expression)
        return call("__trino_mod", node.this, node.expression)

    def _concat(self, node: exp.DPipe) -> exp.Expr:
        """``array || element`` and ``element || array`` append and prepend (DuckDB's ``||`` needs two lists)."""
        ta, tb = (static_type(n, self.columns) for n in (node.this, node.expression))
        a_list, b_list = (isinstance(n, exp.Array) or (t is not None and t.startswith("array("))
                          for n, t in ((node.this, ta), (node.expression, tb)))
        if a_list and tb is not None and not b_list:
            return call("list_append", node.this, node.expression)
        if b_list and ta is not None and not a_list:
            return call("list_prepend", node.this, node.expression)
        return node

    def _typed(self, name: str, node: exp.Expr, *args: exp.Expr) -> exp.Expr | None:
        """``__trino_<name>(args)`` by the static type of the first operand: its single-type variant, or the
        overloaded macro; None (keep DuckDB's operator) for an untyped aggregate or window operand."""
        static = self._types.get(id(node), (None,))[0]
        spec = specialized(name, static)
        if spec is not None:
            return call(spec, *args)
        if native_fallback(name, static):
            return None
        return None if id(node) in self._aggregates else call(f"__trino_{name}", *args)

    def _top_level(self, tree: exp.Expr) -> None:
        """Result columns whose Trino value DuckDB cannot represent: year-month intervals are refused;
        ``AT TIME ZONE`` results are rendered as Trino prints them (the zone name kept), as varchar."""
        if not isinstance(tree, exp.Select):
            return
        for e in tree.expressions:
            inner = e.this if isinstance(e, exp.Alias) else e
            if any(isinstance(i, exp.Interval) and i.unit and i.unit.name.upper() in ("YEAR", "MONTH")
                   for i in inner.find_all(exp.Interval)) and not any(
                       isinstance(n, exp.Add | exp.Sub) and not isinstance(n.this, exp.Interval)
                       for n in inner.find_all(exp.Add, exp.Sub)):
                raise AthenaError("NOT_SUPPORTED", "interval year to month values cannot be returned by lakebox; "
                                  "add them to a date or timestamp instead")
            if isinstance(inner, exp.AtTimeZone):
                text = exp.DPipe(this=exp.DPipe(
                    this=call("strftime", inner.copy(), exp.Literal.string("%Y-%m-%d %H:%M:%S.%g")),
                    expression=exp.Literal.string(" ")), expression=inner.args["zone"].copy())
                inner.replace(text)

    def _static_types(self, nodes: list[exp.Expr]) -> None:
        """Types of the operands the rewrites depend on, and which operands hold an aggregate or window,
        read before the walk changes the tree (``nodes`` is the tree's walk, kept alive for the ids)."""
        self._types = {}
        self._aggregates: set[int] = set()
        holds: set[int] = set()
        for node in reversed(nodes):  # children first
            if isinstance(node, exp.AggFunc | exp.Window) or (
                    isinstance(node, exp.Anonymous) and node.name.lower() in _AGGREGATE_CALLS) or any(
                    id(c) in holds for c in node.iter_expressions()):
                holds.add(id(node))
            if isinstance(node, exp.Anonymous):
                operands = list(node.expressions)
            elif isinstance(node, exp.Div | exp.Mod | exp.Add | exp.Sub):
                operands = [node.this, node.expression]
            elif isinstance(node, exp.Cast | exp.Typeof | exp.Sum | exp.Floor | exp.Ceil):
                operands = [node.this, None]
            elif isinstance(node, exp.Bracket) and len(node.expressions) == 1:
                operands = [node.expressions[0], None]
            else:
                continue
            self._types[id(node)] = tuple(static_type(o, self.columns) if isinstance(o, exp.Expression) else None
                                          for o in operands)
            if any(id(o) in holds for o in operands if o is not None):
                self._aggregates.add(id(node))

    def _operator(self, node: exp.Expr) -> exp.Expr:
        """The operators and expressions of ``trino_ops``."""
        if isinstance(node, exp.AtTimeZone):
            return trino_ops.at_time_zone(node)
        if isinstance(node, exp.Cast) and node.to.is_type(*exp.DataType.TEXT_TYPES) and node.to.expressions:
            # CAST(x AS varchar(n)) keeps the first n characters (DuckDB ignores the length).
            length = node.to.expressions[0]
            inner = exp.Cast(this=node.this, to=exp.DataType.build("VARCHAR"), safe=node.args.get("safe"))
            return call("substr", inner, exp.Literal.number(1), length.this if isinstance(length, exp.DataTypeParam)
                        else length)
        if isinstance(node, exp.Cast):  # TryCast included
            return trino_ops.integer_cast(node, self._types.get(id(node), (None, None))[0])
        if isinstance(node, exp.Bracket):
            return trino_ops.subscript(node, self.columns, self._types.get(id(node), (None, None))[0])
        if isinstance(node, exp.Substring):
            return trino_ops.substr(node)
        if isinstance(node, exp.Typeof):
            return trino_ops.typeof(node, self._types.get(id(node), (None, None))[0])
        return node

    def rewrite(self, tree: exp.Expr) -> exp.Expr:
        """Return ``tree`` rewritten for DuckDB (it may be a new root when the root itself is replaced)."""
        self._top_level(tree)
        nodes = list(tree.walk())
        self._static_types(nodes)

        def fix(node: exp.Expr) -> exp.Expr:
            if isinstance(node, exp.Anonymous):
                return self.rewrite_call(node)
            if isinstance(node, exp.Func) and node.sql_name().lower() in UNSUPPORTED_FUNCTIONS:
                raise AthenaError("NOT_SUPPORTED", f"Trino function {node.sql_name().lower()}() is not supported "
                                  "by lakebox (see tests/conformance/UNSUPPORTED.md)")
            if (isinstance(node, exp.Sum) and not isinstance(node.this, exp.Distinct)
                    and not isinstance(node.parent, exp.Filter)):
                return self._typed("sum", node, node.this) or node
            if isinstance(node, exp.Floor | exp.Ceil) and not node.args.get("decimals"):
                return self._typed("floor" if isinstance(node, exp.Floor) else "ceil", node, node.this) or node
            if isinstance(node, exp.Extract) and node.name.upper() in _EXTRACT_FIELDS:
                return exp.cast(call(_EXTRACT_FIELDS[node.name.upper()], node.expression), "BIGINT")
            if isinstance(node, exp.DPipe):
                return self._concat(node)
            if isinstance(node, exp.GroupConcat) and node.args.get("separator") is None:
                node.set("separator", exp.Literal.string(""))  # listagg's separator defaults to ''
                return node
            if isinstance(node, exp.Extract) and node.name.upper() in ("DOW", "DAY_OF_WEEK"):
                return exp.cast(call("isodow", node.expression), "BIGINT")
            if isinstance(node, exp.Extract) and node.name.upper() in ("YOW", "YEAR_OF_WEEK"):
                return exp.cast(call("isoyear", node.expression), "BIGINT")
            if (isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.DECIMAL)
                    and not node.to.expressions and isinstance(node.this, exp.Literal) and node.this.is_string):
                # DECIMAL '1.5' is decimal(2,1): as many digits as written, leading zeros included.
                return exp.cast(exp.Literal.string(node.this.this.strip()), decimal_literal_type(node.this.this).upper())
            if isinstance(node, exp.Unnest) and (len(node.expressions) > 1 or any(
                    isinstance(a, exp.Map | exp.VarMap) for a in node.expressions)):
                raise AthenaError("NOT_SUPPORTED", "UNNEST of several arrays or of a map is not supported by "
                                  "lakebox; UNNEST one array per CROSS JOIN")
            if isinstance(node, exp.Window) and isinstance(node.this, exp.Cast):
                # avg(decimal) became CAST(avg(x) AS DECIMAL(p,s)): the window goes inside the cast.
                cast = node.this
                node.set("this", cast.this)
                cast.set("this", node.copy())
                return cast
            if isinstance(node, exp.Div):
                return self._div(node)
            if isinstance(node, exp.Mod):
                return self._mod(node)
            if isinstance(node, exp.Add | exp.Sub) and isinstance(node.expression, exp.Interval):
                name = "plus_interval" if isinstance(node, exp.Add) else "minus_interval"
                return self._typed(name, node, node.this, node.expression) or node
            if isinstance(node, exp.Add) and isinstance(node.this, exp.Interval):
                self._types[id(node)] = self._types.get(id(node), (None, None))[::-1]
                return self._typed("plus_interval", node, node.expression, node.this) or node
            return self._operator(node)

        # Post-order, so that a call's arguments are already rewritten when the call itself is.
        for node in reversed(nodes):
            new = fix(node)
            if new is not node:
                if node is tree:
                    tree = new
                else:
                    node.replace(new)
        return tree


def rewrite(tree: exp.Expr, sql: str = "", columns: Mapping[str, str] | None = None) -> exp.Expr:
    """Return ``tree`` rewritten so that DuckDB computes what Trino would (see the module docstring)."""
    return Rewriter(sql, columns if columns is not None else {}).rewrite(tree)

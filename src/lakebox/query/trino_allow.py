"""The allow-list check: a query runs only if every function, operator and type in it is one whose translation
lakebox has verified against Trino's documented behaviour (``trino_signatures``).

The query is parsed a second time with every function kept as a plain call under the name the user wrote
(``_Raw``), so the check sees ``strpos`` or ``timezone`` rather than sqlglot's interpretation of them. Then:

- a call of a function listed as supported, with an argument count it runs with, passes;
- a Trino function lakebox does not run (or not with that many arguments) fails with ``NOT_SUPPORTED``
  naming it;
- a function Athena engine v3 does not have, or no Trino function at all, fails with
  ``FUNCTION_NOT_FOUND: Function 'f' not registered``, as in Athena;
- an expression node the translation does not know (an operator Trino does not have, such as ``&``) fails
  with ``NOT_SUPPORTED``; a cast or typed literal to a type lakebox does not compute exactly (``JSON``,
  ``CHAR(n)``, ``TIME WITH TIME ZONE``, ``IPADDRESS``...) fails with ``NOT_SUPPORTED`` naming the type.

The first problem in Trino's analysis order is reported: FROM, WHERE, GROUP BY, HAVING, the select list,
ORDER BY; within a clause, the leftmost.
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.errors import SqlglotError

from lakebox.query.errors import AthenaError, at, position_of
from lakebox.query.trino import AthenaTrino
from lakebox.query.trino_scope import SESSION_NAMES
from lakebox.query.trino_signatures import REFUSED, SUPPORTED
from lakebox.query.trino_types import Problem, analysis_order


class _Raw(AthenaTrino):
    """Trino with every function call parsed as a plain call, named as written."""

    class Parser(AthenaTrino.Parser):
        FUNCTIONS = {k: v for k, v in AthenaTrino.Parser.FUNCTIONS.items() if k in ("ARRAY", "UNNEST")}


#: Calls sqlglot parses with special syntax even in ``_Raw``, as Trino names them.
_SPECIAL: dict[type[exp.Expr], str] = {
    exp.Cast: "cast", exp.TryCast: "try_cast", exp.Extract: "extract", exp.Trim: "trim",
    exp.Substring: "substring", exp.StrPosition: "position", exp.If: "if", exp.GroupConcat: "listagg",
    exp.Ceil: "ceil", exp.Floor: "floor", exp.Chr: "chr", exp.Normalize: "normalize", exp.ArgMax: "max_by",
    exp.ArgMin: "min_by", exp.JSONExtract: "json_query", exp.JSONValue: "json_value",
    exp.JSONObject: "json_object", exp.JSONArray: "json_array", exp.CurrentDate: "current_date",
    exp.CurrentTime: "current_time", exp.CurrentTimestamp: "current_timestamp", exp.CurrentUser: "current_user",
    exp.Localtime: "localtime", exp.Localtimestamp: "localtimestamp", exp.ParseJSON: "json",
}
_SPECIAL_BY_NAME = {"OVERLAY": "overlay", "CURRENT_CATALOG": "current_catalog", "CURRENT_SCHEMA": "current_schema",
                    "CURRENT_ROLE": "current_role", "JSON_TABLE": "json_table", "JSON_EXISTS": "json_exists"}

#: Expression nodes whose translation is verified (functions are checked by name instead).
_NODES: tuple[type[exp.Expr], ...] = (
    exp.Select, exp.From, exp.Join, exp.Where, exp.Group, exp.Having, exp.Order, exp.Ordered, exp.Limit,
    exp.Offset, exp.Fetch, exp.Column, exp.Identifier, exp.Literal, exp.Alias, exp.Star, exp.Table,
    exp.TableAlias, exp.Subquery, exp.With, exp.CTE, exp.Union, exp.Intersect, exp.Except, exp.Values,
    exp.Tuple, exp.Paren, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg, exp.EQ, exp.NEQ, exp.LT,
    exp.LTE, exp.GT, exp.GTE, exp.And, exp.Or, exp.Not, exp.Is, exp.In, exp.Between, exp.Like, exp.Escape,
    exp.Case, exp.If, exp.Null, exp.Boolean, exp.Lambda, exp.Array, exp.Bracket, exp.Window, exp.WindowSpec,
    exp.Distinct, exp.Filter, exp.Interval, exp.Var, exp.Unnest, exp.Lateral, exp.DPipe, exp.AtTimeZone,
    exp.Exists, exp.Any, exp.All, exp.DataType, exp.DataTypeParam, exp.NullSafeEQ, exp.NullSafeNEQ,
    exp.PropertyEQ, exp.WithinGroup, exp.Dot, exp.Anonymous, exp.Cast, exp.TryCast, exp.Extract, exp.Trim,
    exp.Substring, exp.StrPosition, exp.GroupConcat, exp.Ceil, exp.Floor, exp.Chr, exp.ArgMax, exp.ArgMin,
    exp.CurrentDate, exp.TableSample, exp.Rollup, exp.Cube, exp.GroupingSets, exp.LimitOptions, exp.ColumnDef, exp.Qualify, exp.Placeholder, exp.Kwarg,
)

_T = exp.DataType.Type
#: Types whose values lakebox computes and prints exactly as Trino does.
_TYPES = frozenset({
    _T.BOOLEAN, _T.TINYINT, _T.SMALLINT, _T.INT, _T.BIGINT, _T.FLOAT, _T.DOUBLE, _T.DECIMAL, _T.VARCHAR,
    _T.TEXT, _T.DATE, _T.TIMESTAMP, _T.TIMESTAMPTZ, _T.TIME, _T.ARRAY, _T.MAP, _T.INTERVAL, _T.UNKNOWN, _T.NULL,
})
_PRECISE = frozenset({_T.TIMESTAMP, _T.TIMESTAMPTZ, _T.TIME})
def _not_found(name: str, node: exp.Expr, sql: str) -> AthenaError:
    line, col = position_of(node, sql)
    return AthenaError("FUNCTION_NOT_FOUND", at(f"Function '{name}' not registered", line, col),
                       line=line, column=col)


def _not_supported(what: str, node: exp.Expr, sql: str) -> AthenaError:
    line, col = position_of(node, sql)
    return AthenaError("NOT_SUPPORTED", at(f"{what} is not supported by lakebox (see docs/functions.md)", line, col),
                       line=line, column=col)


def call_name(node: exp.Func) -> str:
    """The Trino name of a call in a tree from :func:`parse_raw`."""
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    for cls, name in _SPECIAL.items():
        if type(node) is cls:
            return name
    return _SPECIAL_BY_NAME.get(node.sql_name(), node.sql_name().lower())


def _arity(node: exp.Func) -> int:
    if isinstance(node, exp.Anonymous):
        return len(node.expressions)
    return sum(1 for k, v in node.args.items() if v is not None and k not in ("safe",))


#: Words parsed as calls that are syntax, not functions: quantified comparisons (``x < ALL (...)``).
_SYNTAX_CALLS = frozenset({"all", "any", "some"})


def _check_call(node: exp.Func, sql: str) -> AthenaError | None:
    name = call_name(node)
    if name in _SYNTAX_CALLS and isinstance(node, exp.Anonymous):
        return None
    if type(node) in _SPECIAL and not isinstance(node, exp.Anonymous):
        entry = SUPPORTED.get(name)
        return None if entry else _refusal(name, node, sql)
    entry = SUPPORTED.get(name)
    if entry is not None:
        n = _arity(node)
        if entry.arities is None or n in entry.arities:
            return None
        return _not_supported(f"Function {name} with {n} argument{'s' if n != 1 else ''}", node, sql)
    return _refusal(name, node, sql)


def _refusal(name: str, node: exp.Expr, sql: str) -> AthenaError:
    if name in REFUSED:
        return _not_supported(f"Function {name} ({REFUSED[name].reason})", node, sql)
    return _not_found(name, node, sql)


def _type_name(dtype: exp.DataType) -> str:
    return dtype.sql("trino").lower()


_UTC = re.compile(r"(?i)\s*(UTC|Z|GMT|[+-]00(:?00)?)$")
_ZONE = re.compile(r"(?i)(\s+[A-Za-z][\w/+-]*|[+-]\d\d(:?\d\d)?|Z)$")


def _check_type(node: exp.Cast, sql: str) -> AthenaError | None:
    """Casts and typed literals: to a type lakebox computes exactly; timestamps with up to millisecond
    precision; TIMESTAMP '... zone' literals only in UTC (other zones are not kept)."""
    for part in node.to.find_all(exp.DataType):
        if part.this not in _TYPES:
            return _not_supported(f"Type {_type_name(part)}", node, sql)
        if part.this in _PRECISE and part.expressions and int(part.expressions[0].name or 0) > 3:
            return _not_supported(f"Type {_type_name(part)}", node, sql)
    lit = node.this
    if node.to.this == _T.TIMESTAMPTZ and isinstance(lit, exp.Literal) and lit.is_string:
        text = lit.this.strip()
        if _ZONE.search(text[10:]) and not _UTC.search(text):
            return _not_supported("TIMESTAMP WITH TIME ZONE in a zone other than UTC", node, sql)
    return None


def _check_node(node: exp.Expr, sql: str) -> AthenaError | None:
    if isinstance(node, exp.Cast):  # TryCast included; typed literals (DATE '...') are casts too
        return _check_type(node, sql)
    if type(node) in _SPECIAL or isinstance(node, exp.Anonymous):
        return _check_call(node, sql)  # type: ignore[arg-type]
    if isinstance(node, exp.Tuple) and not isinstance(node.parent, exp.In | exp.Values | exp.Unnest | exp.GroupingSets
                                                              | exp.Cube | exp.Rollup | exp.Group):
        return _not_supported("Row value (a, b, ...)", node, sql)
    if isinstance(node, exp.Subquery | exp.Select) and node.find_ancestor(exp.Lambda) is not None:
        return AthenaError("NOT_SUPPORTED", "Lambda expression cannot contain subqueries")
    if isinstance(node, exp.LimitOptions) and (node.args.get("with_ties") or node.args.get("percent")):
        return _not_supported("FETCH ... WITH TIES" if node.args.get("with_ties") else "FETCH ... PERCENT", node, sql)
    if isinstance(node, exp.Column) and not node.table and node.name.lower() in SESSION_NAMES:
        return _refusal(node.name.lower(), node, sql)
    if isinstance(node, _NODES):
        return None
    if isinstance(node, exp.Func):
        return _check_call(node, sql)
    return _not_supported(f"Operator {node.key.upper()}", node, sql)


def parse_raw(sql: str) -> list[exp.Expr]:
    """``sql`` parsed with every function call kept as written (raises sqlglot's errors)."""
    return [t for t in _Raw().parse(sql) if t is not None]


def problems(sql: str) -> list[Problem]:
    """Every refusal (NOT_SUPPORTED / FUNCTION_NOT_FOUND) in ``sql``, each with its place in Trino's analysis
    order (:func:`analysis_order`)."""
    try:
        statements = parse_raw(sql)
    except SqlglotError:
        return []  # the query parser reports syntax errors itself
    out: list[Problem] = []
    for tree in statements:
        for node in tree.walk():
            err = _check_node(node, sql)
            if err is not None:
                out.append((analysis_order(node), err))
    return out


def check(sql: str) -> None:
    """Raise the first refusal for ``sql``, in Trino's analysis order."""
    found = problems(sql)
    if found:
        raise min(found, key=lambda p: p[0])[1]


__all__ = ["check", "problems"]

"""Trino operators and expressions whose value differs on DuckDB, rewritten node by node. Pure.

Called from ``trino.Rewriter`` during its post-order walk (a node's children are already rewritten), with
the static types of the original operands where a rule depends on them (``trino_types.static_type``):

- ``ts AT TIME ZONE z``: Trino reads a plain timestamp in the session zone (UTC for Athena) and shows that
  instant in ``z``; DuckDB reads it as local time in ``z``. Converting through TIMESTAMPTZ gives Trino's wall
  clock, so ``hour(...)``, ``date_format(...)`` and the rendered text agree with Trino.
- ``CAST(double AS bigint)`` (and the other integer types) rounds half away from zero in Trino (Java's
  ``Math.round`` on the magnitude); DuckDB rounds half to even. ``round()`` first gives Trino's answer.
- ``decimal / decimal`` (or integer) stays a decimal in Trino, of precision
  ``min(38, p1 + s2 + max(s2 - s1, 0))`` and scale ``max(s1, s2)``, rounded half up; DuckDB returns a
  double. Computed exactly on the unscaled integers.
- ``array[i]`` fails outside ``1..cardinality`` and ``map[k]`` on a missing key (INVALID_FUNCTION_ARGUMENT);
  DuckDB returns NULL (``element_at`` keeps returning NULL, as in Trino).
- ``substr(s, 0)`` and a non-positive length are ``''``, a start before the beginning too; DuckDB clamps.
- ``typeof`` answers Trino's type names (``integer``, ``varchar(5)``, ``decimal(2,1)``).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp, parse_one

from lakebox.query.errors import AthenaError
from lakebox.query.trino_macros import fail
from lakebox.query.trino_types import DECIMAL, decimal_parts, static_type

_INT_TYPES = (exp.DataType.Type.TINYINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.INT,
              exp.DataType.Type.BIGINT)
_ARRAY_CALLS = frozenset({"split", "str_split", "__trino_split_limit", "sequence", "array_sort", "list_sort",
                          "__trino_array_distinct", "array_distinct", "regexp_extract_all", "filter",
                          "list_filter", "transform", "list_transform", "list_slice", "slice", "array_agg",
                          "list_reverse", "array_remove", "array_intersect", "array_union", "array_except",
                          "flatten"})
_DUCK_KEY_TYPES = {"integer": "INTEGER", "bigint": "BIGINT", "smallint": "SMALLINT", "tinyint": "TINYINT",
                   "double": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE"}


def _sql(text: str, **args: exp.Expr) -> exp.Expr:
    """DuckDB SQL with placeholders ``{name}`` replaced by (copies of) the given expressions."""
    tree = parse_one(text.format(**{k: f"__ph_{k}" for k in args}), read="duckdb")
    for col in list(tree.find_all(exp.Column)):
        if col.name.startswith("__ph_") and not col.table:
            col.replace(args[col.name[5:]].copy())
    return tree


def at_time_zone(node: exp.AtTimeZone) -> exp.Expr:
    """The wall-clock time in the zone of the instant Trino means (session zone UTC)."""
    return exp.Anonymous(this="timezone", expressions=[node.args["zone"], exp.cast(node.this, "TIMESTAMPTZ")])


def integer_cast(node: exp.Cast, source: str | None) -> exp.Expr:
    """``CAST(x AS <integer type>)``: round half away from zero first when x is (or may be) floating."""
    if not node.to.is_type(*_INT_TYPES):
        return node
    if source is not None and source not in ("double", "real"):
        return node
    arg = exp.Anonymous(this="round" if source else "__trino_round_float", expressions=[node.this])
    new = node.copy()
    new.set("this", arg)
    return new


def decimal_division(a: exp.Expr, b: exp.Expr, ta: str | None, tb: str | None) -> exp.Expr | None:
    """Trino's decimal quotient of ``a / b`` when one operand is a decimal and the other a decimal or an
    integer, else None (the caller keeps its own division)."""
    if not (DECIMAL.match(ta or "") or DECIMAL.match(tb or "")):
        return None
    pa, pb = decimal_parts(ta), decimal_parts(tb)
    if pa is None or pb is None:
        return None
    (ap, as_), (_, bs) = pa, pb
    p, s = min(38, ap + bs + max(bs - as_, 0)), max(as_, bs)
    rescale = s - as_ + bs
    quotient = _sql(f"__trino_decimal_div({{a}}, {{b}}, CAST('{10 ** rescale}' AS HUGEINT))",
                    a=_unscaled(a, pa[1]), b=_unscaled(b, bs))
    if s == 0:
        return exp.cast(quotient, f"DECIMAL({p}, 0)")
    shifted = _sql(f"CAST({{q}} AS DECIMAL(38, 0)) * {exp.Literal.number('0.' + '0' * (s - 1) + '1').sql()}",
                   q=quotient)
    return exp.cast(shifted, f"DECIMAL({p}, {s})")


def _unscaled(x: exp.Expr, scale: int) -> exp.Expr:
    """The unscaled integer of a decimal (``1.50`` with scale 2 -> 150), or the integer itself."""
    if scale == 0:
        return exp.cast(x, "HUGEINT")
    return _sql(f"CAST(replace(CAST(CAST({{x}} AS DECIMAL(38, {scale})) AS VARCHAR), '.', '') AS HUGEINT)", x=x)


def _container(node: exp.Expr, columns: Mapping[str, str]) -> str | None:
    """'array' or 'map' when ``node`` evidently is one, else None."""
    if isinstance(node, exp.Array | exp.ArrayAgg):
        return "array"
    if isinstance(node, exp.Map | exp.VarMap | exp.MapFromEntries):
        return "map"
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        return "array" if name in _ARRAY_CALLS else ("map" if name in ("map", "map_agg") else None)
    t = static_type(node, columns) or ""
    return "array" if t.startswith("array(") else ("map" if t.startswith("map(") else None)


def subscript(node: exp.Bracket, columns: Mapping[str, str], key_type: str | None) -> exp.Expr:
    """``a[i]`` and ``m[k]`` with Trino's failures; the index expression carries the check, so the element
    type is untouched."""
    if len(node.expressions) != 1:
        return node
    kind = _container(node.this, columns)
    idx = node.expressions[0]
    if kind == "array":
        lit = idx.this if isinstance(idx, exp.Neg) else idx
        if isinstance(lit, exp.Literal) and not lit.is_string:
            # sqlglot keeps literal indices 0-based (a negative one as -(n))
            idx = exp.Literal.number((-1 if lit is not idx else 1) * int(lit.this) + 1)
        return _sql("list_extract({a}, __trino_array_index({a}, {i}))", a=node.this, i=idx)
    if kind == "map" and key_type is not None:
        duck = "VARCHAR" if key_type.startswith(("varchar", "char")) else _DUCK_KEY_TYPES.get(key_type)
        if duck is None:
            return node
        msg = "'Key not present in map: ' || CAST({k} AS VARCHAR)"
        checked = _sql(f"CASE WHEN map_contains({{m}}, {{k}}) THEN {{k}} "
                       f"ELSE {fail('INVALID_FUNCTION_ARGUMENT', msg, duck)} END", m=node.this, k=idx)
    else:
        return node
    new = node.copy()
    new.set("expressions", [checked])
    return new


def substr(node: exp.Substring) -> exp.Expr:
    """Trino's substr: start 0, a non-positive length or a start before the beginning give ''."""
    length = node.args.get("length")
    if length is None:
        return exp.Anonymous(this="__trino_substr", expressions=[node.this, node.args["start"]])
    return exp.Anonymous(this="__trino_substr", expressions=[node.this, node.args["start"], length])


def typeof(node: exp.Expr, arg_type: str | None) -> exp.Expr:
    """Trino's type name: evident types as a literal, otherwise DuckDB's name translated at run time."""
    if arg_type is not None and arg_type not in ("unknown",):
        return exp.Literal.string(arg_type)
    if any(isinstance(n, exp.Literal) and n.is_string and not isinstance(n.parent, exp.Interval | exp.Cast)
           for n in node.this.walk()):
        # Trino's type would carry the literal's varchar(n) length somewhere inside; DuckDB's has none.
        raise AthenaError("NOT_SUPPORTED", "typeof of this expression is not supported by lakebox: the varchar "
                          "lengths of its string literals are not tracked")
    return exp.Anonymous(this="__trino_typeof", expressions=[node.this])


__all__ = ["at_time_zone", "decimal_division", "integer_cast", "subscript", "substr", "typeof"]

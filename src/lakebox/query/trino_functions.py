"""Trino function calls rewritten for DuckDB: one handler per function whose meaning differs.

``trino.rewrite`` walks the query and hands every plain function call (``exp.Anonymous``) to
:meth:`FunctionRewriter.rewrite_call`, which

- refuses the Trino functions lakebox does not implement (:data:`UNSUPPORTED_FUNCTIONS`), by name;
- expands the simple renames and fixed expansions (``_SIMPLE``);
- otherwise dispatches to the method ``_fn_<name>`` when there is one, and leaves the call alone if not.

The functions listed in :data:`RAW_FUNCTIONS` are parsed as plain calls by ``trino.AthenaTrino`` so that the
handlers see exactly what the user wrote. Which Trino behaviour each handler reproduces is described in the
``trino`` module docstring.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from sqlglot import exp

from lakebox.query.errors import AthenaError, position_of
from lakebox.query.trino_macros import specialized, type_suffix
from lakebox.query.trino_signatures import EXPECTED
from lakebox.query.trino_time import joda_to_duckdb, mysql_to_duckdb
from lakebox.query.trino_types import DECIMAL as _DEC
from lakebox.query.trino_types import static_type

#: Functions parsed as plain calls so that ``rewrite`` sees exactly what the user wrote.
RAW_FUNCTIONS = frozenset({
    "DATE_FORMAT", "DATE_PARSE", "FORMAT_DATETIME", "PARSE_DATETIME", "DATE_TRUNC", "DATE_ADD", "DATE_DIFF",
    "REGEXP_EXTRACT", "REGEXP_REPLACE", "SPLIT_PART", "FROM_UNIXTIME", "TO_UNIXTIME", "FROM_ISO8601_TIMESTAMP",
    "FROM_ISO8601_DATE", "APPROX_PERCENTILE", "REDUCE", "ROUND", "AVG", "DAY_OF_WEEK", "DOW", "YEAR_OF_WEEK",
    "YOW", "LAST_DAY_OF_MONTH", "ELEMENT_AT", "STRPOS", "SPLIT", "CARDINALITY", "CONCAT", "TRUNCATE",
    "ARRAY_DISTINCT", "ARRAY_POSITION", "SLICE", "MILLISECOND", "REVERSE", "CBRT", "SIGN", "FLOOR", "CEIL",
    "CEILING", "EVERY", "ALL_MATCH", "ANY_MATCH", "NONE_MATCH", "E", "INFINITY", "NAN", "IS_NAN", "IS_FINITE",
    "IS_INFINITE", "HAMMING_DISTANCE", "ARRAY_MAX", "ARRAY_MIN", "ARRAY_EXCEPT", "ARRAY_INTERSECT", "ARRAY_UNION",
    "ARRAYS_OVERLAP", "CONTAINS", "SEQUENCE", "ARRAY_SORT", "BITWISE_AND", "BITWISE_OR", "BITWISE_XOR",
    "BITWISE_NOT", "BIT_COUNT", "BITWISE_LEFT_SHIFT", "BITWISE_RIGHT_SHIFT", "BITWISE_RIGHT_SHIFT_ARITHMETIC",
    "URL_EXTRACT_FRAGMENT", "URL_EXTRACT_HOST", "URL_EXTRACT_PARAMETER", "URL_EXTRACT_PATH", "URL_EXTRACT_PORT",
    "URL_EXTRACT_PROTOCOL", "URL_EXTRACT_QUERY", "URL_ENCODE", "URL_DECODE", "ZIP_WITH", "MAP_FILTER",
    "TRANSFORM_KEYS", "TRANSFORM_VALUES", "SHUFFLE", "TRANSFORM", "FILTER", "REPLACE", "JSON_EXTRACT",
    "JSON_EXTRACT_SCALAR", "JSON_PARSE", "JSON_FORMAT", "JSON_ARRAY_LENGTH", "JSON_SIZE", "IS_JSON_SCALAR",
})

#: Trino functions lakebox does not implement: refused by name, so nobody gets DuckDB's function of the same
#: name with other semantics, or a misleading "not registered".
UNSUPPORTED_FUNCTIONS = frozenset({
    "human_readable_seconds", "parse_duration", "from_base", "to_base", "regexp_position", "codepoint",
    "luhn_check", "trim_array", "zip", "repeat", "combinations", "ngrams", "array_histogram",
    "to_iso8601", "from_unixtime_nanos", "from_iso8601_timestamp_nanos", "at_timezone", "with_timezone",
    "word_stem", "soundex", "split_to_map", "split_to_multimap", "map_from_entries", "map_concat", "map_zip_with", "reduce_agg", "listagg",
    "format", "from_utf8", "to_utf8", "normalize", "width_bucket",
})

#: Simple renames and fixed expansions: Trino name -> DuckDB SQL template over the arguments {0}, {1}, ...
_SIMPLE = {
    "array_distinct": "__trino_array_distinct({0})",
    "array_position": "CAST(coalesce(list_position({0}, {1}), 0) AS BIGINT)",
    "slice": "list_slice({0}, {1}, {1} + {2} - 1)",
    "millisecond": "CAST(millisecond({0}) % 1000 AS BIGINT)",
    "cbrt": "__trino_cbrt({0})",
    "every": "bool_and({0})",
    "e": "exp(1)",
    "infinity": "CAST('Infinity' AS DOUBLE)",
    "nan": "CAST('NaN' AS DOUBLE)",
    "is_nan": "isnan({0})",
    "is_finite": "isfinite({0})",
    "is_infinite": "isinf({0})",
    "hamming_distance": "CAST(hamming({0}, {1}) AS BIGINT)",
    "array_max": "__trino_array_max({0})",
    "array_min": "__trino_array_min({0})",
    "array_except": "__trino_array_except({0}, {1})",
    "array_intersect": "__trino_array_intersect({0}, {1})",
    "array_union": "__trino_array_union({0}, {1})",
    "arrays_overlap": "__trino_arrays_overlap({0}, {1})",
    "contains": "__trino_contains({0}, {1})",
    "shuffle": "__trino_shuffle({0})",
    "bitwise_and": "(CAST({0} AS BIGINT) & CAST({1} AS BIGINT))",
    "bitwise_or": "(CAST({0} AS BIGINT) | CAST({1} AS BIGINT))",
    "bitwise_xor": "xor(CAST({0} AS BIGINT), CAST({1} AS BIGINT))",
    "bitwise_not": "(~CAST({0} AS BIGINT))",
    "bit_count": "CAST(__trino_bit_count(CAST({0} AS BIGINT), CAST({1} AS BIGINT)) AS BIGINT)",
    "bitwise_left_shift": "__trino_shl({0}, {1})",
    "bitwise_right_shift": "__trino_shr({0}, {1})",
    "bitwise_right_shift_arithmetic": "__trino_sar({0}, {1})",
    "url_extract_fragment": "__trino_url_fragment({0})",
    "url_extract_host": "__trino_url_host({0})",
    "url_extract_parameter": "__trino_url_parameter({0}, {1})",
    "url_extract_path": "__trino_url_path({0})",
    "url_extract_port": "__trino_url_port({0})",
    "url_extract_protocol": "__trino_url_protocol({0})",
    "url_extract_query": "__trino_url_query({0})",
    "url_encode": "__trino_url_encode({0})",
    "url_decode": "__trino_url_decode({0})",
    "json_parse": "json({0})",
    "json_format": "CAST(json({0}) AS VARCHAR)",
    "json_array_length": "__trino_json_array_length({0})",
    "is_json_scalar": "__trino_is_json_scalar({0})",
}


def call(name: str, *args: exp.Expr) -> exp.Anonymous:
    """A plain call ``name(args...)``, generated as written (a DuckDB function or a ``__trino_*`` macro)."""
    return exp.Anonymous(this=name, expressions=list(args))


def lambda_of(params: list[str], body: exp.Expr) -> exp.Lambda:
    """A DuckDB lambda ``(params) -> body`` (the parameter names are lakebox's own, ``__lb_*``)."""
    return exp.Lambda(this=body, expressions=[exp.to_identifier(p) for p in params])


def apply_lambda(fn: exp.Lambda, *values: exp.Expr) -> exp.Expr:
    """The body of ``fn`` with its parameters replaced by ``values`` (each parenthesised)."""
    names = [p.name.lower() for p in fn.expressions]
    body = fn.this.copy()

    def sub(ref: exp.Expr) -> exp.Expr:
        if isinstance(ref, exp.Column) and not ref.table and ref.name.lower() in names:
            return exp.Paren(this=values[names.index(ref.name.lower())].copy())
        if (isinstance(ref, exp.Identifier) and ref.name.lower() in names
                and not isinstance(ref.parent, exp.Column | exp.Dot | exp.Lambda)):
            return exp.Paren(this=values[names.index(ref.name.lower())].copy())
        return ref

    if isinstance(body, exp.Column | exp.Identifier):
        return sub(body)
    return body.transform(sub)


def _string_arg(node: exp.Anonymous, index: int, what: str) -> str:
    """The string literal at ``index`` (a format or pattern lakebox translates before running)."""
    args = node.expressions
    if len(args) <= index or not (isinstance(args[index], exp.Literal) and args[index].is_string):
        raise AthenaError("NOT_SUPPORTED", f"{node.name.lower()}: lakebox needs the {what} as a string literal")
    return args[index].this


def _unexpected(node: exp.Anonymous, sql: str, types: list[str], expected: str) -> AthenaError:
    """Athena's error for a call whose argument types match no signature of the function."""
    line, col = position_of(node, sql)
    where = f"line {line}:{col}: " if line else ""
    return AthenaError(
        "FUNCTION_NOT_FOUND",
        f"{where}Unexpected parameters ({', '.join(types)}) for function {node.name.lower()}. Expected: {expected}",
        line=line, column=col,
    )


#: The signatures Athena lists in its "Unexpected parameters" error, per function.
class FunctionRewriter:
    """Rewrites of one query's function calls: needs the query text (for positions) and the column types in
    scope (for the handlers that depend on an argument's type)."""

    def __init__(self, sql: str, columns: Mapping[str, str]) -> None:
        self.sql = sql
        self.columns = columns
        #: Static types of each node's operands, read before the rewrite changed them (id(node) -> types).
        self._types: dict[int, tuple[str | None, ...]] = {}

    def arg_types(self, node: exp.Expr) -> list[str | None]:
        """The static types of a call's arguments as written (before its arguments were rewritten)."""
        pre = self._types.get(id(node))
        return list(pre) if pre is not None else [static_type(a, self.columns) for a in node.expressions]

    def _typed_call(self, name: str, node: exp.Anonymous, args: list[exp.Expr], *typed: int) -> exp.Expr:
        """``__trino_<name>(args)``, or its single-type variant when the static types of the arguments at
        ``typed`` pick one (DuckDB cannot choose an overload for an aggregate or window argument)."""
        types = self.arg_types(node)
        spec = specialized(name, *(types[i] if i < len(types) else None for i in typed))
        return call(spec or f"__trino_{name}", *args)

    def _timestamp(self, name: str, node: exp.Anonymous, arg: exp.Expr) -> exp.Expr:
        """The timestamp argument of ``name``: a DATE is cast, a timestamp passes, others go through the macro
        ``__trino_arg_<name>`` (which refuses what Trino's signature does not take)."""
        suffix = type_suffix(self.arg_types(node)[0])
        if suffix == "date":
            return exp.cast(arg, "TIMESTAMP")
        if suffix in ("ts", "tstz"):
            return arg
        return call(f"__trino_arg_{name}", arg)

    def _reject_varchar(self, node: exp.Anonymous, arg_index: int) -> None:
        """Athena resolves these functions' signatures before running: a string argument is an error."""
        types = [t or "unknown" for t in self.arg_types(node)]
        if types[arg_index].startswith(("varchar", "char")):
            name = node.name.lower()
            raise _unexpected(node, self.sql, types, EXPECTED[name])

    def rewrite_call(self, node: exp.Anonymous) -> exp.Expr:
        """The DuckDB expression for one plain call (its arguments already rewritten), or ``node`` itself."""
        name = node.name.lower()
        args = list(node.expressions)
        if name in UNSUPPORTED_FUNCTIONS:
            raise AthenaError("NOT_SUPPORTED", f"Trino function {name}() is not supported by lakebox "
                              "(see tests/conformance/UNSUPPORTED.md)")
        template = _SIMPLE.get(name)
        if template is not None:
            from sqlglot import parse_one

            sub = parse_one(template.format(*[f"__arg{i}" for i in range(len(args))]), read="duckdb")
            for col in list(sub.find_all(exp.Column)):
                if col.name.startswith("__arg") and not col.table:
                    col.replace(args[int(col.name[5:])].copy())
            return sub
        handler: Callable[[exp.Anonymous, list[exp.Expr]], exp.Expr] | None = getattr(
            self, f"_fn_{name}", None)
        if handler is not None:
            return handler(node, args)
        return node

    def _fn_reverse(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        # reverse() of an array literal; strings keep DuckDB's reverse (same meaning).
        return call("list_reverse" if isinstance(args[0], exp.Array) else "reverse", *args)

    def _fn_all_match(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return call("__trino_all_match", call("list_transform", *args))

    def _fn_any_match(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return call("__trino_any_match", call("list_transform", *args))

    def _fn_none_match(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return exp.Not(this=exp.Paren(this=call("__trino_any_match", call("list_transform", *args))))

    def _json_path(self, node: exp.Anonymous) -> exp.Literal:
        """Trino's JSONPath (``$.a[0]["b c"]``, ``$.store[book]``) as DuckDB writes it (``$.a[0]."b c"``)."""
        path = _string_arg(node, 1, "JSON path")
        if "*" in path or ".." in path or not path.startswith("$"):
            raise AthenaError("NOT_SUPPORTED", f"{node.name.lower()}: the JSON path {path!r} is not supported by lakebox")
        path = re.sub(r"\[\s*\"((?:[^\"\\]|\\.)*)\"\s*\]", r'."\1"', path)
        path = re.sub(r"\[\s*'([^']*)'\s*\]", r'."\1"', path)
        path = re.sub(r"\[([A-Za-z_]\w*)\]", r".\1", path)
        return exp.Literal.string(path)

    def _fn_json_extract(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return call("json_extract", args[0], self._json_path(node))

    def _fn_json_extract_scalar(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return call("__trino_json_scalar", args[0], self._json_path(node))

    def _fn_json_size(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return call("__trino_json_size", args[0], self._json_path(node))

    def _fn_replace(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return call("__trino_replace", *args) if len(args) == 3 else call("replace", *args, exp.Literal.string(""))

    def _fn_transform(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return call("list_transform", *args)

    def _fn_filter(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        # Trino keeps the elements for which the predicate is true (NULL drops them, as in DuckDB).
        return call("list_filter", *args)

    def _fn_sequence(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        if len(args) == 2:
            return call("__trino_sequence", *args)
        step = args[2]
        if isinstance(step, exp.Interval):
            if step.unit and step.unit.name.upper() in ("YEAR", "MONTH"):
                raise AthenaError("NOT_SUPPORTED", "sequence with an INTERVAL YEAR TO MONTH step is not supported "
                                  "by lakebox")
            return call("__trino_sequence_interval", *args)
        return call("__trino_sequence_step", *args)

    def _fn_array_sort(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        """With a comparator: each element's rank is the number of elements that sort before it (by the
        comparator, ties by position), then the elements are placed by rank. A comparator whose answers do not
        make an order fails (NOT_SUPPORTED) rather than giving some order."""
        if len(args) == 1:
            return exp.func("list_sort", args[0], exp.Literal.string("ASC"), exp.Literal.string("NULLS LAST"))
        arr, cmp_lambda = args
        if not isinstance(cmp_lambda, exp.Lambda) or len(cmp_lambda.expressions) != 2:
            raise AthenaError("FUNCTION_NOT_FOUND", "array_sort takes an array and a comparator (x, y) -> int")
        i, j, k = (exp.column(n) for n in ("__lb_i", "__lb_j", "__lb_k"))

        def cmp(u: exp.Expr, v: exp.Expr) -> exp.Expr:
            return exp.Paren(this=apply_lambda(cmp_fn, exp.Bracket(this=arr.copy(), expressions=[u.copy()]),
                                               exp.Bracket(this=arr.copy(), expressions=[v.copy()])))

        cmp_fn = cmp_lambda
        zero = exp.Literal.number(0)
        # j sorts before i when the comparator says so both ways; otherwise (equal, or a comparator that
        # says "less" both ways, as for two NULLs) the earlier position goes first.
        before = exp.Case(ifs=[
            exp.If(this=exp.and_(exp.LT(this=cmp(j, i), expression=zero), exp.GT(this=cmp(i, j), expression=zero)),
                   true=exp.true()),
            exp.If(this=exp.and_(exp.GT(this=cmp(j, i), expression=zero), exp.LT(this=cmp(i, j), expression=zero)),
                   true=exp.false())],
            default=exp.LT(this=j.copy(), expression=i.copy()))
        positions = call("range", exp.Literal.number(1), exp.Add(this=call("len", arr.copy()),
                                                                 expression=exp.Literal.number(1)))
        rank = call("len", call("list_filter", positions.copy(), lambda_of(["__lb_j"], exp.and_(
            exp.NEQ(this=j.copy(), expression=i.copy()), before))))
        ranks = call("list_transform", positions.copy(), lambda_of(["__lb_i"], rank))
        return call("__trino_place_by_rank", arr, ranks)

    def _fn_zip_with(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        a, b, fn = args
        if not isinstance(fn, exp.Lambda) or len(fn.expressions) != 2:
            raise AthenaError("FUNCTION_NOT_FOUND", "zip_with takes two arrays and a function (x, y) -> r")
        i = exp.column("__lb_i")
        body = apply_lambda(fn, exp.Bracket(this=a.copy(), expressions=[i.copy()]),
                            exp.Bracket(this=b.copy(), expressions=[i.copy()]))
        count = exp.Add(this=exp.func("greatest", call("len", a.copy()), call("len", b.copy())),
                        expression=exp.Literal.number(1))
        return call("list_transform", call("range", exp.Literal.number(1), count), lambda_of(["__lb_i"], body))

    def _map_entries(self, args: list[exp.Expr], arity: int) -> tuple[exp.Expr, exp.Lambda]:
        m, fn = args
        if not isinstance(fn, exp.Lambda) or len(fn.expressions) != arity:
            raise AthenaError("FUNCTION_NOT_FOUND", "the function must take (key, value)")
        return call("map_entries", m), fn

    def _entry_fn(self, fn: exp.Lambda) -> exp.Expr:
        e = exp.column("__lb_e")
        return apply_lambda(fn, exp.Dot(this=e.copy(), expression=exp.to_identifier("key")),
                            exp.Dot(this=e.copy(), expression=exp.to_identifier("value")))

    def _fn_map_filter(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        entries, fn = self._map_entries(args, 2)
        return call("map_from_entries", call("list_filter", entries, lambda_of(["__lb_e"], self._entry_fn(fn))))

    def _remap(self, args: list[exp.Expr], key: bool) -> exp.Expr:
        entries, fn = self._map_entries(args, 2)
        e = exp.column("__lb_e")
        new = self._entry_fn(fn)
        old = exp.Dot(this=e.copy(), expression=exp.to_identifier("value" if key else "key"))
        struct = exp.Struct(expressions=[
            exp.PropertyEQ(this=exp.Literal.string("key"), expression=new if key else old),
            exp.PropertyEQ(this=exp.Literal.string("value"), expression=old if key else new)])
        return call("map_from_entries", call("list_transform", entries, lambda_of(["__lb_e"], struct)))

    def _fn_transform_keys(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return self._remap(args, key=True)

    def _fn_transform_values(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return self._remap(args, key=False)

    # --- date and time -----------------------------------------------------------------------------------

    def _fn_date_format(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._reject_varchar(node, 0)
        fmt = mysql_to_duckdb(_string_arg(node, 1, "format"))
        return call("strftime", self._timestamp("date_format", node, args[0]), exp.Literal.string(fmt))

    def _fn_format_datetime(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._reject_varchar(node, 0)
        fmt = joda_to_duckdb(_string_arg(node, 1, "pattern"))
        return call("strftime", self._timestamp("format_datetime", node, args[0]), exp.Literal.string(fmt))

    def _fn_date_parse(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        text = _string_arg(node, 1, "format")
        fmt = mysql_to_duckdb(text, parse=True)
        out: exp.Expr = exp.cast(call("strptime", args[0], exp.Literal.string(fmt)), "TIMESTAMP")
        if not re.search(r"%[Yyx]", text):
            # Without a year Trino (like MySQL) starts from 1970-01-01; DuckDB's strptime from 1900-01-01.
            out = exp.Add(this=out, expression=exp.Interval(this=exp.Literal.string("70"), unit=exp.var("YEAR")))
        elif "%y" in text:
            # Two-digit years: Trino reads 70..99 as 19xx and 00..69 as 20xx; DuckDB reads 69 as 1969.
            out = exp.Case(ifs=[exp.If(this=exp.EQ(this=call("year", out.copy()), expression=exp.Literal.number(1969)),
                                       true=exp.Add(this=out.copy(), expression=exp.Interval(
                                           this=exp.Literal.string("100"), unit=exp.var("YEAR"))))],
                           default=out)
        return out

    def _fn_parse_datetime(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        fmt = joda_to_duckdb(_string_arg(node, 1, "pattern"))
        return exp.cast(call("strptime", args[0], exp.Literal.string(fmt)), "TIMESTAMPTZ")

    def _fn_date_trunc(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._reject_varchar(node, 1)
        return self._typed_call("date_trunc", node, args, 1)

    def _fn_date_add(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._reject_varchar(node, 2)
        return self._typed_call("date_add", node, args, 2)

    def _fn_date_diff(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._reject_varchar(node, 1)
        return self._typed_call("date_diff", node, args, 1, 2)

    def _fn_to_unixtime(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._reject_varchar(node, 0)
        return call("epoch", self._timestamp("to_unixtime", node, args[0]))

    def _fn_from_unixtime(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        if len(args) != 1:
            raise AthenaError("NOT_SUPPORTED", "from_unixtime with a time zone is not supported by lakebox")
        return call("to_timestamp", exp.cast(args[0], "DOUBLE"))

    def _fn_from_iso8601_timestamp(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return call("__trino_from_iso8601_timestamp", *args)

    def _fn_from_iso8601_date(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return call("__trino_from_iso8601_date", *args)

    def _fn_day_of_week(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return exp.cast(call("isodow", *args), "BIGINT")

    _fn_dow = _fn_day_of_week

    def _fn_year_of_week(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return exp.cast(call("isoyear", *args), "BIGINT")

    _fn_yow = _fn_year_of_week

    def _fn_last_day_of_month(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return call("last_day", *args)

    # --- numbers and aggregates ----------------------------------------------------------------------------

    def _fn_round(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        out = call("round", *args)
        t = self.arg_types(node)[0] if args else None
        m = _DEC.match(t or "")
        if m and len(args) == 2:
            p, s = int(m.group(1)), int(m.group(2))
            # Trino keeps the scale and widens the precision by one for the carry: round(1.005, 2) = 1.010.
            return exp.cast(out, f"DECIMAL({min(38, p + 1)}, {s})")
        return out

    def _same_type(self, name: str, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        """floor, ceil and sign keep the argument's type in Trino: the single-type variant when the static
        type picks one, DuckDB's function for other evident types, else the overloaded macro."""
        t = self.arg_types(node)[0] if args else None
        spec = specialized(name, t)
        if spec is not None:
            return call(spec, *args)
        return call(name if t is not None else f"__trino_{name}", *args)

    def _fn_floor(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return self._same_type("floor", node, args)

    def _fn_ceil(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return self._same_type("ceil", node, args)

    _fn_ceiling = _fn_ceil

    def _fn_sign(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return self._same_type("sign", node, args)

    def _fn_truncate(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        m = _DEC.match(self.arg_types(node)[0] or "") if args else None
        if m and len(args) == 2:
            # Trino keeps the decimal's type: truncate(1.2345, 2) is 1.2300, decimal(5,4).
            return exp.cast(call("trunc", *args), f"DECIMAL({m.group(1)}, {m.group(2)})")
        return call("trunc", *args)

    def _fn_avg(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        out: exp.Expr = exp.Avg(this=args[0]) if len(args) == 1 else call("avg", *args)
        m = _DEC.match(self.arg_types(node)[0] or "") if args else None
        if m:
            return exp.cast(out, f"DECIMAL({m.group(1)}, {m.group(2)})")
        return out

    def _fn_approx_percentile(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        if len(args) != 2:
            raise AthenaError("NOT_SUPPORTED", "approx_percentile with weights or accuracy is not supported by lakebox")
        return call("__trino_approx_percentile", *args)

    # --- strings, regular expressions, collections ------------------------------------------------------------

    def _fn_regexp_extract(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        if len(args) == 2:
            args.append(exp.Literal.number(0))
        return call("__trino_regexp_extract", *args)

    def _fn_regexp_replace(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        if len(args) == 3 and isinstance(args[2], exp.Lambda):
            raise AthenaError("NOT_SUPPORTED", "regexp_replace with a lambda replacement is not supported by lakebox")
        if len(args) == 2:
            args.append(exp.Literal.string(""))
        repl = args[2]
        if isinstance(repl, exp.Literal) and repl.is_string:
            # Java's replacement syntax ($1, \$) -> RE2's (\1, $).
            text = re.sub(r"\\\$", "\x00", repl.this)
            text = re.sub(r"\$(\d)", r"\\\1", text).replace("\x00", "$")
            repl = exp.Literal.string(text)
        return call("regexp_replace", args[0], args[1], repl, exp.Literal.string("g"))

    def _fn_split_part(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return call("__trino_split_part", *args)

    def _fn_split(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        if len(args) == 3:
            return call("__trino_split_limit", *args)
        return call("str_split", *args)

    def _fn_strpos(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        if len(args) == 3:
            raise AthenaError("NOT_SUPPORTED", "strpos with an instance argument is not supported by lakebox")
        return exp.cast(call("strpos", *args), "BIGINT")

    def _fn_element_at(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return call("__trino_element_at", *args)

    def _fn_cardinality(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        is_map = isinstance(args[0], exp.Map | exp.VarMap) or (
            isinstance(args[0], exp.Anonymous) and args[0].name.lower() == "map")
        return exp.cast(call("cardinality" if is_map else "len", *args), "BIGINT")

    def _fn_concat(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        if len(args) < 2:
            raise AthenaError("FUNCTION_NOT_FOUND",
                              "There must be two or more concatenation arguments to concat")
        # Trino's concat returns NULL when any argument is NULL (DuckDB's skips NULLs); || does the same.
        args = [exp.cast(a, "VARCHAR") if isinstance(a, exp.Null) else a for a in args]
        out: exp.Expr = args[0]
        for a in args[1:]:
            out = exp.DPipe(this=out, expression=a, safe=False)
        return exp.Paren(this=out)

    def _fn_reduce(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        if len(args) != 4 or not isinstance(args[2], exp.Lambda) or not isinstance(args[3], exp.Lambda):
            raise AthenaError("FUNCTION_NOT_FOUND", "reduce takes (array, initialState, inputFunction, outputFunction)")
        reduced = call("list_reduce", args[0], args[2], args[1])
        finish = args[3]
        params = finish.expressions
        if len(params) != 1:
            raise AthenaError("INVALID_FUNCTION_ARGUMENT", "reduce: the output function takes one argument")
        return apply_lambda(finish, reduced)


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
    "IS_INFINITE", "HAMMING_DISTANCE",
})

#: Trino functions lakebox does not implement: refused by name, so nobody gets DuckDB's function of the same
#: name with other semantics, or a misleading "not registered".
UNSUPPORTED_FUNCTIONS = frozenset({
    "human_readable_seconds", "parse_duration", "from_base", "to_base", "regexp_position", "codepoint",
    "luhn_check", "trim_array", "zip_with", "zip", "repeat", "combinations", "ngrams", "array_histogram",
    "to_iso8601", "from_unixtime_nanos", "from_iso8601_timestamp_nanos", "at_timezone", "with_timezone",
    "word_stem", "soundex", "split_to_map", "split_to_multimap", "map_from_entries", "map_concat",
    "transform_keys", "transform_values", "map_filter", "map_zip_with", "reduce_agg", "listagg",
    "format", "json_format", "json_parse", "from_utf8", "to_utf8", "normalize", "width_bucket",
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
}


def call(name: str, *args: exp.Expr) -> exp.Anonymous:
    """A plain call ``name(args...)``, generated as written (a DuckDB function or a ``__trino_*`` macro)."""
    return exp.Anonymous(this=name, expressions=list(args))


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

    def _match(self, args: list[exp.Expr], agg: str, negate: bool, empty: bool) -> exp.Expr:
        out: exp.Expr = exp.func("coalesce", call(agg, call("list_transform", *args)),
                                       exp.Boolean(this=empty) if len(args) else exp.null())
        return exp.Not(this=out) if negate else out

    def _fn_all_match(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return self._match(args, "list_bool_and", False, True)

    def _fn_any_match(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return self._match(args, "list_bool_or", False, False)

    def _fn_none_match(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return self._match(args, "list_bool_or", True, False)

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
        fmt = mysql_to_duckdb(_string_arg(node, 1, "format"), parse=True)
        return exp.cast(call("strptime", args[0], exp.Literal.string(fmt)), "TIMESTAMP")

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
        pname = params[0].name.lower()
        body = finish.this.copy()
        if isinstance(body, exp.Identifier | exp.Column) and body.name.lower() == pname:
            return reduced
        # Lambda parameters appear in the body as bare identifiers (or columns, when parenthesised).
        for ref in list(body.find_all(exp.Identifier, exp.Column)):
            if ref.name.lower() == pname and not isinstance(ref.parent, exp.Column):
                ref.replace(exp.Paren(this=reduced.copy()))
        return body


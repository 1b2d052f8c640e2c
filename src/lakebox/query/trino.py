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
  unlike DuckDB's ``error()``, is allowed inside ``TRY``; ``errors.from_duckdb`` turns the marker back into
  the Athena error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from sqlglot import exp
from sqlglot.dialects.trino import Trino

from lakebox.query.errors import AthenaError, position_of
from lakebox.query.trino_macros import MACROS
from lakebox.query.trino_time import joda_to_duckdb, mysql_to_duckdb

#: Functions parsed as plain calls so that ``rewrite`` sees exactly what the user wrote.
_RAW_FUNCTIONS = frozenset({
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
    "sign": "__trino_sign({0})",
    "floor": "__trino_floor({0})",
    "ceil": "__trino_ceil({0})",
    "ceiling": "__trino_ceil({0})",
    "every": "bool_and({0})",
    "e": "exp(1)",
    "infinity": "CAST('Infinity' AS DOUBLE)",
    "nan": "CAST('NaN' AS DOUBLE)",
    "is_nan": "isnan({0})",
    "is_finite": "isfinite({0})",
    "is_infinite": "isinf({0})",
    "hamming_distance": "CAST(hamming({0}, {1}) AS BIGINT)",
}


class AthenaTrino(Trino):
    """Trino as Athena engine v3 speaks it, parsed for lakebox's own translation of some functions."""

    class Parser(Trino.Parser):
        FUNCTIONS = {k: v for k, v in Trino.Parser.FUNCTIONS.items() if k not in _RAW_FUNCTIONS}


#: Trino type names of the catalog's columns, per (database, table): {(db, table): {column: type}}.
Schema = Mapping[tuple[str, str], Mapping[str, str]]

_HIVE_TO_TRINO = {"string": "varchar", "int": "integer", "float": "real", "timestamp": "timestamp(3)",
                  "tinyint": "tinyint", "smallint": "smallint", "bigint": "bigint", "double": "double",
                  "boolean": "boolean", "date": "date", "binary": "varbinary"}


def trino_type(hive: str) -> str:
    """A catalog (Hive) column type as Trino names it: string -> varchar, int -> integer."""
    h = hive.strip().lower()
    return _HIVE_TO_TRINO.get(h, h.replace("<", "(").replace(">", ")"))


_DEC = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")


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


def _call(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _string_arg(node: exp.Anonymous, index: int, what: str) -> str:
    args = node.expressions
    if len(args) <= index or not (isinstance(args[index], exp.Literal) and args[index].is_string):
        raise AthenaError("NOT_SUPPORTED", f"{node.name.lower()}: lakebox needs the {what} as a string literal")
    return args[index].this


def _unexpected(node: exp.Anonymous, sql: str, types: list[str], expected: str) -> AthenaError:
    line, col = position_of(node, sql)
    where = f"line {line}:{col}: " if line else ""
    return AthenaError(
        "FUNCTION_NOT_FOUND",
        f"{where}Unexpected parameters ({', '.join(types)}) for function {node.name.lower()}. Expected: {expected}",
        line=line, column=col,
    )


EXPECTED = {
    "date_format": "date_format(timestamp(p), varchar(x)) , date_format(timestamp(p) with time zone, varchar(x))",
    "format_datetime": "format_datetime(timestamp(p), varchar(x)) , "
                       "format_datetime(timestamp(p) with time zone, varchar(x))",
    "date_trunc": "date_trunc(varchar(x), date) , date_trunc(varchar(x), time(p)) , "
                  "date_trunc(varchar(x), timestamp(p)) , date_trunc(varchar(x), timestamp(p) with time zone)",
    "to_unixtime": "to_unixtime(timestamp(p)) , to_unixtime(timestamp(p) with time zone)",
    "date_add": "date_add(varchar(x), bigint, date) , date_add(varchar(x), bigint, timestamp(p)) , "
                "date_add(varchar(x), bigint, timestamp(p) with time zone)",
    "date_diff": "date_diff(varchar(x), date, date) , date_diff(varchar(x), timestamp(p), timestamp(p)) , "
                 "date_diff(varchar(x), timestamp(p) with time zone, timestamp(p) with time zone)",
}


class Rewriter:
    """One query's rewrite: needs the query text (for positions) and the column types in scope."""

    def __init__(self, sql: str, columns: Mapping[str, str]) -> None:
        self.sql = sql
        self.columns = columns

    def _reject_varchar(self, node: exp.Anonymous, arg_index: int) -> None:
        """Athena resolves these functions' signatures before running: a string argument is an error."""
        args = node.expressions
        types = [static_type(a, self.columns) or "unknown" for a in args]
        if types[arg_index].startswith(("varchar", "char")):
            name = node.name.lower()
            raise _unexpected(node, self.sql, types, EXPECTED[name])

    def _fn(self, node: exp.Anonymous) -> exp.Expression:
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
        handler: Callable[[exp.Anonymous, list[exp.Expression]], exp.Expression] | None = getattr(
            self, f"_fn_{name}", None)
        if handler is not None:
            return handler(node, args)
        return node

    def _fn_reverse(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        # reverse() of an array literal; strings keep DuckDB's reverse (same meaning).
        return _call("list_reverse" if isinstance(args[0], exp.Array) else "reverse", *args)

    def _match(self, args: list[exp.Expression], agg: str, negate: bool, empty: bool) -> exp.Expression:
        out: exp.Expression = exp.func("coalesce", _call(agg, _call("list_transform", *args)),
                                       exp.Boolean(this=empty) if len(args) else exp.null())
        return exp.Not(this=out) if negate else out

    def _fn_all_match(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        return self._match(args, "list_bool_and", False, True)

    def _fn_any_match(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        return self._match(args, "list_bool_or", False, False)

    def _fn_none_match(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        return self._match(args, "list_bool_or", True, False)

    # --- date and time -----------------------------------------------------------------------------------

    def _fn_date_format(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        self._reject_varchar(node, 0)
        fmt = mysql_to_duckdb(_string_arg(node, 1, "format"))
        return _call("strftime", _call("__trino_arg_date_format", args[0]), exp.Literal.string(fmt))

    def _fn_format_datetime(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        self._reject_varchar(node, 0)
        fmt = joda_to_duckdb(_string_arg(node, 1, "pattern"))
        return _call("strftime", _call("__trino_arg_format_datetime", args[0]), exp.Literal.string(fmt))

    def _fn_date_parse(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        fmt = mysql_to_duckdb(_string_arg(node, 1, "format"), parse=True)
        return exp.cast(_call("strptime", args[0], exp.Literal.string(fmt)), "TIMESTAMP")

    def _fn_parse_datetime(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        fmt = joda_to_duckdb(_string_arg(node, 1, "pattern"))
        return exp.cast(_call("strptime", args[0], exp.Literal.string(fmt)), "TIMESTAMPTZ")

    def _fn_date_trunc(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        self._reject_varchar(node, 1)
        return _call("__trino_date_trunc", *args)

    def _fn_date_add(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        self._reject_varchar(node, 2)
        return _call("__trino_date_add", *args)

    def _fn_date_diff(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        self._reject_varchar(node, 1)
        return _call("__trino_date_diff", *args)

    def _fn_to_unixtime(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        self._reject_varchar(node, 0)
        return _call("epoch", _call("__trino_arg_to_unixtime", *args))

    def _fn_from_unixtime(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        if len(args) != 1:
            raise AthenaError("NOT_SUPPORTED", "from_unixtime with a time zone is not supported by lakebox")
        return _call("to_timestamp", exp.cast(args[0], "DOUBLE"))

    def _fn_from_iso8601_timestamp(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        return _call("__trino_from_iso8601_timestamp", *args)

    def _fn_from_iso8601_date(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        return _call("__trino_from_iso8601_date", *args)

    def _fn_day_of_week(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        return exp.cast(_call("isodow", *args), "BIGINT")

    _fn_dow = _fn_day_of_week

    def _fn_year_of_week(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        return exp.cast(_call("isoyear", *args), "BIGINT")

    _fn_yow = _fn_year_of_week

    def _fn_last_day_of_month(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        return _call("last_day", *args)

    # --- numbers and aggregates ----------------------------------------------------------------------------

    def _fn_round(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        out = _call("round", *args)
        t = static_type(args[0], self.columns) if args else None
        m = _DEC.match(t or "")
        if m and len(args) == 2:
            p, s = int(m.group(1)), int(m.group(2))
            # Trino keeps the scale and widens the precision by one for the carry: round(1.005, 2) = 1.010.
            return exp.cast(out, f"DECIMAL({min(38, p + 1)}, {s})")
        return out

    def _fn_truncate(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        return _call("trunc", *args)

    def _fn_avg(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        out: exp.Expression = exp.Avg(this=args[0]) if len(args) == 1 else _call("avg", *args)
        m = _DEC.match(static_type(args[0], self.columns) or "") if args else None
        if m:
            return exp.cast(out, f"DECIMAL({m.group(1)}, {m.group(2)})")
        return out

    def _fn_approx_percentile(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        if len(args) != 2:
            raise AthenaError("NOT_SUPPORTED", "approx_percentile with weights or accuracy is not supported by lakebox")
        return _call("__trino_approx_percentile", *args)

    # --- strings, regular expressions, collections ------------------------------------------------------------

    def _fn_regexp_extract(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        if len(args) == 2:
            args.append(exp.Literal.number(0))
        return _call("__trino_regexp_extract", *args)

    def _fn_regexp_replace(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        if len(args) == 2:
            args.append(exp.Literal.string(""))
        repl = args[2]
        if isinstance(repl, exp.Literal) and repl.is_string:
            # Java's replacement syntax ($1, \$) -> RE2's (\1, $).
            text = re.sub(r"\\\$", "\x00", repl.this)
            text = re.sub(r"\$(\d)", r"\\\1", text).replace("\x00", "$")
            repl = exp.Literal.string(text)
        return _call("regexp_replace", args[0], args[1], repl, exp.Literal.string("g"))

    def _fn_split_part(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        return _call("__trino_split_part", *args)

    def _fn_split(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        if len(args) == 3:
            return _call("__trino_split_limit", *args)
        return _call("str_split", *args)

    def _fn_strpos(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        if len(args) == 3:
            raise AthenaError("NOT_SUPPORTED", "strpos with an instance argument is not supported by lakebox")
        return exp.cast(_call("strpos", *args), "BIGINT")

    def _fn_element_at(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        return _call("__trino_element_at", *args)

    def _fn_cardinality(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        is_map = isinstance(args[0], exp.Map | exp.VarMap) or (
            isinstance(args[0], exp.Anonymous) and args[0].name.lower() == "map")
        return exp.cast(_call("cardinality" if is_map else "len", *args), "BIGINT")

    def _fn_concat(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        if len(args) < 2:
            raise AthenaError("FUNCTION_NOT_FOUND",
                              "There must be two or more concatenation arguments to concat")
        # Trino's concat returns NULL when any argument is NULL (DuckDB's skips NULLs); || does the same.
        args = [exp.cast(a, "VARCHAR") if isinstance(a, exp.Null) else a for a in args]
        out: exp.Expression = args[0]
        for a in args[1:]:
            out = exp.DPipe(this=out, expression=a, safe=False)
        return exp.Paren(this=out)

    def _fn_reduce(self, node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        if len(args) != 4 or not isinstance(args[2], exp.Lambda) or not isinstance(args[3], exp.Lambda):
            raise AthenaError("FUNCTION_NOT_FOUND", "reduce takes (array, initialState, inputFunction, outputFunction)")
        reduced = _call("list_reduce", args[0], args[2], args[1])
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

    # --- the walk --------------------------------------------------------------------------------------------

    def _agg_type(self, node: exp.Expression) -> str | None:
        if isinstance(node, exp.Count):
            return "bigint"
        if isinstance(node, exp.Sum | exp.Min | exp.Max):
            t = static_type(node.this, self.columns)
            return "bigint" if t in ("integer", "bigint", "smallint", "tinyint") else t
        return static_type(node, self.columns)

    def _div(self, node: exp.Div) -> exp.Expression:
        """Integer division truncates. Macro overloads decide from the operand types at bind time, but DuckDB
        cannot pick an overload for an aggregate argument; those are typed statically here instead."""
        a, b = node.this, node.expression
        if not any(isinstance(x, exp.AggFunc) or x.find(exp.AggFunc) for x in (a, b)):
            return _call("__trino_div", a, b)
        ints = ("integer", "bigint", "smallint", "tinyint")
        if self._agg_type(a) in ints and self._agg_type(b) in ints:
            return exp.IntDiv(this=a, expression=b)
        return exp.Div(this=a, expression=b)

    def _top_level(self, tree: exp.Expression) -> None:
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
                    this=_call("strftime", inner.copy(), exp.Literal.string("%Y-%m-%d %H:%M:%S.%g")),
                    expression=exp.Literal.string(" ")), expression=inner.args["zone"].copy())
                inner.replace(text)

    def rewrite(self, tree: exp.Expression) -> exp.Expression:
        self._top_level(tree)

        def fix(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Anonymous):
                return self._fn(node)
            if isinstance(node, exp.Func) and node.sql_name().lower() in UNSUPPORTED_FUNCTIONS:
                raise AthenaError("NOT_SUPPORTED", f"Trino function {node.sql_name().lower()}() is not supported "
                                  "by lakebox (see tests/conformance/UNSUPPORTED.md)")
            if (isinstance(node, exp.Sum) and not isinstance(node.this, exp.Distinct)
                    and not isinstance(node.parent, exp.Filter)):
                return _call("__trino_sum", node.this)
            if isinstance(node, exp.Floor | exp.Ceil) and not node.args.get("decimals"):
                return _call("__trino_floor" if isinstance(node, exp.Floor) else "__trino_ceil", node.this)
            if isinstance(node, exp.Extract) and node.name.upper() in ("DOW", "DAY_OF_WEEK"):
                return exp.cast(_call("isodow", node.expression), "BIGINT")
            if isinstance(node, exp.Extract) and node.name.upper() in ("YOW", "YEAR_OF_WEEK"):
                return exp.cast(_call("isoyear", node.expression), "BIGINT")
            if (isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.DECIMAL)
                    and not node.to.expressions and isinstance(node.this, exp.Literal) and node.this.is_string):
                # DECIMAL '1.5' is decimal(2,1) in Trino; a bare number literal has that type in DuckDB too.
                return exp.Literal.number(node.this.this)
            if isinstance(node, exp.Unnest) and (len(node.expressions) > 1 or any(
                    isinstance(a, exp.Map | exp.VarMap) for a in node.expressions)):
                raise AthenaError("NOT_SUPPORTED", "UNNEST of several arrays or of a map is not supported by "
                                  "lakebox; UNNEST one array per CROSS JOIN")
            if isinstance(node, exp.Div):
                return self._div(node)
            if isinstance(node, exp.Mod):
                return _call("__trino_mod", node.this, node.expression)
            if isinstance(node, exp.Add | exp.Sub) and isinstance(node.expression, exp.Interval):
                name = "__trino_plus_interval" if isinstance(node, exp.Add) else "__trino_minus_interval"
                return _call(name, node.this, node.expression)
            if isinstance(node, exp.Add) and isinstance(node.this, exp.Interval):
                return _call("__trino_plus_interval", node.expression, node.this)
            return node

        # Post-order, so that a call's arguments are already rewritten when the call itself is.
        for node in reversed(list(tree.walk())):
            new = fix(node)
            if new is not node:
                if node is tree:
                    tree = new
                else:
                    node.replace(new)
        return tree


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


def rewrite(tree: exp.Expression, sql: str = "", columns: Mapping[str, str] | None = None) -> exp.Expression:
    """Return ``tree`` rewritten so that DuckDB computes what Trino would (see the module docstring)."""
    return Rewriter(sql, columns or {}).rewrite(tree)


def install(con: object) -> None:
    """Create the Trino compatibility macros on a DuckDB connection."""
    for sql in MACROS:
        con.execute(sql)  # type: ignore[attr-defined]

"""The DuckDB macros behind ``query.trino``'s rewrites: Trino's function semantics, as DuckDB SQL. Pure data.

Typed overloads (``CREATE MACRO f(x DATE) AS ..., (x TIMESTAMP) AS ...``) let DuckDB's binder choose the
behaviour from the argument types, as Trino's function resolution does; a type no overload takes (VARCHAR
for ``date_format``) fails at bind time, before any row is read, like Athena's analysis error.

Errors are raised with :func:`fail`: a cast of a marked string, which DuckDB's ``TRY`` can catch (its
``error()`` is volatile and refused inside ``TRY``). ``duck_errors.from_duckdb`` reads the marker back.
"""

from __future__ import annotations


def fail(kind: str, message_sql: str, duck_type: str) -> str:
    """SQL that raises Athena error ``kind`` with the (SQL-expression) message, typed as ``duck_type``."""
    marked = f"('[[LAKEBOX:{kind}:' || {message_sql} || ']]')"
    if duck_type == "VARCHAR":
        return f"CAST(CAST({marked} AS INTEGER) AS VARCHAR)"
    if duck_type.endswith("]") or duck_type.startswith(("MAP", "STRUCT")):
        # A string casts to a list or map by parsing it, so the marker would become a value: fail on an
        # integer cast instead and type the (never produced) NULL.
        return f"CAST(CASE WHEN CAST({marked} AS INTEGER) IS NULL THEN NULL END AS {duck_type})"
    return f"CAST({marked} AS {duck_type})"


_DATE_UNITS = "('day', 'week', 'month', 'quarter', 'year')"
_TS_UNITS = "('millisecond', 'second', 'minute', 'hour', 'day', 'week', 'month', 'quarter', 'year')"


def _unit_guard(units: str, body: str, field: str, duck_type: str) -> str:
    """Trino accepts a fixed set of units per type; others fail with INVALID_FUNCTION_ARGUMENT."""
    msg = "'''' || u || ''' is not a valid " + field + " field'"
    return (f"CASE WHEN lower(u) IN {units} THEN {body} "
            f"ELSE {fail('INVALID_FUNCTION_ARGUMENT', msg, duck_type)}"
            " END")


def _interval(u: str = "u", n: str = "n") -> str:
    # DuckDB has no 'quarter' interval unit; a quarter is three months.
    return (f"CAST(CASE WHEN lower({u}) = 'quarter' THEN CAST({n} * 3 AS VARCHAR) || ' month' "
            f"ELSE CAST({n} AS VARCHAR) || ' ' || lower({u}) END AS INTERVAL)")


def _timestamp_arg(name: str) -> str:
    """Accept what Trino's signature takes after implicit coercion: timestamp, timestamp with time zone, and
    date (DATE coerces to timestamp(0)); nothing else, in particular not VARCHAR."""
    return (f"CREATE OR REPLACE MACRO __trino_arg_{name}(x TIMESTAMP) AS x, (x TIMESTAMP WITH TIME ZONE) AS x, "
            "(x DATE) AS CAST(x AS TIMESTAMP)")


def _overloaded(name: str, variants: list[tuple[str, str, str]],
                fallback: tuple[str, str] | None = None) -> tuple[str, ...]:
    """``__trino_<name>`` with typed overloads (DuckDB picks one at bind time), and each overload alone as
    ``__trino_<name>__<suffix>``: DuckDB cannot pick an overload for an aggregate or window argument, so the
    rewrite calls the single macro its static type names (:func:`specialized`)."""
    bodies = [f"({params}) AS {body}" for _, params, body in variants]
    if fallback:
        bodies.append(f"({fallback[0]}) AS {fallback[1]}")
    SPECIALIZED[name] = frozenset(suffix for suffix, _, _ in variants)
    if fallback == ("x", f"{name}(x)") and SPECIALIZED[name] <= {"int", "bigint"}:
        NATIVE_FALLBACK.add(name)
    return (f"CREATE OR REPLACE MACRO __trino_{name}" + ", ".join(bodies),
            *(f"CREATE OR REPLACE MACRO __trino_{name}__{suffix}({params}) AS {body}"
              for suffix, params, body in variants))


#: Macros with single-overload variants: name -> suffixes (``int``, ``bigint``, ``date``, ``ts``, ...).
SPECIALIZED: dict[str, frozenset[str]] = {}
#: Overloaded macros whose only typed variants take integers and whose fallback is DuckDB's own function of
#: the same name (``sum``, ``floor``, ``ceil``): for a decimal or floating argument DuckDB picks that fallback
#: (it casts neither to an integer implicitly), so the rewrite can call DuckDB's function directly.
NATIVE_FALLBACK: set[str] = set()


def type_suffix(trino_type: str | None) -> str | None:
    """The variant suffix for a static Trino type, or None."""
    t = (trino_type or "").lower()
    if t in ("integer", "smallint", "tinyint"):
        return "int"
    if t in ("bigint", "date", "double", "real"):
        return t
    if t.startswith("timestamp"):
        return "tstz" if t.endswith("with time zone") else "ts"
    return None


def native_fallback(name: str, trino_type: str | None) -> bool:
    """Whether ``__trino_<name>`` of a value of static type ``trino_type`` is DuckDB's own ``<name>`` (see
    :data:`NATIVE_FALLBACK`): the rewrite then need not create the macro."""
    t = (trino_type or "").lower()
    return name in NATIVE_FALLBACK and (t.startswith("decimal(") or t in ("double", "real"))


def specialized(name: str, *types: str | None) -> str | None:
    """``__trino_<name>__<suffix>`` when the static types pick one variant (all arguments of one suffix;
    ``int`` and ``bigint`` together widen to ``bigint``), else None."""
    suffixes = {type_suffix(t) for t in types}
    if suffixes == {"int", "bigint"}:
        suffixes = {"bigint"}
    if len(suffixes) != 1:
        return None
    suffix = suffixes.pop()
    return f"__trino_{name}__{suffix}" if suffix in SPECIALIZED.get(name, ()) else None


_DIV0 = "'Division by zero'"
_INDEX_ZERO = "'SQL array indices start at 1'"
_INDEX_NEGATIVE = "'Array subscript is negative: ' || CAST(i AS VARCHAR)"
_INDEX_PAST = ("'Array subscript must be less than or equal to array length: ' || CAST(i AS VARCHAR) || ' > ' "
               "|| CAST(len(a) AS VARCHAR)")


def _typeof_sql(t: str) -> str:
    """DuckDB's type name (``t``, SQL) as Trino names it: one array level, decimals, the scalar types."""
    scalar = ("CASE {0} WHEN 'FLOAT' THEN 'real' WHEN 'TIMESTAMP' THEN 'timestamp(3)' "
              "WHEN 'TIMESTAMP WITH TIME ZONE' THEN 'timestamp(3) with time zone' WHEN 'HUGEINT' THEN 'bigint' "
              "WHEN 'INTERVAL' THEN 'interval day to second' WHEN 'BLOB' THEN 'varbinary' "
              "WHEN '\"NULL\"' THEN 'unknown' WHEN 'NULL' THEN 'unknown' ELSE lower({0}) END")
    inner = f"left({t}, length({t}) - 2)"
    return (f"CASE WHEN {t} LIKE '%[]' THEN 'array(' || ({scalar.format(inner)}) || ')' "
            f"ELSE {scalar.format(t)} END")
_BAD_ISO = "'Invalid format: \"' || s || '\"'"
_FAIL_INDEX = fail("INVALID_FUNCTION_ARGUMENT", "'Index must be greater than zero'", "VARCHAR")
_FAIL_LIMIT = fail("INVALID_FUNCTION_ARGUMENT", "'Limit must be positive'", "VARCHAR[]")
_FAIL_ZONE = fail("NOT_SUPPORTED", "'timestamps with a time zone other than UTC are not kept by lakebox'",
                  "TIMESTAMP WITH TIME ZONE")
_FAIL_ISO_TS = fail("INVALID_FUNCTION_ARGUMENT", _BAD_ISO, "TIMESTAMP WITH TIME ZONE")
_FAIL_ISO_DATE = fail("INVALID_FUNCTION_ARGUMENT", _BAD_ISO, "DATE")
_ISO_WEEK = r"'^(\d{4})-?W(\d{2})(?:-?([1-7]))?$'"
_ISO_ORDINAL = r"'^(\d{4})-?(\d{3})$'"

MACROS: tuple[str, ...] = (
    # Integer division truncates toward zero and fails on zero; doubles follow IEEE (1/0 = Infinity).
    *_overloaded("div", [
        ("int", "a INTEGER, b INTEGER",
         f"CASE WHEN a IS NULL OR b IS NULL THEN NULL WHEN b = 0 THEN {fail('DIVISION_BY_ZERO', _DIV0, 'INTEGER')} ELSE CAST(a // b AS INTEGER) END"),
        ("bigint", "a BIGINT, b BIGINT", f"CASE WHEN a IS NULL OR b IS NULL THEN NULL WHEN b = 0 THEN {fail('DIVISION_BY_ZERO', _DIV0, 'BIGINT')} ELSE a // b END"),
        ("double", "a DOUBLE, b DOUBLE", "a / b"), ("real", "a FLOAT, b FLOAT", "a / b")], ("a, b", "a / b")),
    *_overloaded("mod", [
        ("int", "a INTEGER, b INTEGER",
         f"CASE WHEN a IS NULL OR b IS NULL THEN NULL WHEN b = 0 THEN {fail('DIVISION_BY_ZERO', _DIV0, 'INTEGER')} ELSE CAST(a % b AS INTEGER) END"),
        ("bigint", "a BIGINT, b BIGINT", f"CASE WHEN a IS NULL OR b IS NULL THEN NULL WHEN b = 0 THEN {fail('DIVISION_BY_ZERO', _DIV0, 'BIGINT')} ELSE a % b END")],
        ("a, b", "a % b")),
    # DATE +/- INTERVAL is a DATE in Trino (a TIMESTAMP in DuckDB).
    *_overloaded("plus_interval", [("date", "x DATE, i INTERVAL", "CAST(x + i AS DATE)"),
                                   ("ts", "x TIMESTAMP, i INTERVAL", "x + i"),
                                   ("tstz", "x TIMESTAMP WITH TIME ZONE, i INTERVAL", "x + i")], ("x, i", "x + i")),
    *_overloaded("minus_interval", [("date", "x DATE, i INTERVAL", "CAST(x - i AS DATE)"),
                                    ("ts", "x TIMESTAMP, i INTERVAL", "x - i"),
                                    ("tstz", "x TIMESTAMP WITH TIME ZONE, i INTERVAL", "x - i")], ("x, i", "x - i")),
    *_overloaded("date_trunc", [
        ("date", "u VARCHAR, x DATE", _unit_guard(_DATE_UNITS, "CAST(date_trunc(lower(u), x) AS DATE)", "DATE", "DATE")),
        ("ts", "u VARCHAR, x TIMESTAMP", _unit_guard(_TS_UNITS, "date_trunc(lower(u), x)", "Timestamp", "TIMESTAMP")),
        ("tstz", "u VARCHAR, x TIMESTAMP WITH TIME ZONE",
         _unit_guard(_TS_UNITS, "date_trunc(lower(u), x)", "Timestamp", "TIMESTAMP WITH TIME ZONE"))]),
    *_overloaded("date_add", [
        ("date", "u VARCHAR, n BIGINT, x DATE",
         _unit_guard(_DATE_UNITS, f"CAST(x + {_interval()} AS DATE)", "DATE", "DATE")),
        ("ts", "u VARCHAR, n BIGINT, x TIMESTAMP", _unit_guard(_TS_UNITS, f"x + {_interval()}", "Timestamp", "TIMESTAMP")),
        ("tstz", "u VARCHAR, n BIGINT, x TIMESTAMP WITH TIME ZONE",
         _unit_guard(_TS_UNITS, f"x + {_interval()}", "Timestamp", "TIMESTAMP WITH TIME ZONE"))]),
    # Trino counts whole units elapsed (Joda's *Between); DuckDB's date_sub does, its date_diff does not.
    *_overloaded("date_diff", [
        ("date", "u VARCHAR, a DATE, b DATE", _unit_guard(_DATE_UNITS, "date_sub(lower(u), a, b)", "DATE", "BIGINT")),
        ("ts", "u VARCHAR, a TIMESTAMP, b TIMESTAMP",
         _unit_guard(_TS_UNITS, "date_sub(lower(u), a, b)", "Timestamp", "BIGINT")),
        ("tstz", "u VARCHAR, a TIMESTAMP WITH TIME ZONE, b TIMESTAMP WITH TIME ZONE",
         _unit_guard(_TS_UNITS, "date_sub(lower(u), a, b)", "Timestamp", "BIGINT"))]),
    _timestamp_arg("date_format"),
    _timestamp_arg("format_datetime"),
    _timestamp_arg("to_unixtime"),
    "CREATE OR REPLACE MACRO __trino_from_iso8601_timestamp(s) AS CASE WHEN s IS NULL THEN NULL "
    r"WHEN regexp_matches(s, 'T.*[+-]\d\d(:?\d\d)?$') AND NOT regexp_matches(s, '[+-]00(:?00)?$') THEN "
    f"{_FAIL_ZONE} "
    "WHEN TRY_CAST(s AS TIMESTAMP WITH TIME ZONE) IS NULL THEN "
    f"{_FAIL_ISO_TS} "
    "ELSE TRY_CAST(s AS TIMESTAMP WITH TIME ZONE) END",
    # ISO 8601 dates include week dates (2020-W10, Monday of ISO week 10) and ordinal dates (2020-123).
    "CREATE OR REPLACE MACRO __trino_iso_week_date(y, w, d) AS "
    "CAST(make_date(y, 1, 4) - CAST(isodow(make_date(y, 1, 4)) - 1 AS INTEGER) + CAST((w - 1) * 7 + (d - 1) AS INTEGER) AS DATE)",
    "CREATE OR REPLACE MACRO __trino_from_iso8601_date(s) AS CASE WHEN s IS NULL THEN NULL "
    f"WHEN regexp_matches(s, {_ISO_WEEK}) THEN __trino_iso_week_date("
    f"CAST(regexp_extract(s, {_ISO_WEEK}, 1) AS INTEGER), CAST(regexp_extract(s, {_ISO_WEEK}, 2) AS INTEGER), "
    f"coalesce(CAST(NULLIF(regexp_extract(s, {_ISO_WEEK}, 3), '') AS INTEGER), 1)) "
    f"WHEN regexp_matches(s, {_ISO_ORDINAL}) THEN CAST(make_date(CAST(regexp_extract(s, {_ISO_ORDINAL}, 1) AS INTEGER), "
    f"1, 1) + CAST(regexp_extract(s, {_ISO_ORDINAL}, 2) AS INTEGER) - 1 AS DATE) "
    r"WHEN regexp_matches(s, '^\d{4}(-\d{2}(-\d{2})?)?$') AND TRY_CAST(rpad(s, 10, '-01') AS DATE) IS NOT NULL "
    "THEN CAST(CASE length(s) WHEN 4 THEN s || '-01-01' WHEN 7 THEN s || '-01' ELSE s END AS DATE) "
    f"ELSE {_FAIL_ISO_DATE} END",
    # Exact and deterministic: an element of the input, as Trino's q-digest returns for small inputs.
    "CREATE OR REPLACE MACRO __trino_approx_percentile(x, p) AS quantile_disc(x, p)",
    "CREATE OR REPLACE MACRO __trino_regexp_extract(s, p, g) AS "
    "CASE WHEN regexp_matches(s, p) THEN regexp_extract(s, p, g) END",
    "CREATE OR REPLACE MACRO __trino_split_part(s, d, i) AS CASE "
    f"WHEN i <= 0 THEN {_FAIL_INDEX} "
    "WHEN i > len(string_split(s, d)) THEN NULL ELSE split_part(s, d, i) END",
    "CREATE OR REPLACE MACRO __trino_split_limit(s, d, n) AS CASE "
    f"WHEN n <= 0 THEN {_FAIL_LIMIT} "
    "WHEN len(string_split(s, d)) <= n THEN string_split(s, d) "
    "ELSE list_concat(string_split(s, d)[1:n - 1], [array_to_string(string_split(s, d)[n:], d)]) END",
    "CREATE OR REPLACE MACRO __trino_element_at(c, k) AS c[k]",
    # Trino's sum of integers is a bigint; DuckDB's is a HUGEINT.
    *_overloaded("sum", [("int", "x INTEGER", "CAST(sum(x) AS BIGINT)"), ("bigint", "x BIGINT", "CAST(sum(x) AS BIGINT)")],
                 ("x", "sum(x)")),
    # Trino keeps the first occurrence's order; DuckDB's list_distinct does not promise an order.
    "CREATE OR REPLACE MACRO __trino_array_distinct(a) AS list_filter(a, lambda x, i: list_position(a, x) = i)",
    # Java's Math.cbrt is exact on perfect cubes; pow(x, 1/3) is not.
    "CREATE OR REPLACE MACRO __trino_cbrt(x) AS CASE WHEN round(cbrt(x)) * round(cbrt(x)) * round(cbrt(x)) = x "
    "THEN round(cbrt(x)) ELSE cbrt(x) END",
    # sign/floor/ceil keep the argument's type in Trino ("[same as input]").
    *_overloaded("sign", [("int", "x INTEGER", "CAST(sign(x) AS INTEGER)"), ("bigint", "x BIGINT", "CAST(sign(x) AS BIGINT)"),
                          ("double", "x DOUBLE", "CASE WHEN isnan(x) OR x = 0 THEN x ELSE CAST(sign(x) AS DOUBLE) END")], ("x", "sign(x)")),
    *_overloaded("floor", [("int", "x INTEGER", "x"), ("bigint", "x BIGINT", "x")], ("x", "floor(x)")),
    *_overloaded("ceil", [("int", "x INTEGER", "x"), ("bigint", "x BIGINT", "x")], ("x", "ceil(x)")),
    # CAST(double AS bigint) rounds half away from zero in Trino (DuckDB: half to even); exact types pass.
    "CREATE OR REPLACE MACRO __trino_round_float(x TINYINT) AS x, (x SMALLINT) AS x, (x INTEGER) AS x, "
    "(x BIGINT) AS x, (x HUGEINT) AS x, (x DOUBLE) AS round(x), (x FLOAT) AS round(x), (x) AS x",
    # Decimal division on unscaled integers: round(a * m / b), half away from zero, as Trino's divideRoundUp.
    "CREATE OR REPLACE MACRO __trino_decimal_div(a, b, m) AS CASE "
    f"WHEN a IS NULL OR b IS NULL THEN NULL WHEN b = 0 THEN {fail('DIVISION_BY_ZERO', _DIV0, 'HUGEINT')} "
    "ELSE sign(a) * sign(b) * ((abs(a) * m) // abs(b) + CASE WHEN ((abs(a) * m) % abs(b)) * 2 >= abs(b) "
    "THEN 1 ELSE 0 END) END",
    # array[i] fails outside 1..cardinality (element_at returns NULL); the check is on the index only.
    "CREATE OR REPLACE MACRO __trino_array_index(a, i) AS CASE "
    f"WHEN i = 0 THEN {fail('INVALID_FUNCTION_ARGUMENT', _INDEX_ZERO, 'BIGINT')} "
    f"WHEN i < 0 THEN {fail('INVALID_FUNCTION_ARGUMENT', _INDEX_NEGATIVE, 'BIGINT')} "
    f"WHEN i > len(a) THEN {fail('INVALID_FUNCTION_ARGUMENT', _INDEX_PAST, 'BIGINT')} ELSE i END",
    "CREATE OR REPLACE MACRO __trino_substr(s, st) AS CASE WHEN s IS NULL OR st IS NULL THEN NULL "
    "WHEN st = 0 OR (st < 0 AND -st > length(s)) THEN '' ELSE substring(s, st) END, "
    "(s, st, n) AS CASE WHEN s IS NULL OR st IS NULL OR n IS NULL THEN NULL "
    "WHEN st = 0 OR n <= 0 OR (st < 0 AND -st > length(s)) THEN '' ELSE substring(s, st, n) END",
    f"CREATE OR REPLACE MACRO __trino_typeof(x) AS {_typeof_sql('typeof(x)')}",
)

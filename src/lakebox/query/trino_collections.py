"""DuckDB macros for Trino's array, map, bitwise and URL functions whose meaning differs from DuckDB's
namesakes (or that DuckDB lacks). Installed with the other macros (``trino_macros.MACROS``).

Trino's documented behaviour, per function (https://trino.io/docs/current/functions/):

- ``all_match``/``any_match``/``none_match``: three-valued; a predicate giving NULL for some element makes
  the result NULL unless a decisive element (false for all_match, true for any_match) exists.
- ``contains`` is NULL when the element is absent and the array holds a NULL; ``arrays_overlap`` likewise.
- ``array_max``/``array_min`` are NULL if any element is NULL.
- ``array_except``/``array_intersect``/``array_union`` keep the first occurrences in order.
- ``sequence`` counts up or down (step 1 or -1 by default), fails on a zero step or a step of the wrong sign,
  and on more than 10,000 entries.
- Bitwise functions work on bigint two's complement; shifts keep the value's type (integer or bigint), and
  shifting by the width or more gives 0 (or -1 for a negative value, arithmetic right shift).
- URL functions split the URL by RFC 2396 (``[protocol:][//host[:port]][path][?query][#fragment]``);
  ``url_encode`` is Java's ``URLEncoder`` (space as ``+``; ``.-*_`` kept), ``url_decode`` its inverse.
"""

from __future__ import annotations

from lakebox.query.trino_macros import fail

_HAS_NULL = "list_contains(list_transform({0}, lambda __v: __v IS NULL), true)"
_TOO_MANY = "'result of sequence function must not have more than 10000 entries'"
_STEP_ZERO = "'step must not be zero'"
_STEP_SIGN = ("'sequence stop value should be greater than or equal to start value if step is greater than zero "
              "otherwise stop should be less than or equal to start'")
_NO_ORDER = fail("NOT_SUPPORTED", "'array_sort: the comparator does not define an order'", "INTEGER")
_URL = r"'^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))?'"
_U64 = "18446744073709551616"
_U32 = "4294967296"


def _seq_check(a: str, b: str, s: str, count: str) -> str:
    return (f"CASE WHEN {s} = 0 THEN {fail('INVALID_FUNCTION_ARGUMENT', _STEP_ZERO, 'BIGINT')} "
            f"WHEN ({s} > 0 AND {a} > {b}) OR ({s} < 0 AND {a} < {b}) "
            f"THEN {fail('INVALID_FUNCTION_ARGUMENT', _STEP_SIGN, 'BIGINT')} "
            f"WHEN {count} > 10000 THEN {fail('INVALID_FUNCTION_ARGUMENT', _TOO_MANY, 'BIGINT')} ELSE {s} END")


def _wrap32(x: str) -> str:
    """A bigint holding 32 bits, read as a signed 32-bit integer."""
    return f"CAST(CASE WHEN ({x}) >= 2147483648 THEN ({x}) - {_U32} ELSE ({x}) END AS INTEGER)"


MACROS: tuple[str, ...] = (
    f"CREATE OR REPLACE MACRO __trino_all_match(t) AS CASE WHEN t IS NULL THEN NULL WHEN list_contains(t, false) "
    f"THEN false WHEN {_HAS_NULL.format('t')} THEN NULL ELSE true END",
    f"CREATE OR REPLACE MACRO __trino_any_match(t) AS CASE WHEN t IS NULL THEN NULL WHEN list_contains(t, true) "
    f"THEN true WHEN {_HAS_NULL.format('t')} THEN NULL ELSE false END",
    f"CREATE OR REPLACE MACRO __trino_contains(a, x) AS CASE WHEN a IS NULL OR x IS NULL THEN NULL "
    f"WHEN list_contains(a, x) THEN true WHEN {_HAS_NULL.format('a')} THEN NULL ELSE false END",
    f"CREATE OR REPLACE MACRO __trino_arrays_overlap(x, y) AS CASE WHEN x IS NULL OR y IS NULL THEN NULL "
    "WHEN len(list_filter(x, lambda __v: __v IS NOT NULL AND list_contains(y, __v))) > 0 THEN true "
    f"WHEN {_HAS_NULL.format('x')} OR {_HAS_NULL.format('y')} THEN NULL ELSE false END",
    f"CREATE OR REPLACE MACRO __trino_array_max(a) AS CASE WHEN {_HAS_NULL.format('a')} THEN NULL ELSE list_max(a) END",
    f"CREATE OR REPLACE MACRO __trino_array_min(a) AS CASE WHEN {_HAS_NULL.format('a')} THEN NULL ELSE list_min(a) END",
    "CREATE OR REPLACE MACRO __trino_array_except(x, y) AS "
    "list_filter(x, lambda __v, __i: list_position(x, __v) = __i AND NOT list_contains(y, __v))",
    "CREATE OR REPLACE MACRO __trino_array_intersect(x, y) AS "
    "list_filter(x, lambda __v, __i: list_position(x, __v) = __i AND list_contains(y, __v))",
    "CREATE OR REPLACE MACRO __trino_array_union(x, y) AS "
    "list_filter(list_concat(x, y), lambda __v, __i: list_position(list_concat(x, y), __v) = __i)",
    "CREATE OR REPLACE MACRO __trino_shuffle(a) AS "
    "list_transform(list_sort(list_transform(a, lambda __v: {'r': random(), 'v': __v})), lambda __s: __s.v)",
    # The failing branch filters the array by a failing cast, so it has the array's type.
    "CREATE OR REPLACE MACRO __trino_place_by_rank(a, r) AS CASE WHEN len(list_distinct(r)) <> len(a) THEN "
    f"list_filter(a, lambda __x: {_NO_ORDER} IS NULL) "
    "ELSE list_transform(range(0, len(a)), lambda __k: a[list_position(r, __k)]) END",
    # sequence: bigint and date bounds, step 1 or -1 by default; an explicit step is checked as Trino does.
    "CREATE OR REPLACE MACRO __trino_sequence(a BIGINT, b BIGINT) AS CASE WHEN abs(b - a) >= 10000 THEN "
    f"{fail('INVALID_FUNCTION_ARGUMENT', _TOO_MANY, 'BIGINT[]')} "
    "WHEN a <= b THEN range(a, b + 1) ELSE range(a, b - 1, -1) END, "
    "(a DATE, b DATE) AS CASE WHEN abs(b - a) >= 10000 THEN "
    f"{fail('INVALID_FUNCTION_ARGUMENT', _TOO_MANY, 'DATE[]')} "
    "WHEN a <= b THEN list_transform(range(0, b - a + 1), lambda __i: a + CAST(__i AS INTEGER)) "
    "ELSE list_transform(range(0, a - b + 1), lambda __i: a - CAST(__i AS INTEGER)) END",
    "CREATE OR REPLACE MACRO __trino_sequence_step(a BIGINT, b BIGINT, s BIGINT) AS "
    f"range(a, b + sign({_seq_check('a', 'b', 's', '(abs(b - a) // greatest(abs(s), 1) + 1)')}), s)",
    # Day-to-second steps on dates and timestamps (year-to-month steps are refused by the rewrite).
    "CREATE OR REPLACE MACRO __trino_sequence_interval(a DATE, b DATE, s INTERVAL) AS "
    "list_transform(generate_series(CAST(a AS TIMESTAMP), CAST(b AS TIMESTAMP), "
    f"s * sign({_seq_check('a', 'b', 'epoch(s)', '0')})), lambda __t: CAST(__t AS DATE)), "
    "(a TIMESTAMP, b TIMESTAMP, s INTERVAL) AS "
    f"generate_series(a, b, s * sign({_seq_check('a', 'b', 'epoch(s)', '0')}))",
    # bitwise, on two's complement
    "CREATE OR REPLACE MACRO __trino_bit_count(x BIGINT, bits BIGINT) AS CASE WHEN bits >= 64 THEN bit_count(x) "
    "ELSE bit_count(x & ((CAST(1 AS BIGINT) << bits) - 1)) END",
    f"CREATE OR REPLACE MACRO __trino_shl(v INTEGER, s BIGINT) AS CASE WHEN s >= 32 THEN CAST(0 AS INTEGER) "
    f"ELSE {_wrap32(f'(CAST(v AS BIGINT) << s) & {int(_U32) - 1}')} END, "
    f"(v BIGINT, s BIGINT) AS CASE WHEN s >= 64 THEN CAST(0 AS BIGINT) ELSE CAST(CASE WHEN "
    f"((CAST(v AS HUGEINT) << s) & {int(_U64) - 1}) >= 9223372036854775808 THEN "
    f"((CAST(v AS HUGEINT) << s) & {int(_U64) - 1}) - {_U64} ELSE (CAST(v AS HUGEINT) << s) & {int(_U64) - 1} END "
    "AS BIGINT) END",
    f"CREATE OR REPLACE MACRO __trino_shr(v INTEGER, s BIGINT) AS CASE WHEN s >= 32 THEN CAST(0 AS INTEGER) "
    f"ELSE {_wrap32(f'(CAST(v AS BIGINT) & {int(_U32) - 1}) >> s')} END, "
    f"(v BIGINT, s BIGINT) AS CASE WHEN s >= 64 THEN CAST(0 AS BIGINT) WHEN s = 0 THEN v "
    f"ELSE CAST((CAST(v AS HUGEINT) + CASE WHEN v < 0 THEN {_U64} ELSE 0 END) >> s AS BIGINT) END",
    "CREATE OR REPLACE MACRO __trino_sar(v INTEGER, s BIGINT) AS CASE WHEN s >= 32 THEN CAST(CASE WHEN v < 0 "
    "THEN -1 ELSE 0 END AS INTEGER) ELSE CAST(v >> s AS INTEGER) END, "
    "(v BIGINT, s BIGINT) AS CASE WHEN s >= 64 THEN CAST(CASE WHEN v < 0 THEN -1 ELSE 0 END AS BIGINT) "
    "ELSE v >> s END",
    # replace with an empty search string inserts the replacement around every character (Java's rule).
    "CREATE OR REPLACE MACRO __trino_replace(s, f, r) AS CASE WHEN s IS NULL OR f IS NULL OR r IS NULL THEN NULL "
    "WHEN f <> '' THEN replace(s, f, r) WHEN s = '' THEN r "
    "ELSE r || array_to_string(list_transform(string_split(s, ''), lambda __c: __c || r), '') END",
    # JSON (text in, text or DuckDB's JSON out; Trino's JSON values print as their minified text)
    "CREATE OR REPLACE MACRO __trino_json_scalar(j, p) AS CASE WHEN json_type(j, p) IN ('OBJECT', 'ARRAY') THEN NULL "
    "ELSE json_extract_string(j, p) END",
    "CREATE OR REPLACE MACRO __trino_json_array_length(j) AS CASE WHEN json_type(j) = 'ARRAY' "
    "THEN CAST(json_array_length(j) AS BIGINT) END",
    "CREATE OR REPLACE MACRO __trino_json_size(j, p) AS CASE WHEN json_type(j, p) IS NULL THEN NULL "
    "WHEN json_type(j, p) = 'ARRAY' THEN CAST(json_array_length(j, p) AS BIGINT) "
    "WHEN json_type(j, p) = 'OBJECT' THEN CAST(len(json_keys(j, p)) AS BIGINT) ELSE CAST(0 AS BIGINT) END",
    "CREATE OR REPLACE MACRO __trino_is_json_scalar(j) AS json_type(j) NOT IN ('ARRAY', 'OBJECT')",
    # URL parts (RFC 2396)
    f"CREATE OR REPLACE MACRO __trino_url_protocol(u) AS NULLIF(regexp_extract(u, {_URL}, 2), '')",
    f"CREATE OR REPLACE MACRO __trino_url_authority(u) AS regexp_extract(u, {_URL}, 4)",
    "CREATE OR REPLACE MACRO __trino_url_host(u) AS "
    r"NULLIF(regexp_extract(__trino_url_authority(u), '^(?:[^@]*@)?(\[[^\]]*\]|[^:]*)', 1), '')",
    "CREATE OR REPLACE MACRO __trino_url_port(u) AS "
    r"CAST(NULLIF(regexp_extract(__trino_url_authority(u), ':(\d+)$', 1), '') AS BIGINT)",
    f"CREATE OR REPLACE MACRO __trino_url_path(u) AS regexp_extract(u, {_URL}, 5)",
    f"CREATE OR REPLACE MACRO __trino_url_query(u) AS CASE WHEN regexp_extract(u, {_URL}, 6) = '' THEN NULL "
    f"ELSE regexp_extract(u, {_URL}, 7) END",
    f"CREATE OR REPLACE MACRO __trino_url_fragment(u) AS CASE WHEN regexp_extract(u, {_URL}, 8) = '' THEN NULL "
    f"ELSE regexp_extract(u, {_URL}, 9) END",
    "CREATE OR REPLACE MACRO __trino_url_parameter(u, name) AS "
    "list_transform(list_filter(string_split(__trino_url_query(u), '&'), "
    "lambda __p: split_part(__p, '=', 1) = name), "
    "lambda __p: CASE WHEN strpos(__p, '=') > 0 THEN substr(__p, strpos(__p, '=') + 1) ELSE '' END)[1]",
    "CREATE OR REPLACE MACRO __trino_url_encode(s) AS "
    "replace(replace(replace(url_encode(s), '~', '%7E'), '%20', '+'), '%2A', '*')",
    "CREATE OR REPLACE MACRO __trino_url_decode(s) AS url_decode(replace(s, '+', '%20'))",
)

"""Athena's error vocabulary. Every query failure surfaces as an :class:`AthenaError` with an Athena error
type (SYNTAX_ERROR, TABLE_NOT_FOUND, ...) and, where known, line and column; never a raw DuckDB message alone.

Messages follow Trino's wording, which is what Athena engine v3 shows after the error type, e.g.
``COLUMN_NOT_FOUND: line 1:8: Column 'foo' cannot be resolved`` or
``FUNCTION_NOT_FOUND: line 1:8: Function 'foo' not registered``. DuckDB's errors are classified by
:func:`from_duckdb`; when the original query text is given, the position of the offending name is looked up
in it (DuckDB's own positions refer to the translated SQL, which the user never wrote).
"""

from __future__ import annotations

import re
from typing import Any

#: Athena ErrorCategory: 1 system, 2 user, 3 other.
USER = 2
SYSTEM = 1


class AthenaError(Exception):
    """A failed query, described as Athena describes it."""

    def __init__(
        self, error_type: str, message: str, *, line: int | None = None, column: int | None = None,
        category: int = USER,
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.line = line
        self.column = column
        self.category = category

    def __str__(self) -> str:
        return f"{self.error_type}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "error_type": self.error_type,
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "category": self.category,
        }


def line_col(sql: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset, as Trino reports positions."""
    line = sql.count("\n", 0, offset) + 1
    return line, offset - (sql.rfind("\n", 0, offset) + 1) + 1


def position_of(node: Any, sql: str) -> tuple[int | None, int | None]:
    """Where a parsed node starts in ``sql`` (sqlglot keeps token offsets in ``meta``), or (None, None).

    The earliest offset among the node's parts counts, so ``db.table`` is reported where ``db`` starts."""
    starts = [int(n.meta["start"]) for n in [node, *getattr(node, "walk", lambda: [])()]
              if "start" in (getattr(n, "meta", None) or {})]
    if not starts or not sql:
        return None, None
    start = min(starts)
    # A quoted identifier's offset points inside the quotes; Trino points at the quote.
    if start > 0 and sql[start - 1] == '"':
        start -= 1
    return line_col(sql, start)


def at(message: str, line: int | None, column: int | None) -> str:
    return f"line {line}:{column}: {message}" if line else message


_MARKER = re.compile(r"\[\[LAKEBOX:([A-Z_]+):(.*?)\]\]", re.S)

#: Trino's names for the functions lakebox checks through ``__trino_arg_*`` macros.
_EXPECTED_BY_MACRO = {
    "date_format": "date_format(timestamp(p), varchar(x)) , date_format(timestamp(p) with time zone, varchar(x))",
    "format_datetime": "format_datetime(timestamp(p), varchar(x)) , "
                       "format_datetime(timestamp(p) with time zone, varchar(x))",
    "to_unixtime": "to_unixtime(timestamp(p)) , to_unixtime(timestamp(p) with time zone)",
    "date_trunc": "date_trunc(varchar(x), date) , date_trunc(varchar(x), timestamp(p)) , "
                  "date_trunc(varchar(x), timestamp(p) with time zone)",
    "date_add": "date_add(varchar(x), bigint, date) , date_add(varchar(x), bigint, timestamp(p)) , "
                "date_add(varchar(x), bigint, timestamp(p) with time zone)",
    "date_diff": "date_diff(varchar(x), date, date) , date_diff(varchar(x), timestamp(p), timestamp(p)) , "
                 "date_diff(varchar(x), timestamp(p) with time zone, timestamp(p) with time zone)",
}

_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Referenced column \"?([^\"\s]+)\"? not found|Column .* not found|column .* does not exist", re.I),
     "COLUMN_NOT_FOUND"),
    (re.compile(r"Table with name .* does not exist|Table .* does not exist", re.I), "TABLE_NOT_FOUND"),
    (re.compile(r"Scalar Function with name .* does not exist|Function .* does not exist|"
                r"Table Function with name|Aggregate Function with name", re.I), "FUNCTION_NOT_FOUND"),
    (re.compile(r"No function matches|Cannot compare values of type|Cannot mix values of type|"
                r"Binder Error: .*type", re.I), "TYPE_MISMATCH"),
    (re.compile(r"Could not parse string .* according to format", re.I), "INVALID_FUNCTION_ARGUMENT"),
    (re.compile(r"Conversion Error|Could not convert|Invalid Input Error", re.I), "INVALID_CAST_ARGUMENT"),
    (re.compile(r"Out of Range|overflow", re.I), "NUMERIC_VALUE_OUT_OF_RANGE"),
    (re.compile(r"Division by zero", re.I), "DIVISION_BY_ZERO"),
    (re.compile(r"Parser Error|syntax error", re.I), "SYNTAX_ERROR"),
    (re.compile(r"Permission Error|disabled by configuration|locked", re.I), "PERMISSION_DENIED"),
    (re.compile(r"INTERRUPT|interrupted", re.I), "QUERY_TIMEOUT"),
]

_LINE = re.compile(r"LINE (\d+):")


def _find(source: str | None, kind: str, name: str) -> tuple[int | None, int | None]:
    """Position of the first column (kind="column") or function call (kind="function") named ``name``."""
    if not source:
        return None, None
    try:
        from lakebox.query.trino import AthenaTrino  # local: trino imports this module

        tree = AthenaTrino().parse(source)[0]
    except Exception:  # noqa: BLE001 - a position is a nicety; the error itself is already known
        return None, None
    if tree is None:
        return None, None
    from sqlglot import exp

    want = name.lower()
    for node in tree.walk():
        if kind == "column" and isinstance(node, exp.Column) and node.name.lower() == want:
            return position_of(node.this, source)
        if kind == "function" and isinstance(node, exp.Func):
            fname = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
            if fname.lower() == want:
                return position_of(node, source)
    return None, None


def from_duckdb(exc: BaseException, source: str | None = None) -> AthenaError:
    """Classify a DuckDB exception as an Athena error, reworded as Trino words it where the case is known.

    ``source`` is the query as the user wrote it, used to report the line and column of the name at fault.
    """
    text = str(exc)
    marker = _MARKER.search(text)
    if marker:
        return AthenaError(marker.group(1), marker.group(2))
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    first = re.sub(r"^[A-Za-z ]+Error: ", "", first)
    m = re.search(r"Referenced column \"?([^\"\s]+)\"? not found", text)
    if m:
        line, col = _find(source, "column", m.group(1))
        return AthenaError("COLUMN_NOT_FOUND", at(f"Column '{m.group(1).lower()}' cannot be resolved", line, col),
                           line=line, column=col)
    m = re.search(r"(?:Scalar|Aggregate) Function with name \"?(\w+)\"? does not exist", text)
    if m:
        line, col = _find(source, "function", m.group(1))
        return AthenaError("FUNCTION_NOT_FOUND", at(f"Function '{m.group(1).lower()}' not registered", line, col),
                           line=line, column=col)
    m = re.search(r"Macro __trino_arg_(\w+)\(\) does not support|Macro __trino_(date_trunc|date_add|date_diff)\(\)"
                  r" does not support", text)
    if m:
        fname = m.group(1) or m.group(2)
        line, col = _find(source, "function", fname)
        return AthenaError(
            "FUNCTION_NOT_FOUND",
            at(f"Unexpected parameters for function {fname}. Expected: {_EXPECTED_BY_MACRO[fname]}", line, col),
            line=line, column=col)
    m = re.search(r"Could not parse string \"(.*)\" according to format", text)
    if m:
        return AthenaError("INVALID_FUNCTION_ARGUMENT", f'Invalid format: "{m.group(1)}"')
    m = re.search(r"Cannot compare values of type (\w+) and (?:type )?(\w+)", text)
    if m:
        return AthenaError("TYPE_MISMATCH", f"Cannot compare {m.group(1).lower()} with {m.group(2).lower()}: "
                           "an explicit CAST is required")
    for pattern, kind in _RULES:
        if pattern.search(text):
            lm = _LINE.search(text)
            line = int(lm.group(1)) if lm else None
            return AthenaError(kind, first, line=line)
    return AthenaError("GENERIC_INTERNAL_ERROR", first, category=SYSTEM)

"""DuckDB's errors read as Athena's: :func:`from_duckdb` classifies a DuckDB exception as an
:class:`~lakebox.query.errors.AthenaError`, reworded as Trino words it where the case is known.

When the original query text is given, the position of the offending name is looked up in it (DuckDB's own
positions refer to the translated SQL, which the user never wrote).
"""

from __future__ import annotations

import difflib
import re

from sqlglot import exp
from sqlglot.errors import SqlglotError

from lakebox.query.errors import EXCEEDED_MEMORY, SYSTEM, AthenaError, at, position_of
from lakebox.query.trino import AthenaTrino
from lakebox.query.trino_signatures import EXPECTED

_MARKER = re.compile(r"\[\[LAKEBOX:([A-Z_]+):(.*?)\]\]", re.S)

_RULES: list[tuple[re.Pattern[str], str]] = [
    # First: DuckDB reports a locked setting as an "Invalid Input Error", which is not a bad value.
    (re.compile(r"Permission Error|disabled by configuration|locked", re.I), "PERMISSION_DENIED"),
    (re.compile(r"Referenced column \"?([^\"\s]+)\"? not found|Column .* not found|column .* does not exist", re.I),
     "COLUMN_NOT_FOUND"),
    (re.compile(r"Table with name .* does not exist|Table .* does not exist", re.I), "TABLE_NOT_FOUND"),
    (re.compile(r"Scalar Function with name .* does not exist|Function .* does not exist|"
                r"Table Function with name|Aggregate Function with name", re.I), "FUNCTION_NOT_FOUND"),
    (re.compile(r"No function matches|Cannot compare values of type|Cannot mix values of type|"
                r"Binder Error: .*type", re.I), "TYPE_MISMATCH"),
    (re.compile(r"Could not parse string .* according to format", re.I), "INVALID_FUNCTION_ARGUMENT"),
    # An integer that does not fit the target type: Trino's "Out of range for tinyint: 300".
    (re.compile(r"Conversion Error: Type INT\d+ with value .* out of range", re.I), "NUMERIC_VALUE_OUT_OF_RANGE"),
    (re.compile(r"Conversion Error|Could not convert", re.I), "INVALID_CAST_ARGUMENT"),
    # Other invalid input is a bad function argument (lpad's empty padding, hamming_distance's lengths).
    (re.compile(r"Invalid Input Error", re.I), "INVALID_FUNCTION_ARGUMENT"),
    (re.compile(r"Out of Range|overflow", re.I), "NUMERIC_VALUE_OUT_OF_RANGE"),
    (re.compile(r"Division by zero", re.I), "DIVISION_BY_ZERO"),
    (re.compile(r"Parser Error|syntax error", re.I), "SYNTAX_ERROR"),
    (re.compile(r"INTERRUPT|interrupted", re.I), "QUERY_TIMEOUT"),
]

_LINE = re.compile(r"LINE (\d+):")
_OUT_OF_MEMORY = re.compile(r"Out of Memory Error")


def _find(source: str | None, kind: str, name: str) -> tuple[int | None, int | None]:
    """Position of the first column (kind="column") or function call (kind="function") named ``name``."""
    if not source:
        return None, None
    try:
        tree = AthenaTrino().parse(source)[0]
    except SqlglotError:  # a position is a nicety; the error itself is already known
        return None, None
    if tree is None:
        return None, None
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
    m = re.search(r"Referenced column \"?([^\"\s]+)\"? not found", text) or re.search(
        r"(?:Table|Values list) \"([^\"]+)\" does not have a column named \"([^\"]+)\"", text)
    if m:
        column = m.group(m.lastindex or 1)
        written = ".".join(g.lower() for g in m.groups())
        line, col = _find(source, "column", column)
        # DuckDB names the closest column in scope; Athena's message stops at "cannot be resolved".
        near = re.search(r'Candidate bindings: [:\s]*"(?:[^"]*\.)?([^".]+)"', text)
        close = near is not None and difflib.SequenceMatcher(None, column.lower(), near.group(1).lower()).ratio() >= 0.5
        hint = f"; did you mean '{near.group(1).lower()}'?" if near and close else ""
        return AthenaError("COLUMN_NOT_FOUND", at(f"Column '{written}' cannot be resolved{hint}", line, col),
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
            at(f"Unexpected parameters for function {fname}. Expected: {EXPECTED[fname]}", line, col),
            line=line, column=col)
    m = re.search(r"Could not parse string \"(.*)\" according to format", text)
    if m:
        return AthenaError("INVALID_FUNCTION_ARGUMENT", f'Invalid format: "{m.group(1)}"')
    m = re.search(r"Cannot compare values of type (\w+) and (?:type )?(\w+)", text)
    if m:
        return AthenaError("TYPE_MISMATCH", f"Cannot compare {m.group(1).lower()} with {m.group(2).lower()}: "
                           "an explicit CAST is required")
    if _OUT_OF_MEMORY.search(text):
        # Athena's words when a query needs more memory than it may have (memory_limit, query_worker_memory).
        return AthenaError(EXCEEDED_MEMORY, f"Query exhausted resources at this scale factor: {first}")
    for pattern, kind in _RULES:
        if pattern.search(text):
            lm = _LINE.search(text)
            line = int(lm.group(1)) if lm else None
            return AthenaError(kind, first, line=line)
    return AthenaError("GENERIC_INTERNAL_ERROR", first, category=SYSTEM)

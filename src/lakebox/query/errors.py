"""Athena's error vocabulary. Every query failure surfaces as an :class:`AthenaError` with an Athena error
type (SYNTAX_ERROR, TABLE_NOT_FOUND, ...) and, where known, line and column; never a raw DuckDB message alone.
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


_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Referenced column \"?([^\"\s]+)\"? not found|Column .* not found|column .* does not exist", re.I),
     "COLUMN_NOT_FOUND"),
    (re.compile(r"Table with name .* does not exist|Table .* does not exist", re.I), "TABLE_NOT_FOUND"),
    (re.compile(r"Scalar Function with name .* does not exist|Function .* does not exist|"
                r"Table Function with name", re.I), "FUNCTION_NOT_FOUND"),
    (re.compile(r"No function matches|Cannot compare values of type|Cannot mix values of type|"
                r"Binder Error: .*type", re.I), "TYPE_MISMATCH"),
    (re.compile(r"Conversion Error|Could not convert|Invalid Input Error", re.I), "INVALID_CAST_ARGUMENT"),
    (re.compile(r"Out of Range|overflow", re.I), "NUMERIC_VALUE_OUT_OF_RANGE"),
    (re.compile(r"Division by zero", re.I), "DIVISION_BY_ZERO"),
    (re.compile(r"Parser Error|syntax error", re.I), "SYNTAX_ERROR"),
    (re.compile(r"Permission Error|disabled by configuration|locked", re.I), "PERMISSION_DENIED"),
    (re.compile(r"INTERRUPT|interrupted", re.I), "QUERY_TIMEOUT"),
]

_LINE = re.compile(r"LINE (\d+):")


def from_duckdb(exc: BaseException) -> AthenaError:
    """Classify a DuckDB exception as an Athena error type, keeping its first line as the message."""
    text = str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    first = re.sub(r"^[A-Za-z ]+Error: ", "", first)
    for pattern, kind in _RULES:
        if pattern.search(text):
            m = _LINE.search(text)
            line = int(m.group(1)) if m else None
            return AthenaError(kind, first, line=line)
    return AthenaError("GENERIC_INTERNAL_ERROR", first, category=SYSTEM)

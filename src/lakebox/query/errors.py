"""Athena's error vocabulary. Every query failure surfaces as an :class:`AthenaError` with an Athena error
type (SYNTAX_ERROR, TABLE_NOT_FOUND, ...) and, where known, line and column; never a raw DuckDB message alone.

Messages follow Trino's wording, which is what Athena engine v3 shows after the error type, e.g.
``COLUMN_NOT_FOUND: line 1:8: Column 'foo' cannot be resolved`` or
``FUNCTION_NOT_FOUND: line 1:8: Function 'foo' not registered``. DuckDB's errors are classified in
``duck_errors``. This module imports no parser or engine, so every part of the translation can raise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakebox.core.errors import LakeboxError

if TYPE_CHECKING:
    from sqlglot import exp

#: Athena's error type for a query that needed more memory than it may have ("Query exhausted resources at
#: this scale factor").
EXCEEDED_MEMORY = "EXCEEDED_MEMORY_LIMIT"

#: Athena ErrorCategory: 1 system, 2 user, 3 other.
USER = 2
SYSTEM = 1


class AthenaError(LakeboxError):
    """A failed query, described as Athena describes it: ``error_type`` (also the error ``code``) is Athena's
    error type (SYNTAX_ERROR, ...) or, for a refused API call, its API error code (InvalidRequestException)."""

    http_status = 400

    def __init__(
        self, error_type: str, message: str, *, line: int | None = None, column: int | None = None,
        category: int = USER,
    ) -> None:
        super().__init__(message, code=error_type)
        self.error_type = error_type
        self.line = line
        self.column = column
        self.category = category

    def __str__(self) -> str:
        return f"{self.error_type}: {self.message}"

    def to_dict(self) -> dict[str, str | int | None]:
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


def position_of(node: exp.Expr, sql: str) -> tuple[int | None, int | None]:
    """Where a parsed node starts in ``sql`` (sqlglot keeps token offsets in ``meta``), or (None, None).

    The earliest offset among the node's parts counts, so ``db.table`` is reported where ``db`` starts."""
    starts = [int(n.meta["start"]) for n in node.walk() if "start" in n.meta]
    if not starts or not sql:
        return None, None
    start = min(starts)
    # A quoted identifier's offset points inside the quotes; Trino points at the quote.
    if start > 0 and sql[start - 1] == '"':
        start -= 1
    return line_col(sql, start)


def at(message: str, line: int | None, column: int | None) -> str:
    return f"line {line}:{column}: {message}" if line else message

"""CSV downloads that a spreadsheet cannot execute: formula prefixes neutralised the OWASP way.

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets (``=cmd|' /C calc'!A0`` runs a program through DDE). OWASP's CSV injection
advice: prefix such a cell with a single quote, which makes the spreadsheet show it as text, and quote the
field. The dashboard's downloads go through :func:`neutralise_csv`; the result files under ``enriched/``
are not touched, they stay byte for byte what Athena writes (``lakebox query --format csv``, GetQueryResults
and the S3 endpoint read them).

Values of numeric columns (tinyint, smallint, integer, bigint, real, double, decimal) stay as they are: ``-5``
in a bigint column is a number, not a formula, and a spreadsheet should read it as one. Text that merely
looks like a number (``-5`` in a varchar column) is neutralised, as OWASP says.

The input is Athena's result CSV (header row, every value double-quoted, NULL an empty unquoted field, ``\\n``
line endings, newlines allowed inside quoted values); the output keeps that shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from lakebox.query.results import read_athena_csv

#: Characters that make a spreadsheet cell a formula (OWASP CSV injection).
FORMULA_PREFIXES = frozenset("=+-@\t\r")
_NUMERIC = ("tinyint", "smallint", "integer", "int", "bigint", "real", "float", "double", "decimal")


def is_numeric(athena_type: str) -> bool:
    """True for Athena's numeric column types (``decimal(10,2)`` included)."""
    return athena_type.lower().split("(", 1)[0].strip() in _NUMERIC


def neutralise(value: str, numeric: bool = False) -> str:
    """``value`` with a leading ``'`` when a spreadsheet would read it as a formula; numeric values as given."""
    if value and value[0] in FORMULA_PREFIXES and not numeric:
        return "'" + value
    return value


def _split(record: str) -> list[str | None]:
    """The fields of one record (no line ending): text for quoted fields, None for empty unquoted ones."""
    rows = read_athena_csv(record)
    return rows[0] if rows else [None]  # an empty record is one NULL field


def _records(lines: Iterable[str]) -> Iterator[str]:
    """Whole records from lines: a quoted value may hold newlines, and a record is complete when its
    quotes balance (every quote inside a value is doubled)."""
    pending: list[str] = []
    quotes = 0
    for line in lines:
        pending.append(line)
        quotes += line.count('"')
        if quotes % 2 == 0:
            yield "".join(pending)
            pending, quotes = [], 0
    if pending:
        yield "".join(pending)


def _field(value: str | None) -> str:
    return "" if value is None else '"' + value.replace('"', '""') + '"'


def neutralise_csv(lines: Iterable[str], types: Sequence[str]) -> Iterator[str]:
    """Athena's result CSV, header first, with formula cells neutralised; ``types`` are the columns' Athena
    types (a column beyond them, or the header, counts as text)."""
    numeric = [is_numeric(t) for t in types]
    header = True
    for record in _records(lines):
        body = record[:-1] if record.endswith("\n") else record
        ending = record[len(body):]
        out = []
        for i, value in enumerate(_split(body)):
            if value is not None:
                value = neutralise(value, numeric=not header and i < len(numeric) and numeric[i])
            out.append(_field(value))
        header = False
        yield ",".join(out) + ending

"""Trino's date/time format strings, translated to DuckDB's ``strftime``/``strptime`` specifiers. Pure.

Two families exist in Trino (https://trino.io/docs/current/functions/datetime.html):

- the MySQL-style specifiers of ``date_format``/``date_parse`` (``%Y-%m-%d %H:%i:%s``). They look like C's
  ``strftime`` but differ where it hurts: ``%i`` is minutes and ``%M`` is the month *name*; ``%W`` is the
  weekday name; ``%e``/``%c``/``%k``/``%l`` are unpadded; ``%v``/``%x`` are the ISO week and week-year;
  ``%f`` prints milliseconds times 1000. ``%D %U %u %V %w %X`` are not supported by Trino and fail with
  INVALID_FUNCTION_ARGUMENT, so they fail here too; any other ``%c`` prints ``c``.
- the Joda-Time patterns of ``format_datetime``/``parse_datetime`` (``yyyy-MM-dd HH:mm:ss``): letters repeat
  to set the width, text goes in single quotes.

Both are translated at query-translation time, because DuckDB needs the format as a constant.
"""

from __future__ import annotations

from lakebox.query.errors import AthenaError

#: Trino date_format specifier -> DuckDB strftime (printing).
_MYSQL_PRINT = {
    "a": "%a", "b": "%b", "c": "%-m", "d": "%d", "e": "%-d", "f": "%g000", "H": "%H", "h": "%I", "I": "%I",
    "i": "%M", "j": "%j", "k": "%-H", "l": "%-I", "M": "%B", "m": "%m", "p": "%p", "r": "%I:%M:%S %p",
    "S": "%S", "s": "%S", "T": "%H:%M:%S", "v": "%V", "W": "%A", "x": "%G", "Y": "%Y", "y": "%y", "%": "%%",
}
#: Parsing differs only where DuckDB's strptime needs another spelling (fractions of 1-9 digits).
_MYSQL_PARSE = {**_MYSQL_PRINT, "f": "%f"}
#: Documented as unsupported by Trino ("The following specifiers are not currently supported").
_MYSQL_UNSUPPORTED = frozenset("DUuVwX")


def mysql_to_duckdb(fmt: str, *, parse: bool = False) -> str:
    """Translate a ``date_format``/``date_parse`` format; unsupported specifiers raise as Trino does."""
    table = _MYSQL_PARSE if parse else _MYSQL_PRINT
    out: list[str] = []
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= len(fmt):
            out.append("%%")  # a trailing lone % prints itself
            break
        spec = fmt[i + 1]
        if spec in _MYSQL_UNSUPPORTED:
            raise AthenaError("INVALID_FUNCTION_ARGUMENT", f"%{spec} not supported in date format string")
        # Trino prints an unknown specifier's character literally (%Q -> Q).
        out.append(table.get(spec, "%%" if spec == "%" else spec))
        i += 2
    return "".join(out)


# --- Joda-Time patterns (format_datetime / parse_datetime) -------------------------------------------------

#: (letter, minimum count) -> DuckDB specifier; the longest matching count wins.
_JODA: dict[str, list[tuple[int, str]]] = {
    "y": [(1, "%Y"), (2, "%y"), (3, "%Y")],
    "Y": [(1, "%Y"), (2, "%y"), (3, "%Y")],
    "x": [(1, "%G")],
    "w": [(2, "%V")],
    "M": [(1, "%-m"), (2, "%m"), (3, "%b"), (4, "%B")],
    "d": [(1, "%-d"), (2, "%d")],
    "D": [(1, "%-j"), (3, "%j")],
    "E": [(1, "%a"), (4, "%A")],
    "a": [(1, "%p")],
    "H": [(1, "%-H"), (2, "%H")],
    "h": [(1, "%-I"), (2, "%I")],
    "m": [(1, "%-M"), (2, "%M")],
    "s": [(1, "%-S"), (2, "%S")],
    "S": [(3, "%g"), (6, "%f"), (9, "%n")],
    "Z": [(1, "%z")],
    "z": [(1, "%Z")],
}


def joda_to_duckdb(pattern: str) -> str:
    """Translate a Joda-Time pattern; letters lakebox cannot map raise INVALID_FUNCTION_ARGUMENT."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "'":
            end = pattern.find("'", i + 1)
            if end == i + 1:  # '' is a literal quote
                out.append("'")
                i += 2
                continue
            if end < 0:
                raise AthenaError("INVALID_FUNCTION_ARGUMENT", f"Unterminated quote in pattern: {pattern}")
            out.append(pattern[i + 1:end].replace("%", "%%"))
            i = end + 1
            continue
        if not ch.isalpha():
            out.append("%%" if ch == "%" else ch)
            i += 1
            continue
        n = 1
        while i + n < len(pattern) and pattern[i + n] == ch:
            n += 1
        choices = _JODA.get(ch)
        if choices is None:
            raise AthenaError("INVALID_FUNCTION_ARGUMENT", f"Illegal pattern component: {ch * n}")
        spec = ""
        for count, duck in choices:
            if n >= count:
                spec = duck
        if not spec:
            # Fractions shorter than milliseconds: Joda truncates; lakebox prints milliseconds' leading digits
            # only for the common SSS/SSSSSS/SSSSSSSSS widths.
            raise AthenaError("NOT_SUPPORTED", f"Pattern component {ch * n} is not supported by lakebox")
        out.append(spec)
        i += n
    return "".join(out)

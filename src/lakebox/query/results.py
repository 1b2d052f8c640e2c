"""Result values and files as Athena writes them. Pure.

- Types are reported with Athena's (Trino's) names: varchar, bigint, integer, double, decimal(p,s), date,
  timestamp(3), boolean, array(...).
- Text renderings follow Trino's casts to varchar: DOUBLE as Java's ``Double.toString`` (``9152.0``,
  ``5793.700000000001``, ``1.0E7``), DATE as ``2025-01-01``, TIMESTAMP as ``2025-01-01 00:00:00.000``.
- The result CSV quotes every non-NULL value, doubles embedded quotes, writes NULL as an empty unquoted
  field and ends lines with ``\\n``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import struct
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

_DEC = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$", re.I)


def athena_type(duck_type: str) -> str:
    """DuckDB type name -> the type name Athena reports in ColumnInfo."""
    t = duck_type.strip().upper()
    m = _DEC.match(t)
    if m:
        return f"decimal({m.group(1)},{m.group(2)})"
    if t.endswith("[]"):
        return f"array({athena_type(t[:-2])})"
    if t.startswith("MAP(") and t.endswith(")"):
        inner = t[4:-1]
        depth = 0
        for i, ch in enumerate(inner):
            depth += ch == "("
            depth -= ch == ")"
            if ch == "," and depth == 0:
                return f"map({athena_type(inner[:i])}, {athena_type(inner[i + 1:])})"
    if t.startswith("STRUCT("):
        return "row" + t[6:].lower()
    return {
        "VARCHAR": "varchar",
        "BIGINT": "bigint",
        "INTEGER": "integer",
        "SMALLINT": "smallint",
        "TINYINT": "tinyint",
        # DuckDB sums integers into HUGEINT; Trino's sum/count_if of integers is bigint.
        "HUGEINT": "bigint",
        "UBIGINT": "decimal(20,0)",
        "UINTEGER": "bigint",
        "DOUBLE": "double",
        "FLOAT": "real",
        "BOOLEAN": "boolean",
        "DATE": "date",
        "TIMESTAMP": "timestamp(3)",
        "TIMESTAMP_MS": "timestamp(3)",
        "TIMESTAMP_S": "timestamp(3)",
        "TIMESTAMP_NS": "timestamp(3)",
        "TIMESTAMP WITH TIME ZONE": "timestamp(3) with time zone",
        "TIME": "time(3)",
        "INTERVAL": "interval day to second",
        "BLOB": "varbinary",
        "UUID": "uuid",
        "NULL": "unknown",
        '"NULL"': "unknown",
    }.get(t, t.lower())


def java_double(x: float) -> str:
    """Java's ``Double.toString``: plain decimal in [1e-3, 1e7), else ``d.dddE±n``; always a fraction digit.

    Digits are the shortest that round-trip (Python's ``repr``), as Java 19+ prints them.
    """
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    return _java_notation(x, decimal.Decimal(repr(x)))


def java_float(x: float) -> str:
    """Java's ``Float.toString`` for a REAL value: the shortest digits that round-trip through float32
    (``0.33333334``), in ``Double.toString``'s notation."""
    if math.isnan(x) or math.isinf(x) or x == 0:
        return java_double(x)
    f32 = struct.unpack("f", struct.pack("f", x))[0]
    for digits in range(1, 10):
        text = f"{f32:.{digits}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == f32:
            return _java_notation(f32, decimal.Decimal(text))
    return java_double(f32)


def _java_notation(x: float, d: decimal.Decimal) -> str:
    if 1e-3 <= abs(x) < 1e7:
        text = format(d, "f")
        return text if "." in text else text + ".0"
    sign, digits, exponent = d.normalize().as_tuple()
    ds = "".join(map(str, digits))
    exp10 = len(ds) + int(exponent) - 1
    return f"{'-' if sign else ''}{ds[0]}.{ds[1:] or '0'}E{exp10}"


def to_text(value: Any, type_name: str = "") -> str | None:
    """Render one value as Athena's VarCharValue (None stays None: NULL)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if type_name == "real":
            return java_float(value)
        return java_double(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
        if value.tzinfo is not None:
            text += " UTC" if value.utcoffset() == dt.timedelta(0) else value.strftime(" %z")
        return text
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if isinstance(value, dt.timedelta):
        total_ms = int(value.total_seconds() * 1000)
        sign = "-" if total_ms < 0 else ""
        total_ms = abs(total_ms)
        days, rem = divmod(total_ms, 86_400_000)
        h, rem = divmod(rem, 3_600_000)
        m, rem = divmod(rem, 60_000)
        s, ms = divmod(rem, 1000)
        return f"{sign}{days} {h:02d}:{m:02d}:{s:02d}.{ms:03d}"
    if isinstance(value, list | tuple):
        inner = type_name[6:-1] if type_name.startswith("array(") else ""
        return "[" + ", ".join("NULL" if v is None else (to_text(v, inner) or "") for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{to_text(k)}={'NULL' if v is None else to_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bytes):
        return " ".join(f"{b:02x}" for b in value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def to_json_value(value: Any) -> Any:
    """A JSON-safe value for the API: numbers stay numbers (decimals as exact-enough floats), dates ISO."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else java_double(value)
    if isinstance(value, decimal.Decimal):
        return float(value) if value == value.normalize() or abs(value) < 2**53 else str(value)
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    return to_text(value)


def csv_field(text: str | None) -> str:
    return "" if text is None else '"' + text.replace('"', '""') + '"'


def athena_csv(names: Sequence[str], types: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterable[str]:
    """Lines of Athena's result CSV: quoted header, every value quoted, NULL empty, ``\\n`` endings."""
    yield ",".join(csv_field(n) for n in names) + "\n"
    for row in rows:
        yield ",".join(csv_field(to_text(v, t)) for v, t in zip(row, types, strict=False)) + "\n"


_CSV_FIELD = re.compile(r'"((?:[^"]|"")*)"|([^,\n]*)')


def read_athena_csv(text: str) -> list[list[str | None]]:
    """Rows of Athena's result CSV (:func:`athena_csv`'s output), the header included: a quoted field is its
    text (``""`` an empty string), an empty unquoted field is NULL. Python's ``csv`` module cannot tell the
    two apart before 3.12."""
    rows: list[list[str | None]] = []
    pos, end = 0, len(text)
    while pos < end:
        row: list[str | None] = []
        while True:
            m = _CSV_FIELD.match(text, pos)
            assert m is not None  # the pattern matches the empty string
            if m.group(1) is not None:
                row.append(m.group(1).replace('""', '"'))
            else:
                row.append(m.group(2) or None)
            pos = m.end()
            if pos < end and text[pos] == ",":
                pos += 1
                continue
            pos += 1  # the newline (or past the end)
            break
        rows.append(row)
    return rows

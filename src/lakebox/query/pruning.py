"""Implied date ranges: a filter on a function of a date column also filters the column itself. Pure.

DuckDB skips a Parquet row group (and with it, in a lake partitioned by month, every other month's file)
only when a filter compares the column itself with a constant: ``order_date >= DATE '2025-02-01'``. A filter
on a function of the column, ``date_format(order_date, '%Y-%m') = '2025-02'``, is evaluated on every row. So
the translation adds, to each SELECT's WHERE, the range such a conjunct implies:

    WHERE date_format(order_date, '%Y-%m') = '2025-02'
    WHERE date_format(order_date, '%Y-%m') = '2025-02'
      AND order_date >= DATE '2025-02-01' AND order_date < DATE '2025-03-01'

The original conjunct stays; the range is only ever implied by it, so the rows are the same. That holds
because only conjuncts of the WHERE's top-level AND chain are read (a row survives a WHERE only when every
such conjunct is TRUE, and then the implied range is TRUE as well, NULLs included: a NULL date makes both
NULL); nothing under OR, NOT, CASE or a function call is. The shapes read, on a column that resolves in
its SELECT's scope to a Trino ``date`` or ``timestamp(p)`` (never ``timestamp with time zone``, a string or
anything untyped):

- ``date_format(col, fmt) = 'lit'`` (either side) and ``date_format(col, fmt) IN ('a', 'b', ...)``, and the
  same with ``format_datetime`` (Joda patterns), where the format, as lakebox hands it to DuckDB's
  ``strftime``, holds a four-digit year, optionally a two-digit month, optionally a two-digit day (each at
  most once, in any order) and separators from ``-/._:, ``. The literal must parse exactly: ``'2025-2'``,
  ``'2025-13'`` or ``'2025-02-30'`` imply nothing (and leave the query as written). Exactly one field
  (the year) can print with another width, so a printed value is read back unambiguously;
- ``year(col) = N``, with ``month(col) = M`` and ``day(col) = D`` (or ``day_of_month``, or
  ``EXTRACT(YEAR|MONTH|DAY FROM col)``) on the same column narrowing it to a month or a day;
- ``date_trunc('day'|'month'|'quarter'|'year', col) = DATE 'x'``, when ``x`` is the start of its unit.

Athena does not do this: there, only a filter on a partition column (or on the column itself, for row
groups) reads less; see docs/athena-fidelity.md.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from sqlglot import exp

from lakebox.query.errors import AthenaError
from lakebox.query.trino_scope import ColumnTypes
from lakebox.query.trino_time import joda_to_duckdb, mysql_to_duckdb

#: The Trino types whose values a DATE literal bounds exactly (DuckDB compares a DATE with a timestamp at
#: its midnight). ``timestamp with time zone`` is left out: its day depends on the zone.
_TYPED = re.compile(r"^(date|timestamp(\(\d+\))?)$")
#: strftime specifiers read back: (field, digits).
_FIELDS = {"%Y": ("year", 4), "%m": ("month", 2), "%d": ("day", 2)}
#: Characters a format may print between the fields.
_SEPARATORS = frozenset("-/._:, ")
#: Which fields make a range, and its length.
_UNITS = {frozenset({"year"}): "year", frozenset({"year", "month"}): "month",
          frozenset({"year", "month", "day"}): "day"}

Range = tuple[dt.date, dt.date]
#: Above this many separate spans (a long IN list) only their hull is added: the OR would cost more to
#: evaluate than it saves.
_MAX_SPANS = 32


def add_implied_ranges(tree: exp.Expr, columns: ColumnTypes) -> int:
    """Add to every SELECT's WHERE in ``tree`` the date ranges its conjuncts imply (see the module
    docstring), in place; ``columns`` types each column reference by its scope. Returns how many ranges
    were added."""
    added = 0
    for select in list(tree.find_all(exp.Select)):
        where = select.args.get("where")
        if not isinstance(where, exp.Where):
            continue
        ranges = implied_ranges(where.this, columns)
        if ranges:
            # copy=False: the WHERE's nodes keep their identity, by which the rewrite finds their types.
            where.set("this", exp.and_(where.this, *(_predicate(col, spans) for col, spans in ranges), copy=False))
            added += len(ranges)
    return added


def implied_ranges(condition: exp.Expr, columns: ColumnTypes) -> list[tuple[exp.Column, list[Range]]]:
    """The ranges a WHERE condition implies: per column, a list of date spans (start inclusive, end
    exclusive), one of which every surviving row's value lies in."""
    found: list[tuple[exp.Column, list[Range]]] = []
    parts: dict[tuple[str, str], tuple[exp.Column, dict[str, set[int]]]] = {}
    for conjunct in _conjuncts(condition):
        spans = _function_ranges(conjunct, columns)
        if spans is not None:
            found.append(spans)
            continue
        part = _date_part(conjunct, columns)
        if part is not None:
            col, field, value = part
            entry = parts.setdefault((col.table.lower(), col.name.lower()), (col, {}))
            entry[1].setdefault(field, set()).add(value)
    for col, fields in parts.values():
        span = _parts_range(fields)
        if span is not None:
            found.append((col, [span]))
    return found


def _conjuncts(condition: exp.Expr) -> Iterator[exp.Expr]:
    """The conjuncts of the top-level AND chain (parentheses around an AND do not change it), left to
    right; without recursion, since a chain of thousands of ANDs needs no parentheses."""
    stack = [condition]
    while stack:
        node = _unparen(stack.pop())
        if isinstance(node, exp.And):
            stack += [node.expression, node.this]
        else:
            yield node


def _unparen(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _date_column(node: exp.Expr, columns: ColumnTypes) -> exp.Column | None:
    """``node`` when it is a bare column reference whose type, in its scope, is date or timestamp(p)."""
    node = _unparen(node)
    if not isinstance(node, exp.Column) or not isinstance(node.this, exp.Identifier) \
            or node.args.get("db") or node.args.get("catalog"):
        return None  # a.b.c may be a row field; only col and alias.col are read
    known, typ = columns.of(node)
    return node if known and typ is not None and _TYPED.match(typ) else None


def _string(node: exp.Expr) -> str | None:
    node = _unparen(node)
    return node.this if isinstance(node, exp.Literal) and node.is_string else None


def _function_ranges(conjunct: exp.Expr, columns: ColumnTypes) -> tuple[exp.Column, list[Range]] | None:
    """``date_format``/``format_datetime`` compared with (or IN) string literals, and ``date_trunc`` compared
    with a DATE literal."""
    if isinstance(conjunct, exp.EQ):
        for call, other in ((conjunct.this, conjunct.expression), (conjunct.expression, conjunct.this)):
            formatted = _formatted(call, columns)
            text = _string(other)
            if formatted is not None and text is not None:
                span = parse_range(formatted[1], text)
                return (formatted[0], [span]) if span is not None else None
            truncated = _truncated(call, other, columns)
            if truncated is not None:
                return truncated
        return None
    if isinstance(conjunct, exp.In) and not conjunct.args.get("query") and not conjunct.args.get("unnest") \
            and conjunct.expressions:
        formatted = _formatted(conjunct.this, columns)
        if formatted is None:
            return None
        spans = []
        for item in conjunct.expressions:
            text = _string(item)
            span = parse_range(formatted[1], text) if text is not None else None
            if span is None:
                return None  # one value that cannot be read: imply nothing at all
            spans.append(span)
        return formatted[0], spans
    return None


def _formatted(node: exp.Expr, columns: ColumnTypes) -> tuple[exp.Column, str] | None:
    """(column, DuckDB strftime format) of ``date_format(col, 'fmt')`` or ``format_datetime(col, 'fmt')``,
    translated exactly as the rewrite will translate it."""
    node = _unparen(node)
    if not isinstance(node, exp.Anonymous) or len(node.expressions) != 2:
        return None
    name = node.name.lower()
    if name not in ("date_format", "format_datetime"):
        return None
    col = _date_column(node.expressions[0], columns)
    fmt = _string(node.expressions[1])
    if col is None or fmt is None:
        return None
    try:
        return col, (mysql_to_duckdb(fmt) if name == "date_format" else joda_to_duckdb(fmt))
    except AthenaError:
        return None  # the rewrite refuses the format itself


def parse_range(fmt: str, text: str) -> Range | None:
    """The dates whose ``strftime(date, fmt)`` is ``text``, as [start, end), or None when ``fmt`` is not a
    year, year-month or year-month-day format of fixed-width fields (see the module docstring) or ``text``
    does not read back exactly."""
    pattern: list[str] = []
    order: list[str] = []
    i = 0
    while i < len(fmt):
        spec = fmt[i:i + 2]
        if spec in _FIELDS:
            field, digits = _FIELDS[spec]
            if field in order:
                return None
            order.append(field)
            pattern.append(f"([0-9]{{{digits}}})")
            i += 2
        elif fmt[i] in _SEPARATORS:
            pattern.append(re.escape(fmt[i]))
            i += 1
        else:
            return None
    unit = _UNITS.get(frozenset(order))
    m = re.fullmatch("".join(pattern), text)
    if unit is None or m is None:
        return None
    values = dict(zip(order, (int(g) for g in m.groups()), strict=True))
    # A year printed with four digits (1000-9999) is unambiguous however other years print.
    if not 1000 <= values["year"] <= 9999:
        return None
    return _span(values["year"], values.get("month", 1), values.get("day", 1), unit)


def _span(year: int, month: int, day: int, unit: str) -> Range | None:
    """[the given day, the start of the next ``unit``) when the day exists and the end is a date."""
    try:
        start = dt.date(year, month, day)
        if unit == "day":
            return start, start + dt.timedelta(days=1)
        if unit == "year":
            return start, dt.date(year + 1, 1, 1)
        months = 3 if unit == "quarter" else 1
        total = year * 12 + month - 1 + months
        return start, dt.date(total // 12, total % 12 + 1, 1)
    except (ValueError, OverflowError):
        return None


_TRUNC_UNITS = frozenset({"day", "month", "quarter", "year"})


def _truncated(call: exp.Expr, other: exp.Expr, columns: ColumnTypes) -> tuple[exp.Column, list[Range]] | None:
    """``date_trunc('unit', col) = DATE 'x'``: [x, x + 1 unit) when x starts its unit (else nothing)."""
    call, other = _unparen(call), _unparen(other)
    if not isinstance(call, exp.Anonymous) or call.name.lower() != "date_trunc" or len(call.expressions) != 2:
        return None
    unit = _string(call.expressions[0])
    col = _date_column(call.expressions[1], columns)
    if unit is None or unit.lower() not in _TRUNC_UNITS or col is None:
        return None
    if not (isinstance(other, exp.Cast) and other.to.is_type(exp.DataType.Type.DATE)):
        return None
    text = _string(other.this)
    if text is None or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return None
    try:
        x = dt.date.fromisoformat(text)
    except ValueError:
        return None
    unit = unit.lower()
    starts = {"day": True, "month": x.day == 1, "quarter": x.day == 1 and x.month % 3 == 1,
              "year": x.day == 1 and x.month == 1}
    if not starts[unit]:
        return None
    span = _span(x.year, x.month, x.day, unit)
    return (col, [span]) if span is not None else None


#: Date parts compared with an integer: the sqlglot node, or EXTRACT's field.
_PART_NODES: dict[type, str] = {exp.Year: "year", exp.Month: "month", exp.Day: "day", exp.DayOfMonth: "day"}


def _date_part(conjunct: exp.Expr, columns: ColumnTypes) -> tuple[exp.Column, str, int] | None:
    """``year(col) = N`` (or month, day, day_of_month, EXTRACT of one of them), either side."""
    if not isinstance(conjunct, exp.EQ):
        return None
    for side, other in ((conjunct.this, conjunct.expression), (conjunct.expression, conjunct.this)):
        side, other = _unparen(side), _unparen(other)
        if not (isinstance(other, exp.Literal) and other.is_int):
            continue
        field = _PART_NODES.get(type(side))
        arg = side.this if field is not None else None
        if isinstance(side, exp.Extract) and side.name.upper() in ("YEAR", "MONTH", "DAY"):
            field, arg = side.name.lower(), side.expression
        if field is None or not isinstance(arg, exp.Expression):
            continue
        col = _date_column(arg, columns)
        if col is not None:
            return col, field, int(other.this)
    return None


def _parts_range(fields: dict[str, set[int]]) -> Range | None:
    """The span fixed by one year, narrowed by one month and then one day; nothing without a single year
    (two different years leave no row, which the query's own conjuncts already say)."""
    years, months, days = fields.get("year", set()), fields.get("month", set()), fields.get("day", set())
    if len(years) != 1:
        return None
    year = next(iter(years))
    if len(months) == 1:
        month = next(iter(months))
        if len(days) == 1:
            return _span(year, month, next(iter(days)), "day")
        return _span(year, month, 1, "month")
    return _span(year, 1, 1, "year")


def _predicate(col: exp.Column, spans: list[Range]) -> exp.Expr:
    """``col >= DATE 'start' AND col < DATE 'end'`` over the spans' hull, and, when they leave gaps, the OR
    of each span as well (each a range DuckDB can test a row group's statistics against)."""
    merged: list[list[dt.date]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])

    def between(start: dt.date, end: dt.date) -> exp.Expr:
        return exp.and_(exp.GTE(this=col.copy(), expression=_date(start)),
                        exp.LT(this=col.copy(), expression=_date(end)), copy=False)

    hull = between(merged[0][0], merged[-1][1])
    if len(merged) == 1 or len(merged) > _MAX_SPANS:
        return hull
    return exp.and_(hull, exp.paren(exp.or_(*(between(s, e) for s, e in merged), copy=False), copy=False), copy=False)


def _date(day: dt.date) -> exp.Expr:
    return exp.cast(exp.Literal.string(day.isoformat()), exp.DataType.build("DATE"))

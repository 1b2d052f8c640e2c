"""An independent Python model of Trino's semantics for a small grammar of numeric, string and date
expressions, and hypothesis strategies that generate them with the value Trino gives.

Each generated expression is an :class:`Expr`: its SQL text, its Trino type (``integer``, ``bigint``,
``varchar``, ``date``, ``boolean``) and its value as Athena prints it, or :data:`ERROR` (an error type) when
Trino fails. The model follows Trino's documentation and, where the docs are silent, Trino's Java code
(Joda-Time for date differences): integer division truncates toward zero, ``%`` takes the dividend's sign,
integer overflow fails, ``substr`` counts from 1 (0 gives ''), ``split_part`` gives NULL past the end,
``replace`` with an empty search string inserts around every character, dates add months by clamping to the
month's last day and ``date_diff`` counts whole units elapsed.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from hypothesis import strategies as st

INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1


@dataclass(frozen=True)
class Err:
    """Trino fails with this error type."""

    kind: str


@dataclass(frozen=True)
class NullOrErr:
    """NULL when Trino's planner folds the constant expression (a NULL argument makes a call NULL and leaves a
    failing argument unevaluated), the error ``kind`` when the same expression runs over column values:
    either answer is Trino's."""

    kind: str


Value = int | str | bool | dt.date | Err | NullOrErr | None


@dataclass(frozen=True)
class Expr:
    sql: str
    type: str
    value: Value

    def text(self) -> str | None:
        """The value as Athena prints it (None for NULL)."""
        v = self.value
        if v is None or isinstance(v, Err | NullOrErr):
            return None
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, dt.date):
            return v.isoformat()
        return str(v)


def _lift(fn, out_type: str, *args: Expr, sql: str) -> Expr:  # type: ignore[no-untyped-def]
    """Apply ``fn`` as Trino does to constant arguments: its planner folds a call with a NULL argument to NULL
    (even when another argument would fail: that one is left unevaluated), else the first failure wins."""
    errors = [a.value.kind for a in args if isinstance(a.value, Err | NullOrErr)]
    if any(a.value is None for a in args) or any(isinstance(a.value, NullOrErr) for a in args):
        return Expr(sql, out_type, NullOrErr(errors[0]) if errors else None)
    if errors:
        return Expr(sql, out_type, Err(errors[0]))
    try:
        return Expr(sql, out_type, fn(*(a.value for a in args)))
    except _Fail as exc:
        return Expr(sql, out_type, Err(exc.kind))


class _Fail(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def _checked(n: int, typ: str) -> int:
    if abs(n) > (INT_MAX if typ == "integer" else BIGINT_MAX) + (1 if n < 0 else 0):
        raise _Fail("NUMERIC_VALUE_OUT_OF_RANGE")
    return n


def _div(a: int, b: int) -> int:
    if b == 0:
        raise _Fail("DIVISION_BY_ZERO")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _mod(a: int, b: int) -> int:
    if b == 0:
        raise _Fail("DIVISION_BY_ZERO")
    return a - b * _div(a, b)


def _arith_type(a: Expr, b: Expr) -> str:
    return "bigint" if "bigint" in (a.type, b.type) else "integer"


def _substr(s: str, start: int, length: int | None = None) -> str:
    n = len(s)
    if start == 0 or (length is not None and length <= 0):
        return ""
    if start < 0:
        start = n + start + 1
        if start <= 0:
            return ""
    if start > n:
        return ""
    end = n if length is None else min(n, start - 1 + length)
    return s[start - 1:end]


def _pad(s: str, size: int, pad: str, left: bool) -> str:
    if size <= len(s):
        return s[:size]
    fill = (pad * size)[: size - len(s)]
    return fill + s if left else s + fill


def _replace(s: str, search: str, rep: str) -> str:
    if search == "":
        return rep + "".join(c + rep for c in s)
    return s.replace(search, rep)


def _split_part(s: str, d: str, i: int) -> str | None:
    parts = s.split(d)
    return parts[i - 1] if i <= len(parts) else None


def _add_months(d: dt.date, n: int) -> dt.date:
    m = d.month - 1 + n
    y, m = d.year + m // 12, m % 12 + 1
    return dt.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def _months_between(start: dt.date, end: dt.date) -> int:
    """Joda-Time's monthsBetween for dates (BasicMonthOfYearDateTimeField.getDifferenceAsLong)."""
    if end < start:
        return -_months_between(end, start)
    diff = (end.year - start.year) * 12 + end.month - start.month
    start_day = start.day
    if end.day == calendar.monthrange(end.year, end.month)[1] and start_day > end.day:
        start_day = end.day
    if end.day < start_day:
        diff -= 1
    return diff


def _years_between(start: dt.date, end: dt.date) -> int:
    """Joda-Time's yearsBetween for dates (BasicYearDateTimeField.getDifferenceAsLong)."""
    if end < start:
        return -_years_between(end, start)

    def rem(d: dt.date) -> int:
        return (d - dt.date(d.year, 1, 1)).days

    feb29 = 59
    s_rem, e_rem = rem(start), rem(end)
    if s_rem >= feb29 and calendar.isleap(start.year):
        if not calendar.isleap(end.year):
            s_rem -= 1
    elif e_rem >= feb29 and calendar.isleap(end.year) and not calendar.isleap(start.year):
        e_rem -= 1
    diff = end.year - start.year
    return diff - 1 if e_rem < s_rem else diff


_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_FORMATS = {
    "%Y-%m-%d": lambda d: d.isoformat(),
    "%d/%m/%y": lambda d: f"{d.day:02d}/{d.month:02d}/{d.year % 100:02d}",
    "%b %e, %Y": lambda d: f"{_MONTHS[d.month - 1][:3]} {d.day}, {d.year}",
    "%W": lambda d: _DAYS[d.weekday()],
    "%j": lambda d: f"{d.timetuple().tm_yday:03d}",
    "%M %c": lambda d: f"{_MONTHS[d.month - 1]} {d.month}",
}


# --- strategies ------------------------------------------------------------------------------------------------

_small = st.integers(min_value=-1000, max_value=1000)
_letters = st.text(alphabet="abcAB ,x", max_size=6)


def _int_literal(n: int) -> Expr:
    return Expr(f"({n})" if n < 0 else str(n), "integer", n)


def _str_literal(s: str) -> Expr:
    return Expr("'" + s.replace("'", "''") + "'", "varchar", s)


def _date_literal(d: dt.date) -> Expr:
    return Expr(f"DATE '{d.isoformat()}'", "date", d)


ints_leaf = st.one_of(_small.map(_int_literal), st.just(Expr("CAST(NULL AS integer)", "integer", None)))
strings_leaf = st.one_of(_letters.map(_str_literal), st.just(Expr("CAST(NULL AS varchar)", "varchar", None)))
dates_leaf = st.dates(min_value=dt.date(1970, 1, 1), max_value=dt.date(2100, 12, 31)).map(_date_literal)


@st.composite
def _int_node(draw: st.DrawFn, ints: st.SearchStrategy[Expr], strings: st.SearchStrategy[Expr],
              dates: st.SearchStrategy[Expr]) -> Expr:
    kind = draw(st.sampled_from(["+", "-", "*", "/", "%", "abs", "sign", "mod", "greatest", "least", "length",
                                 "strpos", "date_diff", "extract"]))
    if kind in ("+", "-", "*", "/", "%"):
        a, b = draw(ints), draw(ints)
        t = _arith_type(a, b)
        sql = f"({a.sql} {kind} {b.sql})"
        ops = {"+": lambda x, y: _checked(x + y, t), "-": lambda x, y: _checked(x - y, t),
               "*": lambda x, y: _checked(x * y, t), "/": _div, "%": _mod}
        return _lift(ops[kind], t, a, b, sql=sql)
    if kind == "mod":
        a, b = draw(ints), draw(ints)
        return _lift(_mod, _arith_type(a, b), a, b, sql=f"mod({a.sql}, {b.sql})")
    if kind in ("abs", "sign"):
        a = draw(ints)
        fn = abs if kind == "abs" else (lambda x: (x > 0) - (x < 0))
        return _lift(fn, a.type, a, sql=f"{kind}({a.sql})")
    if kind in ("greatest", "least"):
        a, b = draw(ints), draw(ints)
        fn = max if kind == "greatest" else min
        return _lift(fn, _arith_type(a, b), a, b, sql=f"{kind}({a.sql}, {b.sql})")
    if kind == "length":
        s = draw(strings)
        return _lift(len, "bigint", s, sql=f"length({s.sql})")
    if kind == "strpos":
        s, t = draw(strings), draw(strings)
        return _lift(lambda x, y: x.find(y) + 1, "bigint", s, t, sql=f"strpos({s.sql}, {t.sql})")
    if kind == "date_diff":
        unit = draw(st.sampled_from(["day", "week", "month", "quarter", "year"]))
        a, b = draw(dates), draw(dates)
        fns = {"day": lambda x, y: (y - x).days, "week": lambda x, y: _div((y - x).days, 7),
               "month": _months_between, "quarter": lambda x, y: _div(_months_between(x, y), 3),
               "year": _years_between}
        return _lift(fns[unit], "bigint", a, b, sql=f"date_diff('{unit}', {a.sql}, {b.sql})")
    field = draw(st.sampled_from(["year", "month", "day", "day_of_week", "day_of_year", "quarter", "week"]))
    d = draw(dates)
    fns2 = {"year": lambda x: x.year, "month": lambda x: x.month, "day": lambda x: x.day,
            "day_of_week": lambda x: x.isoweekday(), "day_of_year": lambda x: x.timetuple().tm_yday,
            "quarter": lambda x: (x.month - 1) // 3 + 1, "week": lambda x: x.isocalendar()[1]}
    return _lift(fns2[field], "bigint", d, sql=f"{field}({d.sql})")


@st.composite
def _str_node(draw: st.DrawFn, ints: st.SearchStrategy[Expr], strings: st.SearchStrategy[Expr],
              dates: st.SearchStrategy[Expr]) -> Expr:
    kind = draw(st.sampled_from(["upper", "lower", "||", "concat", "substr2", "substr3", "reverse", "replace",
                                 "lpad", "rpad", "trim", "ltrim", "rtrim", "split_part", "date_format"]))
    if kind in ("upper", "lower", "reverse", "trim", "ltrim", "rtrim"):
        s = draw(strings)
        fns = {"upper": str.upper, "lower": str.lower, "reverse": lambda x: x[::-1], "trim": lambda x: x.strip(" "),
               "ltrim": lambda x: x.lstrip(" "), "rtrim": lambda x: x.rstrip(" ")}
        return _lift(fns[kind], "varchar", s, sql=f"{kind}({s.sql})")
    if kind in ("||", "concat"):
        a, b = draw(strings), draw(strings)
        sql = f"({a.sql} || {b.sql})" if kind == "||" else f"concat({a.sql}, {b.sql})"
        return _lift(lambda x, y: x + y, "varchar", a, b, sql=sql)
    if kind == "substr2":
        s, i = draw(strings), _int_literal(draw(st.integers(-8, 8)))
        return _lift(_substr, "varchar", s, i, sql=f"substr({s.sql}, {i.sql})")
    if kind == "substr3":
        s, i, n = draw(strings), _int_literal(draw(st.integers(-8, 8))), _int_literal(draw(st.integers(-2, 8)))
        return _lift(_substr, "varchar", s, i, n, sql=f"substr({s.sql}, {i.sql}, {n.sql})")
    if kind == "replace":
        s, f, r = draw(strings), draw(strings), draw(strings)
        return _lift(_replace, "varchar", s, f, r, sql=f"replace({s.sql}, {f.sql}, {r.sql})")
    if kind in ("lpad", "rpad"):
        s, n = draw(strings), _int_literal(draw(st.integers(0, 10)))
        p = _str_literal(draw(st.text(alphabet="xy-", min_size=1, max_size=3)))
        return _lift(lambda x, y, z: _pad(x, y, z, kind == "lpad"), "varchar", s, n, p,
                     sql=f"{kind}({s.sql}, {n.sql}, {p.sql})")
    if kind == "split_part":
        s = draw(strings)
        d = _str_literal(draw(st.sampled_from([",", " ", "ab"])))
        i = _int_literal(draw(st.integers(1, 4)))
        return _lift(_split_part, "varchar", s, d, i, sql=f"split_part({s.sql}, {d.sql}, {i.sql})")
    d = draw(dates)
    fmt = draw(st.sampled_from(sorted(_FORMATS)))
    return _lift(_FORMATS[fmt], "varchar", d, sql=f"date_format({d.sql}, '{fmt}')")


@st.composite
def _date_node(draw: st.DrawFn, ints: st.SearchStrategy[Expr], strings: st.SearchStrategy[Expr],
               dates: st.SearchStrategy[Expr]) -> Expr:
    kind = draw(st.sampled_from(["date_add", "date_trunc", "last_day_of_month", "plus_days"]))
    d = draw(dates)
    if kind == "date_add":
        unit = draw(st.sampled_from(["day", "week", "month", "quarter", "year"]))
        n = _int_literal(draw(st.integers(-400, 400)))
        fns = {"day": lambda x, k: x + dt.timedelta(days=k), "week": lambda x, k: x + dt.timedelta(days=7 * k),
               "month": _add_months, "quarter": lambda x, k: _add_months(x, 3 * k),
               "year": lambda x, k: _add_months(x, 12 * k)}
        return _lift(lambda k, x: fns[unit](x, k), "date", n, d, sql=f"date_add('{unit}', {n.sql}, {d.sql})")
    if kind == "date_trunc":
        unit = draw(st.sampled_from(["day", "week", "month", "quarter", "year"]))
        fns2 = {"day": lambda x: x, "week": lambda x: x - dt.timedelta(days=x.weekday()),
                "month": lambda x: x.replace(day=1),
                "quarter": lambda x: dt.date(x.year, (x.month - 1) // 3 * 3 + 1, 1),
                "year": lambda x: dt.date(x.year, 1, 1)}
        return _lift(fns2[unit], "date", d, sql=f"date_trunc('{unit}', {d.sql})")
    if kind == "last_day_of_month":
        return _lift(lambda x: x.replace(day=calendar.monthrange(x.year, x.month)[1]), "date", d,
                     sql=f"last_day_of_month({d.sql})")
    n = draw(st.integers(-400, 400))
    return _lift(lambda x: x + dt.timedelta(days=n), "date", d,
                 sql=f"({d.sql} + INTERVAL '{abs(n)}' DAY)" if n >= 0 else f"({d.sql} - INTERVAL '{-n}' DAY)")


def expressions(depth: int = 3) -> st.SearchStrategy[Expr]:
    """Expressions of every type of the grammar, nested up to ``depth`` levels."""
    ints, strings, dates = ints_leaf, strings_leaf, dates_leaf
    for _ in range(depth):
        ints, strings, dates = (
            st.one_of(ints_leaf, _int_node(ints, strings, dates)),
            st.one_of(strings_leaf, _str_node(ints, strings, dates)),
            st.one_of(dates_leaf, _date_node(ints, strings, dates)),
        )
    return st.one_of(ints, strings, dates)

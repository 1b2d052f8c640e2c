"""Named queries: the original's five queries ship as ``queries/*.sql`` package data.

Each file starts with ``-- key: value`` header lines (title, description, chart hints, params). Parameters
are written ``:name`` in the SQL; values are checked against the parameter's pattern and then inlined as
quoted literals, so a parameter can never change the statement's shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakebox.core.errors import InvalidInputError, check_keys

_HEADER = re.compile(r"^--\s*(\w+)\s*:\s*(.*)$")
_PARAM_REF = re.compile(r"(?<![:\w]):([a-zA-Z_]\w*)\b")


class ParamError(InvalidInputError, code="INVALID_PARAMETER"):
    """A named query parameter is unknown or has a bad value."""


@dataclass(frozen=True)
class Param:
    name: str
    default: str
    pattern: str
    help: str = ""

    def check(self, value: str) -> str:
        if not re.fullmatch(self.pattern, value):
            raise ParamError(f"parameter {self.name}={value!r} is invalid: {self.help or 'must match ' + self.pattern}")
        return value


@dataclass(frozen=True)
class NamedQuery:
    name: str
    title: str
    description: str
    sql: str
    chart: dict[str, Any] = field(default_factory=dict)
    params: tuple[Param, ...] = ()

    def render(self, values: dict[str, str] | None = None) -> str:
        """The SQL with ``:param`` replaced by checked, quoted values (defaults where not given)."""
        values = dict(values or {})
        if values and not self.params:
            raise ParamError(f"query {self.name} takes no parameters")
        check_keys(values, [p.name for p in self.params], f"query {self.name}", noun="parameter", error=ParamError)
        resolved = {p.name: p.check(str(values.get(p.name, p.default))) for p in self.params}

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in resolved:
                return m.group(0)
            return "'" + resolved[name].replace("'", "''") + "'"

        return _PARAM_REF.sub(sub, self.sql)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "sql": self.sql,
            "chart": self.chart,
            "params": [{"name": p.name, "default": p.default, "pattern": p.pattern, "help": p.help}
                       for p in self.params],
        }


def parse_named_query(name: str, text: str) -> NamedQuery:
    meta: dict[str, str] = {}
    params: list[Param] = []
    body: list[str] = []
    for line in text.splitlines():
        m = _HEADER.match(line)
        if m and not body:
            key, value = m.group(1).lower(), m.group(2).strip()
            if key == "param":
                parts = value.split()
                opts = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
                help_text = value.split("help=", 1)[1] if "help=" in value else ""
                params.append(Param(parts[0], opts.get("default", ""), opts.get("pattern", r".*"), help_text))
            else:
                meta[key] = value
        else:
            body.append(line)
    chart: dict[str, Any] = {}
    if "chart" in meta:
        parts = meta["chart"].split()
        chart["type"] = parts[0]
        for p in parts[1:]:
            k, _, v = p.partition("=")
            chart[k] = v.split(",") if k == "y" else v
    return NamedQuery(
        name=name,
        title=meta.get("title", name.replace("_", " ").capitalize()),
        description=meta.get("description", ""),
        sql="\n".join(body).strip(),
        chart=chart,
        params=tuple(params),
    )


def load_named_queries() -> dict[str, NamedQuery]:
    """The shipped queries, in a stable order (the original README's order)."""
    order = ["total_sales_by_customer", "monthly_order_volume", "order_status_summary",
             "average_order_value_by_customer", "top_orders_february_2025"]
    found: dict[str, NamedQuery] = {}
    # The package's own folder, not importlib.resources: lakebox is installed as files, and the resources
    # machinery costs `lakebox query` more than reading the five files.
    for entry in (Path(__file__).resolve().parent.parent / "queries").iterdir():
        if entry.name.endswith(".sql"):
            name = entry.name[:-4]
            found[name] = parse_named_query(name, entry.read_text(encoding="utf-8"))
    ordered = {n: found[n] for n in order if n in found}
    ordered.update({n: q for n, q in sorted(found.items()) if n not in ordered})
    return ordered

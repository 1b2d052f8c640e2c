"""Datasets and the processing rule, as data and SQL text. Pure: no DuckDB, no files, no clock.

A :class:`Dataset` says which raw objects it owns, how source columns map to its schema, how values are cast
and validated, and which rows the original Lambda's rule drops. The SQL produced here is run by
``process.transform``; keeping it pure makes the rule testable without any I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TYPES = ("varchar", "bigint", "double", "boolean", "date", "timestamp")
_DECIMAL = re.compile(r"^decimal\((\d{1,2}),\s*(\d{1,2})\)$")


class HeaderError(ValueError):
    """The header cannot be mapped onto the dataset's schema (a whole-file rejection)."""


def check_type(type_: str) -> str:
    t = type_.strip().lower()
    if t in TYPES:
        return t
    m = _DECIMAL.match(t)
    if m and int(m.group(2)) <= int(m.group(1)) <= 38:
        return f"decimal({m.group(1)},{m.group(2)})"
    raise ValueError(f"unsupported column type {type_!r}; use one of {', '.join(TYPES)} or decimal(p,s)")


@dataclass(frozen=True)
class Column:
    """One output column: where it comes from and how it is cast."""

    name: str
    source: str
    type: str = "varchar"
    required: bool = True
    lower: bool = False
    date_format: str = "%Y-%m-%d"

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", check_type(self.type))


@dataclass(frozen=True)
class DropRule:
    """The original Lambda's rule: drop rows whose status is one of ``statuses`` and whose date is
    ``min_age_days`` or more before the reference date."""

    status_column: str = "order_status"
    date_column: str = "order_date"
    statuses: tuple[str, ...] = ("pending", "cancelled")
    min_age_days: int = 30


@dataclass(frozen=True)
class Dataset:
    """A kind of raw file and how it becomes a processed table."""

    name: str
    columns: tuple[Column, ...]
    raw_prefix: str = "raw/"
    processed_prefix: str = "processed/"
    drop_rule: DropRule | None = field(default_factory=DropRule)
    delimiter: str = ","
    output_format: str | None = None  # None: the global output_format setting
    #: Glue-faithful mode: write CSV with the source header, no casting, and let the crawler type it
    #: the way Glue's built-in CSV classifier does (dates stay strings).
    glue_csv: bool = False

    def owns(self, key: str) -> bool:
        return key.startswith(self.raw_prefix) and key.lower().endswith(".csv")

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def output_key(self, raw_key: str, fmt: str) -> str:
        """``raw/a/b.csv`` -> ``processed/a/b.parquet``: derived from the raw key, so reprocessing replaces."""
        rel = raw_key[len(self.raw_prefix):]
        stem = rel[: -len(".csv")] if rel.lower().endswith(".csv") else rel
        return f"{self.processed_prefix}{stem}.{'parquet' if fmt == 'parquet' else 'csv'}"

    def quarantine_key(self, raw_key: str) -> str:
        rel = raw_key[len(self.raw_prefix):]
        stem = rel[: -len(".csv")] if rel.lower().endswith(".csv") else rel
        return f"quarantine/{stem}.csv"


ORDERS_COLUMNS = (
    Column("order_id", "OrderID", "varchar"),
    Column("customer_id", "Customer", "varchar"),
    Column("order_amount", "Amount", "decimal(12,2)"),
    Column("order_status", "Status", "varchar", lower=True),
    Column("order_date", "OrderDate", "date"),
)


def default_dataset() -> Dataset:
    """The original assignment's orders: ``OrderID,Customer,Amount,Status,OrderDate`` ->
    ``order_id, customer_id, order_amount, order_status, order_date``."""
    return Dataset(name="orders", columns=ORDERS_COLUMNS)


def dataset_from_config(name: str, body: Mapping[str, Any]) -> Dataset:
    """Build a dataset from a ``[datasets.NAME]`` table of ``lakebox.toml``.

    ``columns`` maps output names to a source name or a table ``{source, type, required, lower, date_format}``.
    ``keep_source_names = true`` names every output column exactly as its source.
    ``glue_csv = true`` selects the Glue-faithful mode (CSV output, source names, crawler typing).
    """
    base = default_dataset()
    keep = bool(body.get("keep_source_names", False))
    glue_csv = bool(body.get("glue_csv", False))
    cols: list[Column] = []
    raw_cols = body.get("columns")
    if raw_cols is None:
        source_cols = base.columns
        for c in source_cols:
            cols.append(Column(c.source if keep else c.name, c.source, c.type, c.required, c.lower, c.date_format))
    else:
        for out, spec in raw_cols.items():
            if isinstance(spec, str):
                spec = {"source": spec}
            src = spec.get("source", out)
            cols.append(
                Column(
                    src if keep else out,
                    src,
                    spec.get("type", "varchar"),
                    bool(spec.get("required", True)),
                    bool(spec.get("lower", False)),
                    spec.get("date_format", "%Y-%m-%d"),
                )
            )
    names = {c.name for c in cols}
    rule_cfg = body.get("drop_rule", {})
    rule: DropRule | None
    if rule_cfg is False:
        rule = None
    else:
        rule_cfg = rule_cfg if isinstance(rule_cfg, dict) else {}
        status_default = next((c.name for c in cols if c.source.lower() == "status"), "order_status")
        date_default = next((c.name for c in cols if c.source.lower() == "orderdate"), "order_date")
        rule = DropRule(
            status_column=rule_cfg.get("status_column", status_default),
            date_column=rule_cfg.get("date_column", date_default),
            statuses=tuple(s.lower() for s in rule_cfg.get("statuses", ("pending", "cancelled"))),
            min_age_days=int(rule_cfg.get("min_age_days", 30)),
        )
        if rule.status_column not in names or rule.date_column not in names:
            raise ValueError(
                f"dataset {name!r}: drop_rule columns {rule.status_column!r}/{rule.date_column!r} are not output columns"
            )
    raw_prefix = body.get("raw_prefix", "raw/")
    processed_prefix = body.get("processed_prefix", "processed/")
    for p in (raw_prefix, processed_prefix):
        if not p.endswith("/"):
            raise ValueError(f"dataset {name!r}: prefix {p!r} must end with '/'")
    fmt = body.get("output_format", "csv" if glue_csv else None)
    return Dataset(
        name=name,
        columns=tuple(cols),
        raw_prefix=raw_prefix,
        processed_prefix=processed_prefix,
        drop_rule=rule,
        delimiter=body.get("delimiter", ","),
        output_format=fmt,
        glue_csv=glue_csv,
    )


def dataset_for_key(datasets: Sequence[Dataset], key: str) -> Dataset | None:
    """The dataset with the longest raw prefix that owns ``key``."""
    owners = [d for d in datasets if d.owns(key)]
    return max(owners, key=lambda d: len(d.raw_prefix)) if owners else None


# --- header mapping -------------------------------------------------------------------------------------------


def map_header(dataset: Dataset, header: Sequence[str]) -> dict[str, int]:
    """Map each output column to its 0-based index in ``header`` (names matched trimmed, case-insensitively).

    Raises :class:`HeaderError` naming every missing required column, or a mapped column that appears twice.
    Extra columns are allowed and ignored.
    """
    norm = [h.strip().lstrip("\ufeff").strip().lower() for h in header]
    mapping: dict[str, int] = {}
    missing: list[str] = []
    for col in dataset.columns:
        hits = [i for i, h in enumerate(norm) if h == col.source.lower()]
        if len(hits) > 1:
            raise HeaderError(
                f"column {col.source!r} appears {len(hits)} times in the header (positions "
                f"{', '.join(str(i + 1) for i in hits)}); cannot tell which to use"
            )
        if hits:
            mapping[col.name] = hits[0]
        elif col.required:
            missing.append(col.source)
    if missing:
        found = ", ".join(h.strip() for h in header[:12]) or "(nothing)"
        raise HeaderError(f"required column(s) missing: {', '.join(missing)}; header has: {found}")
    return mapping


# --- SQL ------------------------------------------------------------------------------------------------------


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _clean(src: str, col: Column) -> str:
    expr = f"NULLIF(trim({src}), '')"
    return f"lower({expr})" if col.lower else expr


def _typed(clean: str, col: Column) -> str:
    t = col.type
    if t == "varchar":
        return clean
    if t == "date":
        if col.date_format == "%Y-%m-%d":
            return f"TRY_CAST({clean} AS DATE)"
        return f"CAST(TRY_STRPTIME({clean}, {quote_literal(col.date_format)}) AS DATE)"
    if t.startswith("decimal"):
        # Refuse values that would silently lose digits beyond the scale (12.345 in decimal(12,2)).
        return f"TRY_CAST({clean} AS {t.upper()})"
    return f"TRY_CAST({clean} AS {t.upper()})"


def column_exprs(dataset: Dataset, mapping: Mapping[str, int]) -> tuple[list[str], str]:
    """SELECT-list expressions over raw columns ``c0..cN`` giving typed output columns, and the ``_reason``
    expression: NULL for a valid row, else every problem joined with ``; ``."""
    selects: list[str] = []
    problems: list[str] = []
    for col in dataset.columns:
        if col.name not in mapping:
            selects.append(f"CAST(NULL AS {col.type.upper()}) AS {quote_ident(col.name)}")
            continue
        src = quote_ident(f"c{mapping[col.name]}")
        clean = _clean(src, col)
        typed = _typed(clean, col)
        selects.append(f"{typed} AS {quote_ident(col.name)}")
        label = quote_literal(col.source)
        if col.required:
            problems.append(f"CASE WHEN {clean} IS NULL THEN 'missing required value ' || {label} END")
        if col.type != "varchar":
            what = quote_literal(f"not a valid {col.type}" + (f" ({col.date_format})" if col.type == "date" else ""))
            problems.append(
                f"CASE WHEN {clean} IS NOT NULL AND {typed} IS NULL THEN {label} || ' ' || "
                f"{what} || ': ' || left({src}, 60) END"
            )
    reason = f"NULLIF(concat_ws('; ', {', '.join(problems)}), '')" if problems else "CAST(NULL AS VARCHAR)"
    return selects, reason


def drop_predicate(dataset: Dataset, as_of: dt.date) -> str:
    """SQL over typed output columns: TRUE when the original rule drops the row."""
    rule = dataset.drop_rule
    if rule is None:
        return "FALSE"
    statuses = ", ".join(quote_literal(s) for s in rule.statuses)
    cutoff = as_of - dt.timedelta(days=rule.min_age_days)
    status = quote_ident(rule.status_column)
    date = quote_ident(rule.date_column)
    col = dataset.column(rule.date_column)
    date_expr = date if col.type == "date" else f"TRY_CAST({date} AS DATE)"
    status_expr = status if dataset.column(rule.status_column).lower else f"lower(trim({status}))"
    return f"({status_expr} IN ({statuses}) AND {date_expr} <= DATE '{cutoff.isoformat()}')"


def _fast_clean(src: str, col: Column) -> str:
    # trim() on every value costs more than the rest of the cast; most values need none.
    expr = (
        f"CASE WHEN starts_with({src}, ' ') OR ends_with({src}, ' ') OR contains({src}, chr(9)) "
        f"THEN NULLIF(trim({src}), '') ELSE NULLIF({src}, '') END"
    )
    return f"lower({expr})" if col.lower else expr


def typed_exprs(dataset: Dataset, mapping: Mapping[str, int]) -> tuple[list[str], str]:
    """The fast path: typed output columns over ``c0..cN`` and one boolean ``_ok`` for validity.

    The reason text (:func:`column_exprs`) is only built on a second scan, when some row is bad. DuckDB's
    casts to DATE and DECIMAL already ignore surrounding spaces, so only varchar values are trimmed.
    """
    selects: list[str] = []
    checks: list[str] = []
    for col in dataset.columns:
        if col.name not in mapping:
            selects.append(f"CAST(NULL AS {col.type.upper()}) AS {quote_ident(col.name)}")
            continue
        src = quote_ident(f"c{mapping[col.name]}")
        if col.type == "varchar":
            value = _fast_clean(src, col)
            selects.append(f"{value} AS {quote_ident(col.name)}")
            if col.required:
                checks.append(f"{quote_ident(col.name)} IS NOT NULL")
            continue
        typed = _typed(f"NULLIF({src}, '')", col)
        selects.append(f"{typed} AS {quote_ident(col.name)}")
        if col.required:
            checks.append(f"{quote_ident(col.name)} IS NOT NULL")
        else:
            checks.append(f"({quote_ident(col.name)} IS NOT NULL OR NULLIF(trim({src}), '') IS NULL)")
    # _ok is evaluated over the outer query's typed columns (see transform_csv); optional typed columns
    # need their raw source too, so they are checked in the inner select.
    inner = [c for c in checks if "trim(" in c]
    outer = [c for c in checks if "trim(" not in c]
    if inner:
        selects.append(f"({' AND '.join(inner)}) AS _ok_inner")
        outer.append("_ok_inner")
    return selects, (" AND ".join(outer) or "TRUE")

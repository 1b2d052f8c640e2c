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
    #: Strip surrounding spaces from varchar values (always done for lower-cased columns such as status).
    #: Off by default: values are kept as written, and checking every value costs a fifth of the scan.
    trim: bool = False

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
    #: An explicit catalog table name instead of the folder name plus the table prefix.
    table_name: str | None = None

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
    glue_csv = bool(body.get("glue_csv", False))
    # Glue-faithful means the source names, as the original Lambda wrote them.
    keep = bool(body.get("keep_source_names", glue_csv))
    cols: list[Column] = []
    raw_cols = body.get("columns")
    if raw_cols is None:
        source_cols = base.columns
        for c in source_cols:
            cols.append(Column(c.source if keep else c.name, c.source, c.type, c.required, c.lower, c.date_format,
                               c.trim))
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
                    bool(spec.get("trim", False)),
                )
            )
    if glue_csv:
        # Glue-faithful: values are written exactly as they came (no casting, no case change), so the crawler
        # types them from the text as Glue's CSV classifier would; the rule still reads the dates.
        cols = [Column(c.name, c.source, "varchar", c.required, False, c.date_format, c.trim) for c in cols]
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
        table_name=body.get("table_name"),
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


def reader_casts(col: Column) -> bool:
    """True when DuckDB's CSV reader can cast this column itself (ISO dates, numbers, booleans).

    Casting in the reader is the fast path, and a value that does not cast becomes a reject with its line
    number and column, which is exactly what the quarantine needs.
    """
    return col.type != "varchar" and not (col.type == "date" and col.date_format != "%Y-%m-%d")


def reader_columns(dataset: Dataset, mapping: Mapping[str, int], ncols: int) -> list[str]:
    """DuckDB type of each raw column ``c0..cN`` for ``read_csv(columns=...)``."""
    types = ["VARCHAR"] * ncols
    for col in dataset.columns:
        if col.name in mapping and reader_casts(col):
            types[mapping[col.name]] = col.type.upper()
    return types


def _clean(src: str, col: Column) -> str:
    # The reader already turns empty fields into NULL. Trimming is opt-in (and implied by lower): checking
    # every value costs a fifth of the whole scan, and most values need nothing.
    if not (col.trim or col.lower):
        return src
    expr = f"CASE WHEN starts_with({src}, ' ') OR ends_with({src}, ' ') THEN NULLIF(trim({src}), '') ELSE {src} END"
    return f"lower({expr})" if col.lower else expr


def typed_exprs(dataset: Dataset, mapping: Mapping[str, int]) -> tuple[list[str], str]:
    """SELECT-list expressions over the reader's ``c0..cN`` giving the output columns, and the validity
    predicate over those output columns (required values present, custom-format dates parsed)."""
    selects: list[str] = []
    checks: list[str] = []
    for col in dataset.columns:
        out = quote_ident(col.name)
        if col.name not in mapping:
            selects.append(f"CAST(NULL AS {col.type.upper()}) AS {out}")
            continue
        src = quote_ident(f"c{mapping[col.name]}")
        if col.type == "varchar":
            selects.append(f"{_clean(src, col)} AS {out}")
        elif reader_casts(col):
            selects.append(f"{src} AS {out}")
        else:  # a date in a custom format: parsed here, its failures caught by the check below
            selects.append(f"CAST(TRY_STRPTIME(NULLIF(trim({src}), ''), {quote_literal(col.date_format)}) AS DATE) AS {out}")
            selects.append(f"NULLIF(trim({src}), '') IS NOT NULL AS {quote_ident('_has_' + col.name)}")
            if not col.required:
                checks.append(f"({out} IS NOT NULL OR NOT {quote_ident('_has_' + col.name)})")
        if col.required:
            checks.append(f"{out} IS NOT NULL")
    return selects, (" AND ".join(checks) or "TRUE")


def problem_expr(dataset: Dataset, mapping: Mapping[str, int]) -> str:
    """The reason text for a parsed row that fails :func:`typed_exprs`' check (NULL for a valid row).

    Over the same output columns; cast failures never reach here (the reader rejects those rows).
    """
    problems: list[str] = []
    for col in dataset.columns:
        if col.name not in mapping:
            continue
        out = quote_ident(col.name)
        label = quote_literal(col.source)
        if col.required:
            if col.type != "varchar" and not reader_casts(col):
                problems.append(
                    f"CASE WHEN NOT {quote_ident('_has_' + col.name)} THEN 'missing required value ' || {label} "
                    f"WHEN {out} IS NULL THEN {label} || ' not a valid date ({col.date_format})' END"
                )
            else:
                problems.append(f"CASE WHEN {out} IS NULL THEN 'missing required value ' || {label} END")
        elif col.type == "date" and not reader_casts(col):
            problems.append(
                f"CASE WHEN {out} IS NULL AND {quote_ident('_has_' + col.name)} THEN {label} || "
                f"' not a valid date ({col.date_format})' END"
            )
    return f"NULLIF(concat_ws('; ', {', '.join(problems)}), '')" if problems else "CAST(NULL AS VARCHAR)"


def reject_reason_sql(dataset: Dataset, mapping: Mapping[str, int]) -> str:
    """SQL over DuckDB's ``reject_errors`` giving a reason in the dataset's terms.

    Cast failures name the source column, the expected type and the value; field-count errors say how many
    fields were expected and found; anything else keeps DuckDB's error type and message.
    """
    whens = []
    for name, i in mapping.items():
        col = dataset.column(name)
        if reader_casts(col):
            fmt = f" ({col.date_format})" if col.type == "date" else ""
            label = quote_literal(f"{col.source} not a valid {col.type}{fmt}: ")
            whens.append(f"WHEN error_type = 'CAST' AND column_name = 'c{i}' THEN {label} || "
                         f"coalesce(regexp_extract(error_message, 'string \"(.*)\" to', 1), '')")
    return (
        "CASE " + " ".join(whens) + " "
        "WHEN error_type IN ('MISSING COLUMNS', 'TOO MANY COLUMNS') THEN 'wrong field count: ' || "
        "regexp_replace(error_message, 'Expected Number of Columns: (\\d+) Found: (\\d+)', "
        "'expected \\1 fields, found \\2') "
        "ELSE lower(error_type) || ': ' || coalesce(error_message, '') END"
    )


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



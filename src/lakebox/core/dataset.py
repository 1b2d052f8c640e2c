"""The dataset model: which raw objects a dataset owns, its columns and the original Lambda's drop rule.

Pure data (no DuckDB, no files, no clock). ``process.rules`` turns a :class:`Dataset` into SQL text;
``config`` builds datasets from ``[datasets.NAME]`` tables of ``lakebox.toml``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

from lakebox.core.errors import InvalidInputError, check_keys
from lakebox.core.formats import OutputFormat

TYPES = ("varchar", "bigint", "double", "boolean", "date", "timestamp")
_DECIMAL = re.compile(r"^decimal\((\d{1,2}),\s*(\d{1,2})\)$")


def check_type(type_: str) -> str:
    t = type_.strip().lower()
    if t in TYPES:
        return t
    m = _DECIMAL.match(t)
    if m and int(m.group(2)) <= int(m.group(1)) <= 38:
        return f"decimal({m.group(1)},{m.group(2)})"
    raise InvalidInputError(f"unsupported column type {type_!r}; use one of {', '.join(TYPES)} or decimal(p,s)")


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


#: How a partition value is derived from its source column (``month`` of a date gives ``YYYY-MM``).
GRANULARITIES = ("year", "month", "day", "value")
_PARTITION = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(?:=\s*(year|month|day|value)\s*\(\s*([a-z_][a-z0-9_]*)\s*\))?\s*$")


@dataclass(frozen=True)
class Partition:
    """A Hive-style partition of processed/: ``name=value`` folders, the value derived from ``source``.

    ``year``/``month``/``day`` of a date column give ``YYYY``, ``YYYY-MM`` and ``YYYY-MM-DD`` (how Athena users
    partition by time); ``value`` uses the column's value as it is."""

    name: str
    source: str
    granularity: str = "month"


def parse_partition(spec: str, columns: tuple[Column, ...], date_column: str | None) -> Partition:
    """``"order_month=month(order_date)"``, or the short ``"order_month"``: a name ending in ``_year``,
    ``_month`` or ``_day`` takes that part of the drop rule's date column; an output column's name partitions
    by its value."""
    m = _PARTITION.match(spec.lower())
    if m is None:
        raise InvalidInputError(f"partition_by {spec!r}: expected NAME or NAME=year|month|day|value(COLUMN)")
    name, granularity, source = m.group(1), m.group(2), m.group(3)
    names = {c.name for c in columns}
    if granularity is None:
        if name in names:
            return Partition(name, name, "value")
        suffix = name.rsplit("_", 1)[-1]
        if suffix not in ("year", "month", "day") or date_column is None:
            raise InvalidInputError(f"partition_by {spec!r}: not an output column; write NAME=month(DATE_COLUMN)")
        granularity, source = suffix, date_column
    if source not in names:
        raise InvalidInputError(f"partition_by {spec!r}: {source!r} is not an output column")
    if name in names:
        raise InvalidInputError(f"partition_by {spec!r}: {name!r} is already a column; choose another partition name")
    if granularity != "value" and next(c for c in columns if c.name == source).type not in ("date", "timestamp"):
        raise InvalidInputError(f"partition_by {spec!r}: {granularity}() needs a date or timestamp column")
    return Partition(name, source, granularity)


@dataclass(frozen=True)
class Dataset:
    """A kind of raw file and how it becomes a processed table."""

    name: str
    columns: tuple[Column, ...]
    raw_prefix: str = "raw/"
    processed_prefix: str = "processed/"
    drop_rule: DropRule | None = field(default_factory=DropRule)
    delimiter: str = ","
    output_format: OutputFormat | None = None  # None: the global output_format setting
    #: Glue-faithful mode: write CSV with the source header, no casting, and let the crawler type it
    #: the way Glue's built-in CSV classifier does (dates stay strings).
    glue_csv: bool = False
    #: An explicit catalog table name instead of the folder name plus the table prefix.
    table_name: str | None = None
    #: Hive-style partition folders under processed/ (``order_month=2025-02/``), or None for flat output.
    partition: Partition | None = None

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

    def partition_output_key(self, raw_key: str, value: str) -> str:
        """``raw/a/b.csv`` -> ``processed/a/order_month=2025-02/b.parquet``: one file per raw file and partition,
        named after the raw file, so its rows can be found (and replaced) again."""
        assert self.partition is not None
        folder, _, name = self.output_key(raw_key, "parquet").rpartition("/")
        return f"{folder}/{self.partition.name}={value}/{name}"

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


#: The keys a ``[datasets.NAME]`` table, one of its ``columns`` tables and its ``drop_rule`` table may hold.
DATASET_KEYS = ("columns", "keep_source_names", "glue_csv", "drop_rule", "raw_prefix", "processed_prefix",
                "delimiter", "output_format", "table_name", "partition_by")
COLUMN_KEYS = ("source", "type", "required", "lower", "date_format", "trim")
DROP_RULE_KEYS = ("status_column", "date_column", "statuses", "min_age_days")


def dataset_from_config(name: str, body: Mapping[str, Any]) -> Dataset:
    """Build a dataset from a ``[datasets.NAME]`` table of ``lakebox.toml``.

    ``columns`` maps output names to a source name or a table ``{source, type, required, lower, date_format,
    trim}``. ``keep_source_names = true`` names every output column exactly as its source.
    ``glue_csv = true`` selects the Glue-faithful mode (CSV output, source names, crawler typing).
    Unknown keys, at any level, raise :class:`InvalidInputError` naming the table and the nearest valid key.
    """
    where = f"[datasets.{name}]"
    if not isinstance(body, Mapping):
        raise InvalidInputError(f"{where} must be a table, not {type(body).__name__}")
    check_keys(body, DATASET_KEYS, where)
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
    elif not isinstance(raw_cols, Mapping):
        raise InvalidInputError(f"{where} columns must be a table of column names, not {type(raw_cols).__name__}")
    else:
        for out, spec in raw_cols.items():
            if isinstance(spec, str):
                spec = {"source": spec}
            if not isinstance(spec, Mapping):
                raise InvalidInputError(f"[datasets.{name}.columns] {out}: expected a source name or a table")
            check_keys(spec, COLUMN_KEYS, f"[datasets.{name}.columns.{out}]")
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
        if rule_cfg is True:
            rule_cfg = {}
        if not isinstance(rule_cfg, Mapping):
            raise InvalidInputError(f"{where} drop_rule must be false or a table, not {type(rule_cfg).__name__}")
        check_keys(rule_cfg, DROP_RULE_KEYS, f"[datasets.{name}.drop_rule]")
        status_default = next((c.name for c in cols if c.source.lower() == "status"), "order_status")
        date_default = next((c.name for c in cols if c.source.lower() == "orderdate"), "order_date")
        rule = DropRule(
            status_column=rule_cfg.get("status_column", status_default),
            date_column=rule_cfg.get("date_column", date_default),
            statuses=tuple(s.lower() for s in rule_cfg.get("statuses", ("pending", "cancelled"))),
            min_age_days=int(rule_cfg.get("min_age_days", 30)),
        )
        if rule.status_column not in names or rule.date_column not in names:
            raise InvalidInputError(
                f"dataset {name!r}: drop_rule columns {rule.status_column!r}/{rule.date_column!r} are not output columns"
            )
    raw_prefix = body.get("raw_prefix", "raw/")
    processed_prefix = body.get("processed_prefix", "processed/")
    for p in (raw_prefix, processed_prefix):
        if not p.endswith("/"):
            raise InvalidInputError(f"dataset {name!r}: prefix {p!r} must end with '/'")
    fmt = body.get("output_format", "csv" if glue_csv else None)
    if fmt is not None and fmt not in get_args(OutputFormat):
        raise InvalidInputError(f"{where} output_format must be {' or '.join(get_args(OutputFormat))}, not {fmt!r}")
    partition = None
    if body.get("partition_by"):
        partition = parse_partition(str(body["partition_by"]), tuple(cols), rule.date_column if rule else None)
        if glue_csv or fmt == "csv":
            raise InvalidInputError(f"{where} partition_by needs Parquet output")
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
        partition=partition,
    )


def dataset_to_config(dataset: Dataset) -> dict[str, Any]:
    """The ``[datasets.NAME]`` table that :func:`dataset_from_config` builds ``dataset`` from: every column
    and the rule written out, so the round trip gives the same dataset. The AWS template hands a dataset to
    the deployed function this way (``LAKEBOX_DATASETS``)."""
    body: dict[str, Any] = {
        "columns": {c.name: {"source": c.source, "type": c.type, "required": c.required, "lower": c.lower,
                             "date_format": c.date_format, "trim": c.trim} for c in dataset.columns},
        # The names above are the output names already: never derive them again from the sources.
        "keep_source_names": False,
        "glue_csv": dataset.glue_csv,
        "drop_rule": False if dataset.drop_rule is None else {
            "status_column": dataset.drop_rule.status_column, "date_column": dataset.drop_rule.date_column,
            "statuses": list(dataset.drop_rule.statuses), "min_age_days": dataset.drop_rule.min_age_days},
        "raw_prefix": dataset.raw_prefix,
        "processed_prefix": dataset.processed_prefix,
        "delimiter": dataset.delimiter,
    }
    if dataset.output_format is not None:
        body["output_format"] = dataset.output_format
    if dataset.table_name is not None:
        body["table_name"] = dataset.table_name
    if dataset.partition is not None:
        p = dataset.partition
        # A column's own values: its short form (the long one would clash with the column's name).
        same = p.granularity == "value" and p.name == p.source
        body["partition_by"] = p.name if same else f"{p.name}={p.granularity}({p.source})"
    return body

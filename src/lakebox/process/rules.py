"""Datasets and the processing rule, as data and SQL text. Pure: no DuckDB, no files, no clock.

A :class:`Dataset` says which raw objects it owns, how source columns map to its schema, how values are cast
and validated, and which rows the original Lambda's rule drops. The SQL produced here is run by
``process.transform``; keeping it pure makes the rule testable without any I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from lakebox.core.dataset import Column, Dataset, Partition
from lakebox.core.errors import InvalidInputError
from lakebox.core.sql import quote_ident, quote_literal


class HeaderError(InvalidInputError, code="InvalidHeader", exit_code=1, http_status=422):
    """The header cannot be mapped onto the dataset's schema (a whole-file rejection)."""



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


def reader_casts(col: Column) -> bool:
    """True when DuckDB's CSV reader can cast this column itself (ISO dates, numbers, booleans).

    Casting in the reader is the fast path, and a value that does not cast becomes a reject with its line
    number and column, which is exactly what the quarantine needs.
    """
    return col.type != "varchar" and not (col.type == "date" and col.date_format != "%Y-%m-%d")


#: Words DuckDB's and PostgreSQL's date parsers take for dates, which are no date in the data: DuckDB's CSV
#: reader and CAST read ``epoch`` as 1970-01-01 (any case, with spaces); PostgreSQL also reads ``now``,
#: ``today``, ``tomorrow``, ``yesterday`` (and ``allballs`` as a time). Rows holding one are quarantined.
#: (``infinity`` and ``-infinity`` are caught by :data:`DATE_RANGE`.)
SPECIAL_DATES = ("epoch", "now", "today", "tomorrow", "yesterday", "allballs")
#: The date ``epoch`` becomes when the reader casts it; a file whose dates include it takes the exact path,
#: which reads the text (see :func:`typed_exprs`).
EPOCH = "1970-01-01"


def _sql_cast(col: Column, raw_dates: bool) -> bool:
    """True when the column's value is cast in SQL from the text (not by the reader)."""
    return not reader_casts(col) or (raw_dates and col.type == "date")


def reader_columns(dataset: Dataset, mapping: Mapping[str, int], ncols: int, raw_dates: bool = False) -> list[str]:
    """DuckDB type of each raw column ``c0..cN`` for ``read_csv(columns=...)``; with ``raw_dates`` the ISO
    date columns are read as text too (see :func:`typed_exprs`)."""
    types = ["VARCHAR"] * ncols
    for col in dataset.columns:
        if col.name in mapping and not _sql_cast(col, raw_dates):
            types[mapping[col.name]] = col.type.upper()
    return types


def _clean(src: str, col: Column) -> str:
    # The reader already turns empty fields into NULL. Trimming is opt-in (and implied by lower): checking
    # every value costs a fifth of the whole scan, and most values need nothing.
    if not (col.trim or col.lower):
        return src
    expr = f"CASE WHEN starts_with({src}, ' ') OR ends_with({src}, ' ') THEN NULLIF(trim({src}), '') ELSE {src} END"
    return f"lower({expr})" if col.lower else expr


def typed_exprs(dataset: Dataset, mapping: Mapping[str, int], raw_dates: bool = False) -> tuple[list[str], str]:
    """SELECT-list expressions over the reader's ``c0..cN`` giving the output columns, and the validity
    predicate over those output columns (required values present, custom-format dates parsed).

    With ``raw_dates`` (the exact path) ISO dates are read as text and cast here, as the reader would cast
    them, except that :data:`SPECIAL_DATES` are no date: the reader's cast turns ``epoch`` into a plausible
    1970-01-01 that nothing after it can tell from a real one."""
    selects: list[str] = []
    checks: list[str] = []
    specials = ", ".join(quote_literal(w) for w in SPECIAL_DATES)
    for col in dataset.columns:
        out = quote_ident(col.name)
        if col.name not in mapping:
            selects.append(f"CAST(NULL AS {col.type.upper()}) AS {out}")
            continue
        src = quote_ident(f"c{mapping[col.name]}")
        if col.type == "varchar":
            selects.append(f"{_clean(src, col)} AS {out}")
        elif reader_casts(col) and not _sql_cast(col, raw_dates):
            selects.append(f"{src} AS {out}")
        elif reader_casts(col):  # an ISO date read as text
            selects.append(f"CASE WHEN lower(trim({src})) IN ({specials}) THEN NULL "
                           f"ELSE TRY_CAST({src} AS DATE) END AS {out}")
            selects.append(f"{src} IS NOT NULL AS {quote_ident('_has_' + col.name)}")
            if not col.required:
                checks.append(f"({out} IS NOT NULL OR NOT {quote_ident('_has_' + col.name)})")
        else:  # a date in a custom format: parsed here, its failures caught by the check below
            selects.append(f"CAST(TRY_STRPTIME(NULLIF(trim({src}), ''), {quote_literal(col.date_format)}) AS DATE) AS {out}")
            selects.append(f"NULLIF(trim({src}), '') IS NOT NULL AS {quote_ident('_has_' + col.name)}")
            if not col.required:
                checks.append(f"({out} IS NOT NULL OR NOT {quote_ident('_has_' + col.name)})")
        if col.required:
            checks.append(f"{out} IS NOT NULL")
        if col.type == "date":
            checks.append(f"({out} IS NULL OR {_date_in_range(out)})")
    return selects, (" AND ".join(checks) or "TRUE")


#: The dates Athena (Trino) and Parquet readers agree on. DuckDB's reader also accepts ``infinity``,
#: ``-infinity``, BC dates (``-2025-04-20``) and years past 9999; those rows are quarantined instead.
DATE_RANGE = ("0001-01-01", "9999-12-31")


def _date_in_range(expr: str) -> str:
    return f"{expr} BETWEEN DATE '{DATE_RANGE[0]}' AND DATE '{DATE_RANGE[1]}'"


def problem_expr(dataset: Dataset, mapping: Mapping[str, int], raw_dates: bool = False) -> str:
    """The reason text for a parsed row that fails :func:`typed_exprs`' check (NULL for a valid row).

    Over the same output columns and the source columns ``c0..cN`` as text; cast failures of reader-cast
    columns never reach here (the reader rejects those rows). An ISO date read as text (``raw_dates``) that
    does not cast gets the reader's reason, naming the value.
    """
    problems: list[str] = []
    for col in dataset.columns:
        if col.name not in mapping:
            continue
        out = quote_ident(col.name)
        label = quote_literal(col.source)
        if col.type == "date" and reader_casts(col) and raw_dates:
            has = quote_ident("_has_" + col.name)
            src = quote_ident(f"c{mapping[col.name]}")
            missing = f"WHEN NOT {has} THEN 'missing required value ' || {label} " if col.required else ""
            problems.append(
                f"CASE {missing}WHEN {out} IS NULL AND {has} THEN "
                f"{quote_literal(f'{col.source} not a valid date ({col.date_format}): ')} || {src} END"
            )
        elif col.required:
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
        if col.type == "date":
            problems.append(
                f"CASE WHEN NOT {_date_in_range(out)} THEN {label} || ' not a valid date (outside "
                f"{DATE_RANGE[0]}..{DATE_RANGE[1]}): ' || CAST({out} AS VARCHAR) END"
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




# --- partitions ---------------------------------------------------------------------------------------------


def partition_expr(partition: Partition) -> str:
    """SQL for a row's partition value (text, as Hive folder names are); DuckDB's writer puts NULL in Hive's
    ``__HIVE_DEFAULT_PARTITION__`` folder."""
    col = quote_ident(partition.source)
    fmt = {"year": "%Y", "month": "%Y-%m", "day": "%Y-%m-%d"}.get(partition.granularity)
    value = f"strftime({col}, {quote_literal(fmt)})" if fmt else f"CAST({col} AS VARCHAR)"
    return value

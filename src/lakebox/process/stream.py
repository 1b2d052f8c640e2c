"""The single streaming pass: read the CSV, type and validate the rows, apply the rule and write the kept rows
as Parquet, in one scan with bounded memory, with every count taken from that same scan.

DuckDB can send a scan to one sink only, so the counts come from what the scan already reports:

* rows parsed: the CSV scan's own output count (DuckDB's profiler, switched on for this statement);
* rows rejected by the reader (wrong field count, a value that does not cast): DuckDB's reject table, as
  before;
* rows written: the ``COPY``'s ``RETURN_STATS``, with each column's null count and min/max.

The ``COPY`` writes every row except the valid ones the rule drops. Rows that fail validation (a required
value missing, a date outside 0001..9999) would be written too, and the column statistics show whether
there were any: a required column with nulls, or a date outside the range. The reader reads ``epoch`` as
1970-01-01, so a date range that includes that day is not vouched for either: the exact path reads the dates
as text and quarantines the word. For a clean file (almost all
files) there are none, so rows written = rows kept and dropped = parsed - kept. Otherwise (or when the
dataset validates something statistics cannot show, such as a custom date format) the pass answers None and
the caller takes the exact path, which stages the file once and quarantines the bad rows by line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from lakebox.core.dataset import Dataset
from lakebox.core.sql import quote_ident, quote_literal
from lakebox.process.rules import DATE_RANGE, EPOCH, reader_casts

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class StreamCounts:
    """What the single pass counted: rows parsed by the reader, and of those, kept (written) and dropped."""

    parsed: int
    kept: int
    dropped: int


def streamable(dataset: Dataset) -> bool:
    """Whether column statistics can show every validation failure of this dataset (no custom date formats,
    whose parse failures leave no trace in the written values)."""
    return all(c.type == "varchar" or reader_casts(c) for c in dataset.columns)


def parquet_options(row_group_mb: int = 0) -> str:
    """The Parquet writer's options (without ``FORMAT``) for processed output.

    ``row_group_mb`` > 0 cuts row groups by size instead of DuckDB's 122,880 rows: Athena splits work by row
    group and skips whole row groups by their statistics, and larger groups compress better (a third smaller
    at 5M orders with 32 MiB). DuckDB measures the size as the rows' in-memory size before compression, per
    writing thread, and the byte limit needs row order off (processing has it off). Larger groups cost
    writing time (about 25% more CPU at 32 MiB, measured on 5M orders), so the default (0) keeps DuckDB's
    groups and the AWS template, whose reader is Athena, sets ``LAKEBOX_ROW_GROUP_MB``."""
    # Snappy: Parquet's usual codec (Glue and Spark write it) and the fastest to write here.
    if row_group_mb <= 0:
        return "COMPRESSION snappy"
    rows = max(122_880, row_group_mb * 16_384)  # the byte limit, not this row cap, normally cuts the group
    return f"COMPRESSION snappy, ROW_GROUP_SIZE {rows}, ROW_GROUP_SIZE_BYTES '{int(row_group_mb)}MB'"


def copy_options(out_format: str, row_group_mb: int = 0) -> str:
    """The COPY options for processed output: CSV with a header, or Parquet (:func:`parquet_options`)."""
    if out_format != "parquet":
        return "FORMAT csv, HEADER true"
    return f"FORMAT parquet, {parquet_options(row_group_mb)}"


def stream_kept(con: duckdb.DuckDBPyConnection, select_typed: str, ok: str, dropped: str, dataset: Dataset,
                out_path: Path, options: str) -> StreamCounts | None:
    """Write the kept rows of ``select_typed`` (typed rows straight from the CSV reader) to ``out_path`` in one
    scan. None when the counts cannot be vouched for; the output file is then to be discarded."""
    out_cols = ", ".join(quote_ident(c.name) for c in dataset.columns)
    # Filter pushdown off for this statement: it would move the WHERE below the typed SELECT, inlining each
    # typed column's expression at every place the WHERE names it. The cleaned status column (lower, and the
    # surrounding-spaces check) then ran four times a row (three in the filter: IS NOT NULL, and the rule's
    # IN, which DuckDB splits into one comparison per status) instead of once: 15% more instructions than
    # the one-liner, against 2% fewer without it (benchmarks/results/scale.md). Nothing is pushed into the
    # CSV scan either way (``_scan_rows`` requires that).
    con.execute("SET enable_profiling = 'no_output'; SET profiling_coverage = 'ALL'; "
                "SET disabled_optimizers = 'filter_pushdown'")
    try:
        stats = con.execute(
            # "not dropped, or invalid": DuckDB evaluates the validity check only for the rows the rule drops.
            f"COPY (SELECT {out_cols} FROM ({select_typed}) WHERE NOT coalesce({dropped}, FALSE) OR NOT ({ok})) "
            f"TO {quote_literal(str(out_path))} ({options}, RETURN_STATS)"
        ).fetchall()
        profile = json.loads(con.get_profiling_information(format="json"))
    finally:
        con.execute("PRAGMA disable_profiling; RESET disabled_optimizers")
    parsed = _scan_rows(profile)
    if parsed is None or len(stats) != 1:
        return None
    written = int(stats[0][1])
    if written and not _clean(dataset, stats[0][4] or {}):
        return None
    return StreamCounts(parsed=parsed, kept=written, dropped=parsed - written)


def _clean(dataset: Dataset, columns: dict[str, Any]) -> bool:
    """True when the written columns' statistics prove every written row valid."""
    for col in dataset.columns:
        st = columns.get(quote_ident(col.name)) or columns.get(col.name)
        if st is None:
            return False
        if col.required and str(st.get("null_count", "1")) != "0":
            return False
        if col.type == "date" and st.get("min") is not None:
            lo, hi = str(st.get("min")), str(st.get("max"))
            if not (_ISO_DATE.match(lo) and _ISO_DATE.match(hi) and DATE_RANGE[0] <= lo and hi <= DATE_RANGE[1]):
                return False
            if lo <= EPOCH <= hi:  # 1970-01-01 may be the reader's reading of "epoch": the exact path tells
                return False
    return True


def _scan_rows(profile: dict[str, Any]) -> int | None:
    """Rows the CSV scan produced, if the plan has exactly one CSV scan with no filter pushed into it."""
    found: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        if node.get("name") == "READ_CSV" or node.get("operator_name") == "READ_CSV":
            found.append(node)
        for child in node.get("children", []):
            walk(child)

    for op in profile.get("operator", []) or profile.get("children", []):
        walk(op)
    if len(found) != 1:
        return None
    node = found[0]
    extra = node.get("extra_info") or {}
    if isinstance(extra, dict) and extra.get("Filters"):
        return None
    rows = node.get("operator_cardinality", node.get("intermediate_rows"))
    return int(rows) if isinstance(rows, int) else None

"""The DuckDB part of the "Lambda": read one raw CSV streaming, validate, apply the rule, write outputs.

DuckDB reads the file in chunks and writes Parquet/CSV straight from its own vectors; rows never become
Python objects (the original Lambda read the whole file into memory with ``csv.DictReader``). A clean file
takes one streaming scan with bounded memory (``process.stream``): typed, validated, filtered and written,
its counts taken from that same scan; rows the reader rejects are quarantined from DuckDB's reject table. A
file with rows that fail validation after parsing is staged once and written from the stage (the exact path),
so those rows are quarantined by line. Both outputs go to temp files; the caller publishes them atomically.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from lakebox.core.dataset import Dataset
from lakebox.core.errors import LakeboxError
from lakebox.core.sql import quote_ident, quote_literal
from lakebox.process.rules import (
    EPOCH,
    HeaderError,
    drop_predicate,
    map_header,
    problem_expr,
    reader_casts,
    reader_columns,
    reject_reason_sql,
    typed_exprs,
)
from lakebox.process.strays import STRAY_CR_REASON, StrayRow, split_strays
from lakebox.process.stream import StreamCounts, copy_options, stream_kept, streamable

#: Parquet row groups of processed output in MiB of buffered data per writing thread; 0 keeps DuckDB's
#: 122,880-row groups (the fastest to write; the ``row_group_mb`` setting, see ``process.stream.parquet_options``).
DEFAULT_ROW_GROUP_MB = 0

#: Longest CSV record DuckDB accepts; longer ones are quarantined with the reason, not a crash. DuckDB's
#: reader buffers scale with it (8 MiB ran a 256 MB memory limit out of memory), so it stays at DuckDB's own
#: default.
MAX_LINE_BYTES = 2 * 1024 * 1024
_SNIFF_BYTES = 1024 * 1024


class RejectedFile(LakeboxError, code="RejectedFile", http_status=422):
    """The whole file cannot be processed; the message says why and nothing is written to processed/."""


@dataclass
class TransformResult:
    rows_read: int = 0
    rows_kept: int = 0
    rows_dropped: int = 0
    rows_quarantined: int = 0
    header: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    quarantine_written: bool = False


def read_header(path: Path, delimiter: str) -> list[str]:
    """The first CSV record of the file, BOM removed."""
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head.strip():
        raise RejectedFile("empty file: no header row")
    nul = head.find(b"\x00")
    if nul >= 0:
        line = head.count(b"\n", 0, nul) + 1
        raise RejectedFile(f"binary data (a NUL byte) at line {line}, byte {nul}: not a CSV text file")
    text = head.decode("utf-8-sig", errors="replace")
    try:
        row = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except (StopIteration, csv.Error) as exc:
        raise RejectedFile(f"cannot read a header row: {exc}") from exc
    if not row or all(not c.strip() for c in row):
        raise RejectedFile("the first line is blank: expected a header row")
    return row


def connect(memory_limit: str = "1GB", threads: int = 0, spill_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for one processing job; it spills to ``spill_dir`` (never the working directory)."""
    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = {quote_literal(memory_limit)}")
    if spill_dir is not None:
        con.execute(f"SET temp_directory = {quote_literal(str(spill_dir))}")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def transform_csv(
    con: duckdb.DuckDBPyConnection,
    src: Path,
    dataset: Dataset,
    as_of: dt.date,
    out_path: Path,
    out_format: str,
    quarantine_path: Path,
    row_group_mb: int = DEFAULT_ROW_GROUP_MB,
) -> TransformResult:
    """Process one raw CSV into ``out_path`` (kept rows) and ``quarantine_path`` (bad rows, if any).

    Raises :class:`RejectedFile` when the file as a whole cannot be processed.
    """
    if src.stat().st_size == 0:
        raise RejectedFile("empty file (0 bytes)")
    header = read_header(src, dataset.delimiter)
    try:
        mapping = map_header(dataset, header)
    except HeaderError as exc:
        raise RejectedFile(str(exc)) from exc
    mapped = set(mapping.values())
    result = TransformResult(header=header, extra_columns=[h for i, h in enumerate(header) if i not in mapped])

    ncols = len(header)

    def reader_of(path: Path, raw_dates: bool) -> str:
        types = reader_columns(dataset, mapping, ncols, raw_dates)
        columns = "{" + ", ".join(f"'c{i}': '{t}'" for i, t in enumerate(types)) + "}"
        return (
            f"read_csv({quote_literal(str(path))}, header=true, columns={columns}, "
            f"delim={quote_literal(dataset.delimiter)}, quote='\"', escape='\"', store_rejects=true, "
            f"strict_mode=true, null_padding=false, max_line_size={MAX_LINE_BYTES}, auto_detect=false)"
        )

    # The reader casts ISO dates itself (the fast path), and reads the word ``epoch`` as 1970-01-01. Where
    # that date turns up, the exact path stages the file again with the dates read as text and cast in SQL
    # (the same cast, refusing the special words), so a real 1970-01-01 is kept and ``epoch`` quarantined.
    path = src
    typed, ok = typed_exprs(dataset, mapping)
    exact_typed, exact_ok = typed_exprs(dataset, mapping, raw_dates=True)
    raw_dates = False
    iso_dates = [quote_ident(c.name) for c in dataset.columns
                 if c.name in mapping and c.type == "date" and reader_casts(c)]
    dropped = drop_predicate(dataset, as_of)
    out_cols = ", ".join(quote_ident(c.name) for c in dataset.columns)
    # Where stray-CR lines are set aside, if the strict read fails (removed whatever happens).
    cleaned = out_path.with_name(out_path.name + ".lines.csv")
    # Column statistics (what proves a streamed file clean) come only with Parquet output.
    stream = streamable(dataset) and out_format == "parquet"

    def first_pass(path: Path) -> StreamCounts | None:
        """The single streaming pass when it can vouch for its counts; else stage the rows (exact path)."""
        nonlocal raw_dates
        if stream:
            counts = stream_kept(con, f"SELECT {', '.join(typed)} FROM {reader_of(path, False)}", ok, dropped,
                                 dataset, out_path, copy_options(out_format, row_group_mb))
            if counts is not None:
                return counts
            con.execute("DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans")
        raw_dates = False
        con.execute(f"CREATE OR REPLACE TEMP TABLE staged AS SELECT {', '.join(typed)} FROM {reader_of(path, False)}")
        if iso_dates:
            epoch = " OR ".join(f"{c} = DATE '{EPOCH}'" for c in iso_dates)
            found = con.execute(f"SELECT count(*) FROM (SELECT 1 FROM staged WHERE {epoch} LIMIT 1)").fetchone()
            if found and found[0]:
                raw_dates = True
                con.execute("DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans")
                con.execute(f"CREATE OR REPLACE TEMP TABLE staged AS SELECT {', '.join(exact_typed)} "
                            f"FROM {reader_of(path, True)}")
        return None

    try:
        strays: list[StrayRow] = []
        # One scan of the CSV: DuckDB's reader casts numbers and dates itself and sends rows it cannot cast,
        # or that have the wrong field count, to its reject table with their line numbers. Row order is not
        # preserved (Athena promises none either), which lets both cores work.
        con.execute("SET preserve_insertion_order = false")
        try:
            counts = first_pass(path)
        except duckdb.InvalidInputException:
            # The strict reader gives up on the whole file for mixed line endings or a stray CR (and for other
            # malformed input). Set stray-CR lines aside with their line numbers and read the rest; if the file
            # still cannot be read, it is rejected with DuckDB's reason.
            strays = split_strays(src, cleaned)
            path = cleaned
            con.execute("DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans")
            try:
                counts = first_pass(path)
            except duckdb.Error as exc:
                raise RejectedFile(f"cannot parse as CSV: {_short(exc)}") from exc
        except duckdb.Error as exc:
            raise RejectedFile(f"cannot parse as CSV: {_short(exc)}") from exc
        # The reader's rejects, one row per line with its reason. A clean file has none: one count then
        # stands in for building the table (a GROUP BY with regexes, several milliseconds per file), which is
        # built, empty, only if the quarantine needs it after all.
        n_rejected = 0
        has_rejects = bool(strays) or bool((con.execute("SELECT count(*) FROM reject_errors").fetchone()
                                            or (0,))[0])
        if has_rejects:
            _collect_rejects(con, dataset, mapping, strays)
            bad_utf8, n_rejected = con.execute(
                "SELECT min(line) FILTER (WHERE bad_utf8), count(*) FROM rejected").fetchone() or (None, 0)
            if bad_utf8 is not None:
                raise RejectedFile(f"not UTF-8: invalid byte sequence at line {bad_utf8}; re-save the file as UTF-8")
        if counts is not None:
            kept, n_dropped, n_invalid = counts.kept, counts.dropped, 0
        else:
            valid = exact_ok if raw_dates else ok
            copied = con.execute(
                f"COPY (SELECT {out_cols} FROM staged WHERE {valid} AND NOT coalesce({dropped}, FALSE)) "
                f"TO {quote_literal(str(out_path))} ({copy_options(out_format, row_group_mb)})"
            ).fetchone()
            n_dropped, n_invalid = con.execute(
                f"SELECT count(*) FILTER (WHERE ({valid}) AND coalesce({dropped}, FALSE)), "
                f"count(*) FILTER (WHERE NOT ({valid})) FROM staged"
            ).fetchone() or (0, 0)
            con.execute("DROP TABLE staged")
            kept = int(copied[0]) if copied else 0

        result.rows_kept = kept
        result.rows_dropped = int(n_dropped)
        result.rows_quarantined = int(n_invalid) + n_rejected
        result.rows_read = result.rows_kept + result.rows_dropped + result.rows_quarantined

        if result.rows_quarantined:
            if not has_rejects:
                _collect_rejects(con, dataset, mapping, strays)
            _write_quarantine(con, reader_of(path, raw_dates), dataset, mapping, header, quarantine_path,
                              with_parsed=n_invalid > 0, raw_dates=raw_dates)
            result.quarantine_written = True
        return result
    finally:
        cleaned.unlink(missing_ok=True)


def _collect_rejects(con: duckdb.DuckDBPyConnection, dataset: Dataset, mapping: dict[str, int],
                     strays: list[StrayRow]) -> None:
    """The temp table ``rejected``: one row per line the reader rejected (or set aside as a stray CR) with its
    reason, raw text and whether it was invalid UTF-8."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE rejected AS SELECT line, arg_min({reject_reason_sql(dataset, mapping)}, "
        "coalesce(column_idx, 0)) AS reason, left(any_value(csv_line), 2000) AS csv_line, "
        "bool_or(error_type = 'INVALID ENCODING' OR error_type ILIKE '%UNICODE%') AS bad_utf8 "
        "FROM reject_errors GROUP BY line"
    )
    if strays:
        con.executemany(
            "INSERT INTO rejected VALUES (?, ?, ?, false)",
            [(row.line, STRAY_CR_REASON, row.text[:2000]) for row in strays],
        )


def _write_quarantine(
    con: duckdb.DuckDBPyConnection,
    reader: str,
    dataset: Dataset,
    mapping: dict[str, int],
    header: list[str],
    path: Path,
    with_parsed: bool,
    raw_dates: bool = False,
) -> None:
    """Every bad row with its line number and reason, as CSV: the source fields, or the raw line.

    Rows the reader rejected come from its reject table. Parsed rows that fail validation (a missing
    required value) need a second, ordered scan, done only when there are some: a parsed row with ordinal g
    sits at line g + 1 plus the number of rejected records before it (line 1 is the header).
    """
    ncols = len(header)
    names = ", ".join(f'"c{i}" AS {quote_ident(n)}' for i, n in enumerate(_unique_names(header)))
    nulls = ", ".join(f'NULL AS "c{i}"' for i in range(ncols))
    parsed = ""
    if with_parsed:
        con.execute("SET preserve_insertion_order = true")
        typed, _ = typed_exprs(dataset, mapping, raw_dates=raw_dates)
        raw = ", ".join(f'CAST("c{i}" AS VARCHAR) AS "c{i}"' for i in range(ncols))
        parsed = f"""
          bad AS (
            SELECT * FROM (
              SELECT row_number() OVER () AS _ord, {problem_expr(dataset, mapping, raw_dates=raw_dates)} AS _reason, *
              FROM (SELECT {raw}, {', '.join(typed)} FROM {reader})
            ) WHERE _reason IS NOT NULL
          ),
          parsed AS (
            SELECT _ord + 1 + (SELECT count(*) FROM rj WHERE rj.good_before < bad._ord) AS line,
                   _reason AS reason, {', '.join(f'"c{i}"' for i in range(ncols))}, NULL AS raw_line
            FROM bad
          ),"""
    union = "SELECT * FROM parsed UNION ALL " if with_parsed else ""
    con.execute(
        f"""COPY (
          WITH rj AS (SELECT line, line - 2 - (row_number() OVER (ORDER BY line) - 1) AS good_before FROM rejected),
          {parsed}
          q AS ({union}SELECT line, reason, {nulls}, trim(csv_line, chr(10) || chr(13)) AS raw_line FROM rejected)
          SELECT line, reason, {names}, raw_line FROM q ORDER BY line
        ) TO {quote_literal(str(path))} (FORMAT csv, HEADER true)"""
    )


def _unique_names(header: list[str]) -> list[str]:
    """Quarantine column names: the source header, made unique and never clashing with line/reason."""
    seen: set[str] = {"line", "reason", "raw_line"}
    out: list[str] = []
    for i, h in enumerate(header):
        name = h.strip().lstrip("\ufeff") or f"column{i + 1}"
        base, n = name, 1
        while name.lower() in seen:
            n += 1
            name = f"{base}_{n}"
        seen.add(name.lower())
        out.append(name)
    return out


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__

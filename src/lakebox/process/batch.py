"""Many small raw files of one dataset in one DuckDB pass: one CSV scan over all of them, one ``COPY`` that
writes one Parquet per source file, and every count per file.

A 1,000-row file costs about as much in fixed per-statement overhead (parse, plan, profile, reset) as in
reading its rows, so a watcher handed many small files at once reads them together: ``read_csv`` over the
list with its ``filename`` column, the typed rows staged once (the batch is bounded, see
``process.handler.BATCH_FILES``/``BATCH_BYTES``), counted per file with one ``GROUP BY``, and written with
``PARTITION_BY`` a file index, so each source file still gets its own output (reprocessing one raw file
replaces exactly its rows).

Only *clean* files are finished here: parsed, with no row the reader rejected and none failing validation,
and at least one kept row. Every other file (an empty one, one whose header maps differently from the rest
of its group, one with bad rows to quarantine by line, one the strict reader gives up on, which fails the
whole scan) is answered None and goes through the one-file path (``process.transform``), which rejects or
quarantines it exactly as before. The counts here are the exact path's (staged rows, the validity and drop
predicates evaluated per row), so a clean file's run is the same whether it came alone or in a batch.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections import defaultdict
from pathlib import Path

import duckdb

from lakebox.core.dataset import Dataset
from lakebox.core.sql import quote_ident, quote_literal
from lakebox.process.rules import HeaderError, drop_predicate, map_header, reader_columns, typed_exprs
from lakebox.process.stream import copy_options
from lakebox.process.transform import (
    DEFAULT_ROW_GROUP_MB,
    MAX_LINE_BYTES,
    RejectedFile,
    TransformResult,
    read_header,
)

#: The folder the partitioned COPY writes into is named after this; its columns never reach the output.
_INDEX = "_lakebox_file_index"


def transform_batch(
    con: duckdb.DuckDBPyConnection,
    items: list[tuple[Path, Path]],
    dataset: Dataset,
    as_of: dt.date,
    work: Path,
    row_group_mb: int = DEFAULT_ROW_GROUP_MB,
) -> list[TransformResult | None]:
    """Process ``items`` ((raw CSV, Parquet temp path for its kept rows) pairs) together.

    Returns, per item, its result with the kept rows written to its temp path, or None when that file must
    be processed alone (see the module docstring). Never raises for a bad file; DuckDB errors that are not
    about one file (out of memory, a full disk) make every file of the failing group None as well, so the
    one-file path reports them against the file they hit.
    """
    out: list[TransformResult | None] = [None] * len(items)
    groups: dict[tuple[int, tuple[tuple[str, int], ...]], list[int]] = defaultdict(list)
    headers: dict[int, list[str]] = {}
    for i, (src, _) in enumerate(items):
        try:
            if src.stat().st_size == 0:
                continue
            header = read_header(src, dataset.delimiter)
            mapping = map_header(dataset, header)
        except (RejectedFile, HeaderError, OSError):
            continue  # the one-file path rejects it with the reason
        headers[i] = header
        groups[(len(header), tuple(sorted(mapping.items())))].append(i)
    for (ncols, pairs), members in groups.items():
        if len(members) < 2:
            continue  # alone it is the one-file path's job, which is as fast for one file
        try:
            done = _group(con, [items[i] for i in members], dataset, as_of, ncols, dict(pairs), work,
                          row_group_mb)
        except (duckdb.Error, OSError):
            continue  # a file the strict reader refuses fails the whole scan: each file goes alone
        finally:
            con.execute("DROP TABLE IF EXISTS temp.main._lakebox_batch; DROP TABLE IF EXISTS reject_errors; "
                        "DROP TABLE IF EXISTS reject_scans")
        for j, counts in done.items():
            i = members[j]
            parsed, kept, n_dropped = counts
            header = headers[i]
            mapped = set(dict(pairs).values())
            out[i] = TransformResult(
                rows_read=parsed, rows_kept=kept, rows_dropped=n_dropped, rows_quarantined=0, header=header,
                extra_columns=[h for k, h in enumerate(header) if k not in mapped])
    return out


def _group(con: duckdb.DuckDBPyConnection, items: list[tuple[Path, Path]], dataset: Dataset, as_of: dt.date,
           ncols: int, mapping: dict[str, int], work: Path, row_group_mb: int) -> dict[int, tuple[int, int, int]]:
    """One group of files with the same header layout: (parsed, kept, dropped) per clean member index; the
    kept rows of each are moved to its temp path."""
    types = reader_columns(dataset, mapping, ncols)
    columns = "{" + ", ".join(f"'c{i}': '{t}'" for i, t in enumerate(types)) + "}"
    paths = [str(src) for src, _ in items]
    files = "[" + ", ".join(quote_literal(p) for p in paths) + "]"
    reader = (
        f"read_csv({files}, header=true, columns={columns}, delim={quote_literal(dataset.delimiter)}, "
        f"quote='\"', escape='\"', store_rejects=true, strict_mode=true, null_padding=false, "
        f"max_line_size={MAX_LINE_BYTES}, auto_detect=false, filename=true)"
    )
    typed, ok = typed_exprs(dataset, mapping)
    dropped = drop_predicate(dataset, as_of)
    index = "CASE filename " + " ".join(f"WHEN {quote_literal(p)} THEN {i}" for i, p in enumerate(paths)) + " END"
    con.execute("SET preserve_insertion_order = false")
    # Staged once (the batch is small and bounded): the counts per file and the COPY read the stage, not the
    # CSVs again. ``ok`` and ``dropped`` name the typed columns, hence the nesting.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _lakebox_batch AS SELECT *, ({ok}) AS _lb_ok, "
        f"coalesce({dropped}, FALSE) AS _lb_drop FROM (SELECT {index} AS {_INDEX}, {', '.join(typed)} FROM {reader})"
    )
    rejected = {str(r[0]) for r in con.execute(
        "SELECT DISTINCT s.file_path FROM reject_errors e JOIN reject_scans s "
        "ON e.scan_id = s.scan_id AND e.file_id = s.file_id").fetchall()}
    counts: dict[int, tuple[int, int, int]] = {}
    for idx, parsed, n_dropped, invalid in con.execute(
        f"SELECT {_INDEX}, count(*), count(*) FILTER (WHERE _lb_ok AND _lb_drop), count(*) FILTER (WHERE NOT _lb_ok) "
        f"FROM _lakebox_batch GROUP BY ALL"
    ).fetchall():
        if idx is None or invalid or paths[int(idx)] in rejected:
            continue
        kept = int(parsed) - int(n_dropped)
        if kept > 0:  # a file with no kept rows still gets its (empty) output: the one-file path writes it
            counts[int(idx)] = (int(parsed), kept, int(n_dropped))
    if not counts:
        return {}
    folder = work / f".lakebox-batch-{uuid.uuid4().hex}"
    out_cols = ", ".join(quote_ident(c.name) for c in dataset.columns)
    clean = ", ".join(str(i) for i in sorted(counts))
    try:
        stats = con.execute(
            f"COPY (SELECT {out_cols}, {_INDEX} FROM _lakebox_batch WHERE _lb_ok AND NOT _lb_drop "
            f"AND {_INDEX} IN ({clean})) TO {quote_literal(str(folder))} "
            f"({copy_options('parquet', row_group_mb)}, PARTITION_BY ({_INDEX}), RETURN_STATS)"
        ).fetchall()
        written: dict[int, list[tuple[Path, int]]] = defaultdict(list)
        for row in stats:
            path = Path(str(row[0]))
            written[int(path.parent.name.split("=", 1)[1])].append((path, int(row[1])))
        done: dict[int, tuple[int, int, int]] = {}
        for idx, (parsed, kept, n_dropped) in counts.items():
            parts = written.get(idx, [])
            # One file holding exactly the counted rows; anything else is left to the one-file path.
            if len(parts) != 1 or parts[0][1] != kept:
                continue
            shutil.move(parts[0][0], items[idx][1])
            done[idx] = (parsed, kept, n_dropped)
        return done
    finally:
        shutil.rmtree(folder, ignore_errors=True)

"""Writing one raw file's kept rows as Hive-style partition folders (``order_month=2025-02/``).

DuckDB's ``COPY ... PARTITION_BY`` splits the rows in one pass and reports, per file it wrote, the row count
and size (``RETURN_STATS``): what the catalog records, without reopening the files. The partition column is
not stored in the files (it is the folder's name, as Hive and Athena expect).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from lakebox.core.dataset import Partition
from lakebox.core.sql import quote_ident, quote_literal
from lakebox.process.rules import partition_expr


@dataclass(frozen=True)
class PartFile:
    """One written file: its partition value as the folder spells it (DuckDB escapes it as Hive does), where
    it is, and what the writer counted."""

    value: str
    path: Path
    rows: int
    size: int


def write_partitioned(con: duckdb.DuckDBPyConnection, select_sql: str, partition: Partition, out_dir: Path,
                      options: str = "COMPRESSION snappy") -> list[PartFile]:
    """Write the rows of ``select_sql`` under ``out_dir/<name>=<value>/`` and describe each file."""
    name = quote_ident(partition.name)
    stats = con.execute(
        f"COPY (SELECT *, {partition_expr(partition)} AS {name} FROM ({select_sql})) TO {quote_literal(str(out_dir))} "
        f"(FORMAT parquet, {options}, PARTITION_BY ({name}), FILENAME_PATTERN 'part_{{i}}', "
        "OVERWRITE_OR_IGNORE, RETURN_STATS)"
    ).fetchall()
    files = []
    for row in stats:
        path = Path(row[0])
        folder = path.parent.name
        key, _, value = folder.partition("=")
        if key != partition.name:
            raise RuntimeError(f"unexpected partition folder {folder!r} from DuckDB")
        files.append(PartFile(value, path, int(row[1]), int(row[2])))
    return sorted(files, key=lambda f: f.value)

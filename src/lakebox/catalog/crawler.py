"""The Glue crawler's decisions, as pure functions over object listings and file schemas.

No file system, no DuckDB, no SQLite: ``catalog.crawl`` feeds listings and footers in, and stores what comes
out. What Glue does and where it is documented: ../shared/reference/aws_semantics.md, section 2.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: DuckDB type names -> Hive/Glue type names, as a crawler catalogs Parquet (INT32 -> int, INT64 -> bigint...).
_DUCK_TO_HIVE = {
    "VARCHAR": "string",
    "BIGINT": "bigint",
    "INTEGER": "int",
    "SMALLINT": "smallint",
    "TINYINT": "tinyint",
    "DOUBLE": "double",
    "FLOAT": "float",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
    "BLOB": "binary",
    "UBIGINT": "bigint",
    "UINTEGER": "bigint",
    "HUGEINT": "decimal(38,0)",
}


@dataclass(frozen=True)
class ColumnDef:
    """A catalog column: Glue (Hive) type names, lower-case column names."""

    name: str
    type: str


@dataclass
class PartitionDef:
    values: tuple[str, ...]
    location: str
    file_count: int = 0
    row_count: int = 0
    size_bytes: int = 0


@dataclass
class FileInfo:
    """One data file as the crawler sees it: its key, size, row count and schema."""

    key: str
    size: int
    etag: str
    rows: int
    columns: tuple[ColumnDef, ...]
    format: str
    #: CSV only: what Glue's classifier detected (the table's field.delim and skip.header.line.count).
    delimiter: str = ","
    has_header: bool = True
    #: Provenance: (raw key, first row, row count) for each run of rows in the file, in file order. A
    #: processed file has one entry; a compacted file one per file merged into it. () when unknown (a file
    #: the crawler found but lakebox did not write).
    sources: tuple[tuple[str, int, int], ...] = ()


@dataclass
class TableDef:
    """What the crawler writes to the catalog for one table (Glue's TableInput, flattened)."""

    database: str
    name: str
    location: str
    format: str
    columns: list[ColumnDef]
    partition_keys: list[ColumnDef] = field(default_factory=list)
    partitions: list[PartitionDef] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    file_count: int = 0
    row_count: int = 0
    size_bytes: int = 0
    parameters: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    updated_at: str | None = None
    last_crawl: str | None = None

    def schema_fingerprint(self) -> str:
        text = ";".join(f"{c.name}:{c.type}" for c in [*self.columns, *self.partition_keys])
        return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "name": self.name,
            "location": self.location,
            "format": self.format,
            "columns": [{"name": c.name, "type": c.type} for c in self.columns],
            "partition_keys": [{"name": c.name, "type": c.type} for c in self.partition_keys],
            "partitions": [
                {"values": list(p.values), "location": p.location, "file_count": p.file_count,
                 "row_count": p.row_count, "size_bytes": p.size_bytes}
                for p in self.partitions
            ],
            "file_count": self.file_count,
            "row_count": self.row_count,
            "size_bytes": self.size_bytes,
            "parameters": dict(self.parameters),
            "version": self.version,
            "updated_at": self.updated_at,
            "last_crawl": self.last_crawl,
        }


def hive_type(duck_type: str) -> str:
    """Map a DuckDB column type to the Glue/Hive type a crawler records for Parquet."""
    t = duck_type.strip().upper()
    if t.startswith("DECIMAL"):
        return t.lower().replace(" ", "")
    if t.endswith("[]"):
        return f"array<{hive_type(t[:-2])}>"
    return _DUCK_TO_HIVE.get(t, "string")


def sanitize_table_name(folder: str, prefix: str = "") -> str:
    """Glue's naming: lower-case, characters outside ``[a-z0-9_]`` become ``_``, prefix added, 128 chars max."""
    name = re.sub(r"[^a-z0-9_]", "_", folder.strip("/").split("/")[-1].lower()) or "table"
    full = (prefix.lower() + name)[:128]
    return full


def partition_spec(rel_dirs: Sequence[str]) -> tuple[list[str], list[str]]:
    """Partition keys and values for the folders between the table root and a file.

    ``k=v`` folders give key ``k`` and value ``v``; any other folder at depth i gives ``partition_i``.
    """
    keys: list[str] = []
    values: list[str] = []
    for i, part in enumerate(rel_dirs):
        if "=" in part:
            k, v = part.split("=", 1)
            keys.append(re.sub(r"[^a-z0-9_]", "_", k.lower()) or f"partition_{i}")
            values.append(v)
        else:
            keys.append(f"partition_{i}")
            values.append(part)
    return keys, values


def is_data_file(key: str) -> bool:
    """Athena skips objects whose name, or any folder above it, starts with ``_`` or ``.`` (Spark's
    ``_temporary/``, lakebox's ``.lakebox-tmp-`` files)."""
    parts = key.split("/")
    return bool(parts[-1]) and not any(p.startswith(("_", ".")) for p in parts)


def build_table(
    database: str,
    name: str,
    location: str,
    files: Iterable[FileInfo],
    *,
    parameters: dict[str, Any] | None = None,
) -> TableDef | None:
    """Group the files under ``location`` into one table with partitions, as a crawler does for an include
    path whose files share a schema. Columns are the union of the files' columns in first-seen order (Glue's
    CombineCompatibleSchemas); a column seen with two types becomes ``string``.
    """
    files = sorted(files, key=lambda f: f.key)
    if not files:
        return None
    cols: dict[str, str] = {}
    for f in files:
        for c in f.columns:
            if c.name not in cols:
                cols[c.name] = c.type
            elif cols[c.name] != c.type:
                cols[c.name] = "string"
    depth = max(len(f.key[len(location):].split("/")) - 1 for f in files)
    part_keys: list[str] = []
    parts: dict[tuple[str, ...], PartitionDef] = {}
    if depth > 0:
        for f in files:
            rel_dirs = f.key[len(location):].split("/")[:-1]
            keys, values = partition_spec(rel_dirs)
            if len(keys) == depth and not part_keys:
                part_keys = keys
            # Files above the partition depth get empty values (Glue would make extra tables; we keep one).
            values += [""] * (depth - len(values))
            loc = location + "/".join(rel_dirs) + ("/" if rel_dirs else "")
            p = parts.setdefault(tuple(values), PartitionDef(tuple(values), loc))
            p.file_count += 1
            p.row_count += f.rows
            p.size_bytes += f.size
        if not part_keys:
            part_keys = [f"partition_{i}" for i in range(depth)]
    part_cols = [ColumnDef(k, "string") for k in part_keys]
    data_cols = [ColumnDef(n, t) for n, t in cols.items() if n not in set(part_keys)]
    fmt = files[0].format
    params = {"classification": fmt, "typeOfData": "file", "objectCount": str(len(files)),
              "recordCount": str(sum(f.rows for f in files)), "sizeKey": str(sum(f.size for f in files))}
    params.update(parameters or {})
    return TableDef(
        database=database,
        name=name,
        location=location,
        format=fmt,
        columns=data_cols,
        partition_keys=part_cols,
        partitions=sorted(parts.values(), key=lambda p: p.values),
        files=[f.key for f in files],
        file_count=len(files),
        row_count=sum(f.rows for f in files),
        size_bytes=sum(f.size for f in files),
        parameters=params,
    )


def apply_file_delta(table: TableDef, added: Sequence[FileInfo], removed: Sequence[FileInfo]) -> TableDef | None:
    """``table`` with ``removed`` files taken out and ``added`` ones put in, touching only their partitions:
    what a crawl of the folder would give, at a cost independent of how many files the table has.

    ``table.files`` is not consulted (the local catalog keeps the key list outside the table's row). Returns
    None when the delta could change what a full crawl decides (a new column or type, another format or
    partition depth, the table emptied): the caller then crawls the folder.
    """
    cols = {c.name: c.type for c in table.columns}
    part_names = {c.name for c in table.partition_keys}
    depth = len(table.partition_keys)
    for f in added:
        if f.format != table.format:
            return None
        if f.format == "csv" and (table.parameters.get("field.delim", ",") != f.delimiter or
                                  table.parameters.get("skip.header.line.count") != ("1" if f.has_header else "0")):
            return None
        if any(c.name not in part_names and cols.get(c.name) != c.type for c in f.columns):
            return None
        keys, _ = partition_spec(f.key[len(table.location):].split("/")[:-1])
        if len(keys) != depth or [c.name for c in table.partition_keys] != keys:
            return None
    file_count = table.file_count + len(added) - len(removed)
    if file_count <= 0:
        return None
    parts = {p.values: PartitionDef(p.values, p.location, p.file_count, p.row_count, p.size_bytes)
             for p in table.partitions}
    for sign, group in ((-1, removed), (1, added)):
        for f in group:
            if not depth:
                continue
            rel_dirs = f.key[len(table.location):].split("/")[:-1]
            _, values = partition_spec(rel_dirs)
            loc = table.location + "/".join(rel_dirs) + "/"
            p = parts.setdefault(tuple(values), PartitionDef(tuple(values), loc))
            p.file_count += sign
            p.row_count += sign * f.rows
            p.size_bytes += sign * f.size
    rows = table.row_count + sum(f.rows for f in added) - sum(f.rows for f in removed)
    size = table.size_bytes + sum(f.size for f in added) - sum(f.size for f in removed)
    params = dict(table.parameters) | {"objectCount": str(file_count), "recordCount": str(rows),
                                       "sizeKey": str(size)}
    return TableDef(
        database=table.database, name=table.name, location=table.location, format=table.format,
        columns=list(table.columns), partition_keys=list(table.partition_keys),
        partitions=sorted((p for p in parts.values() if p.file_count > 0), key=lambda p: p.values),
        files=[], file_count=file_count, row_count=rows, size_bytes=size, parameters=params,
        version=table.version, updated_at=table.updated_at, last_crawl=table.last_crawl,
    )


def schema_changed(old: TableDef | None, new: TableDef) -> bool:
    """A new table version is written when columns, types or partition keys change."""
    return old is None or old.schema_fingerprint() != new.schema_fingerprint() or old.format != new.format


# --- Glue's built-in CSV classifier (used by Glue-faithful datasets) -----------------------------------------

_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")
_BOOL = {"true", "false"}
CSV_DELIMITERS = (",", "|", "\t", ";", "\x01")


def infer_value_type(value: str) -> str | None:
    """bigint, double, boolean or string for one CSV value; None for an empty value (it forces nothing)."""
    v = value.strip()
    if v == "":
        return None
    if _INT.match(v):
        return "bigint" if -(2**63) <= int(v) < 2**63 else "string"
    if _FLOAT.match(v):
        return "double"
    if v.lower() in _BOOL:
        return "boolean"
    return "string"


def merge_types(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None or a == b:
        return a
    if {a, b} == {"bigint", "double"}:
        return "double"
    return "string"


def infer_csv_schema(rows: Sequence[Sequence[str]]) -> tuple[list[ColumnDef], bool]:
    """Glue's built-in CSV classifier over sampled rows (the first 1000): column names and whether the first
    row is a header.

    The first row is a header only if every value in it is a string, each but the last is shorter than 150
    characters, and some later row has a non-string value; the last value may be empty when the last column is
    empty throughout (a trailing delimiter), and is then named ``col<i>``. Names are lower-cased; without a
    header they are ``col0, col1, ...``. Types are only bigint, double, boolean and string, so dates stay
    strings.
    """
    if not rows:
        return [], False
    width = max(len(r) for r in rows)
    first = list(rows[0]) + [""] * (width - len(rows[0]))
    body = rows[1:]
    col_types: list[str | None] = [None] * width
    for r in body:
        for i in range(width):
            col_types[i] = merge_types(col_types[i], infer_value_type(r[i]) if i < len(r) else None)
    # "To allow for a trailing delimiter, the last column can be empty throughout the file" (Glue's docs).
    trailing_empty = width > 1 and all(len(r) < width or not r[-1].strip() for r in rows)
    candidate = first[:-1] if trailing_empty else first
    header_all_string = all(infer_value_type(v) in ("string", None) and v.strip() for v in candidate)
    short = all(len(v) < 150 for v in first[:-1])
    different = any(t not in ("string", None) for t in col_types)
    has_header = header_all_string and short and different
    if not has_header:
        col_types = [None] * width
        for r in rows:
            for i in range(width):
                col_types[i] = merge_types(col_types[i], infer_value_type(r[i]) if i < len(r) else None)
        names = [f"col{i}" for i in range(width)]
    else:
        names = [v.strip().lower() or f"col{i}" for i, v in enumerate(first)]
    return [ColumnDef(n, t or "string") for n, t in zip(names, col_types, strict=True)], has_header


def detect_delimiter(sample: str) -> str:
    """The first of Glue's delimiters that splits the first lines into the same number (>= 2) of fields."""
    lines = [ln for ln in sample.splitlines()[:20] if ln.strip()]
    best = ","
    for d in CSV_DELIMITERS:
        counts = {ln.count(d) for ln in lines}
        if lines and len(counts) == 1 and next(iter(counts)) >= 1:
            return d
    return best

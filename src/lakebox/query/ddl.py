"""Athena DDL, applied to the catalog as Athena applies it: databases, external tables, views, CTAS, partitions.

The statements (Athena runs them on its Hive side, or as Trino DDL for views and CTAS):

- ``CREATE DATABASE|SCHEMA [IF NOT EXISTS]``
- ``CREATE EXTERNAL TABLE [IF NOT EXISTS] t (cols) [PARTITIONED BY (cols)] [ROW FORMAT DELIMITED FIELDS
  TERMINATED BY 'c' | ROW FORMAT SERDE 'lib' [WITH SERDEPROPERTIES (...)]] [STORED AS TEXTFILE|PARQUET]
  LOCATION 's3://...' [TBLPROPERTIES (...)]``: the Glue table Athena writes. Reads follow the SerDe: the
  LazySimpleSerDe (``ROW FORMAT DELIMITED``) splits on the delimiter with no quote handling, a value that does
  not parse as its column's type is NULL and ``\\N`` is NULL; the OpenCSVSerDe honours quotes and makes every
  column a string (its DESCRIBE says string whatever the DDL declared, as Hive's does). ``JsonSerDe`` tables
  read one JSON object per line.
- ``CREATE [OR REPLACE] VIEW v AS SELECT ...`` / ``DROP VIEW [IF EXISTS] v``: stored as Athena stores them,
  a Glue table of type ``VIRTUAL_VIEW`` whose ``ViewOriginalText`` is ``/* Presto View: <base64 JSON> */``
  (see :mod:`lakebox.catalog.views`); the view's columns are those of its SELECT, checked when it is created.
- CTAS, ``CREATE TABLE t WITH (format = 'PARQUET'|'TEXTFILE', external_location = 's3://...',
  partitioned_by = ARRAY['c'], field_delimiter = ',') AS SELECT ...``: the engine writes the files (partition
  columns last, as Athena requires, in ``k=v`` folders) and the table is catalogued with its partitions.
  Without ``external_location`` the files go under ``enriched/tables/<uuid>/``, as Athena puts them under the
  query result location. A location that already holds data fails with HIVE_PATH_ALREADY_EXISTS.
- ``MSCK REPAIR TABLE t``: adds the ``k=v`` folders under the table's location as partitions (Hive-style
  only, as Athena) and relists the files.
- ``ALTER TABLE t ADD [IF NOT EXISTS] PARTITION (k='v', ...) [LOCATION '...'] ...`` and
  ``ALTER TABLE t DROP [IF EXISTS] PARTITION (k='v', ...), ...``.
- ``DROP TABLE [IF EXISTS] t`` (the data stays, as for an external table).
- ``SHOW CREATE TABLE t``, ``SHOW CREATE VIEW v``, ``SHOW PARTITIONS t``, ``SHOW VIEWS [IN db] [LIKE 'p']``.

Where lakebox differs: other DDL (``ALTER TABLE ... ADD COLUMNS``, ``DROP DATABASE``, ``INSERT INTO``, Iceberg
tables, ORC/Avro) fails with NOT_SUPPORTED naming the statement; a partition's ``LOCATION`` must be the
``k=v`` (or plain value) folders under the table's location, in the partition keys' order, because the engine
reads a partition's values from the file paths; a table made by DDL sees new files after ``MSCK REPAIR TABLE``
(Athena lists the location at every query).

This module parses and plans; the I/O (listing files, running a SELECT, writing its files) belongs to the
:class:`DdlHost` the engine provides.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from lakebox.catalog.crawler import ColumnDef, PartitionDef, TableDef, is_data_file
from lakebox.catalog.views import VIEW_FORMAT, is_view, view_parameters, view_sql
from lakebox.query.dialect import strip_statement
from lakebox.query.errors import AthenaError
from lakebox.query.statement import CATALOG_NAME, SERDE_PARAM, skip_leading_comments
from lakebox.query.syntax import check_nesting

LAZY_SIMPLE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPEN_CSV = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
JSON_SERDES = ("org.openx.data.jsonserde.JsonSerDe", "org.apache.hive.hcatalog.data.JsonSerDe")
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"

_INPUT_FORMATS = {
    "parquet": ("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"),
    "text": ("org.apache.hadoop.mapred.TextInputFormat",
             "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"),
}


@dataclass
class DdlResult:
    """What a DDL statement returns: no rows for a change, text rows for SHOW CREATE/PARTITIONS/VIEWS."""

    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    statement_type: str = "DDL"


class DdlCatalog(Protocol):
    """The Glue actions DDL needs (a subset of :class:`lakebox.catalog.base.Catalog`)."""

    def get_databases(self) -> list[str]: ...

    def create_database(self, name: str) -> None: ...

    def get_table(self, database: str, name: str) -> TableDef | None: ...

    def get_tables(self, database: str | None = None) -> list[TableDef]: ...

    def put_table(self, table: TableDef, *, prune: bool = True) -> TableDef: ...

    def delete_table(self, database: str, name: str) -> None: ...


class DdlHost(Protocol):
    """What the engine gives DDL: the catalog, locations, listings, and running a SELECT."""

    catalog: DdlCatalog

    def locate(self, url: str) -> str:
        """An ``s3://`` location as a catalog location; AthenaError INVALID_TABLE_PROPERTY if it cannot be."""
        ...

    def s3_url(self, location: str) -> str:
        """A catalog location as the ``s3://`` URL users wrote."""
        ...

    def list_keys(self, location: str) -> list[str]:
        """Every object under a catalog location (keys as the table's ``files`` hold them)."""
        ...

    def select_columns(self, sql: str, database: str) -> list[tuple[str, str]]:
        """The output columns of a SELECT with Athena type names; its analysis errors are raised."""
        ...

    def write_select(self, sql: str, database: str, location: str, fmt: str, partitioned_by: Sequence[str],
                     delimiter: str) -> None:
        """Run a SELECT and write its rows under ``location`` (``k=v`` folders for ``partitioned_by``)."""
        ...


def run_ddl(host: DdlHost, sql: str, database: str) -> DdlResult:
    """Run one DDL statement against ``host``'s catalog (see the module docstring for the statements)."""
    text = strip_statement(sql)
    body = skip_leading_comments(text)
    words = body.split()
    head = " ".join(w.upper() for w in words[:3])
    if head.startswith("SHOW VIEWS"):
        return _show_views(host, body, database)
    if head.startswith("SHOW PARTITIONS"):
        t = _existing(host, _name(words[2:3], body), database)
        return DdlResult(["partition"], [["/".join(f"{k.name}={v}" for k, v in zip(t.partition_keys, p.values,
                                                                                    strict=True))]
                                         for p in sorted(t.partitions, key=lambda p: p.values)], "UTILITY")
    if head.startswith("SHOW CREATE"):
        if len(words) < 4 or words[2].upper() not in ("TABLE", "VIEW"):
            raise AthenaError("SYNTAX_ERROR", "SHOW CREATE needs TABLE or VIEW and a name")
        return _show_create(host, _existing(host, _name(words[3:4], body), database), words[2].upper())
    if head.startswith("MSCK REPAIR TABLE"):
        t = _existing(host, _name(words[3:4], body), database)
        _refuse_view(t, "MSCK REPAIR TABLE")
        _repair(host, t)
        return DdlResult()
    if head.startswith("ALTER TABLE") and len(words) > 3 and words[3].upper() in ("ADD", "DROP") \
            and re.search(r"\bPARTITION\b", body, re.IGNORECASE):
        return _alter_partitions(host, body, words, database)
    view = re.match(r"CREATE\s+(OR\s+REPLACE\s+)?VIEW\s+", body, re.IGNORECASE)
    if view:
        return _create_view(host, body, database, replace=bool(view.group(1)))
    check_nesting(body)
    try:
        tree = sqlglot.parse_one(body, read="athena")
    except (ParseError, TokenError) as exc:
        raise AthenaError("SYNTAX_ERROR", str(exc).splitlines()[0]) from None
    kind = str(tree.args.get("kind") or "").upper()
    if isinstance(tree, exp.Create) and kind in ("DATABASE", "SCHEMA"):
        name = tree.this.name.lower()
        if name in host.catalog.get_databases():
            if tree.args.get("exists"):
                return DdlResult()
            raise AthenaError("ALREADY_EXISTS", f"Schema '{CATALOG_NAME}.{name}' already exists")
        host.catalog.create_database(name)
        return DdlResult()
    if isinstance(tree, exp.Create) and kind == "TABLE" and tree.expression is not None:
        return _ctas(host, body, tree, database)
    if isinstance(tree, exp.Create) and kind == "TABLE" and isinstance(tree.this, exp.Schema):
        return _create_external(host, tree, database)
    if isinstance(tree, exp.Drop) and kind in ("TABLE", "VIEW"):
        table = (tree.args.get("tables") or [tree.this])[0]
        if not isinstance(table, exp.Table):
            raise AthenaError("SYNTAX_ERROR", f"DROP {kind} needs a name")
        db, name = (table.db or database).lower(), table.name.lower()
        found = host.catalog.get_table(db, name)
        if found is None:
            if tree.args.get("exists"):
                return DdlResult()
            what = "View" if kind == "VIEW" else "Table"
            raise AthenaError("TABLE_NOT_FOUND", f"{what} '{CATALOG_NAME}.{db}.{name}' does not exist")
        if (kind == "VIEW") != is_view(found):
            raise AthenaError("NOT_SUPPORTED", f"'{CATALOG_NAME}.{db}.{name}' is "
                              f"{'a view: use DROP VIEW' if is_view(found) else 'a table: use DROP TABLE'}")
        host.catalog.delete_table(db, name)
        return DdlResult()
    raise AthenaError("NOT_SUPPORTED", f"lakebox does not run this DDL statement: {' '.join(words[:4])}")


# --- names ------------------------------------------------------------------------------------------------------


def _name(parts: Sequence[str], body: str) -> str:
    if not parts:
        raise AthenaError("SYNTAX_ERROR", f"a table name is missing in {body[:60]!r}")
    return parts[0].rstrip(";")


def _split(name: str, database: str) -> tuple[str, str]:
    pieces = [p.strip('`"').lower() for p in name.split(".")]
    if len(pieces) == 3 and pieces[0] == CATALOG_NAME:
        pieces = pieces[1:]
    return (pieces[0], pieces[1]) if len(pieces) == 2 else (database.lower(), pieces[-1])


def _existing(host: DdlHost, name: str, database: str) -> TableDef:
    db, table = _split(name, database)
    t = host.catalog.get_table(db, table)
    if t is None:
        raise AthenaError("TABLE_NOT_FOUND", f"Table '{CATALOG_NAME}.{db}.{table}' does not exist")
    return t


def _refuse_view(t: TableDef, what: str) -> None:
    if is_view(t):
        raise AthenaError("NOT_SUPPORTED", f"{what} does not apply to the view '{t.database}.{t.name}'")


def _check_new(host: DdlHost, db: str, name: str, exists_ok: bool) -> bool:
    """True when the table may be created; False when it exists and IF NOT EXISTS was given."""
    if db not in host.catalog.get_databases():
        raise AthenaError("SCHEMA_NOT_FOUND", f"Schema '{CATALOG_NAME}.{db}' does not exist")
    if host.catalog.get_table(db, name) is not None:
        if exists_ok:
            return False
        raise AthenaError("ALREADY_EXISTS", f"Table '{CATALOG_NAME}.{db}.{name}' already exists")
    return True


# --- types ------------------------------------------------------------------------------------------------------

_ATHENA_TO_HIVE = {"varchar": "string", "integer": "int", "timestamp(3)": "timestamp", "real": "float"}


def hive_type(athena: str) -> str:
    """An Athena (Trino) result type as the Hive type Glue stores for a view's or CTAS table's column."""
    t = athena.lower()
    if t.startswith("varchar"):
        return "string"
    return _ATHENA_TO_HIVE.get(t, t)


def _column_type(col: exp.ColumnDef) -> str:
    kind = col.args.get("kind")
    return kind.sql(dialect="hive").lower() if isinstance(kind, exp.DataType) else "string"


# --- CREATE EXTERNAL TABLE -------------------------------------------------------------------------------------


def _create_external(host: DdlHost, tree: exp.Create, database: str) -> DdlResult:
    schema = tree.this
    table = schema.this
    db, name = (table.db or database).lower(), table.name.lower()
    if not _check_new(host, db, name, bool(tree.args.get("exists"))):
        return DdlResult()
    columns = [ColumnDef(c.name.lower(), _column_type(c)) for c in schema.expressions if isinstance(c, exp.ColumnDef)]
    partition_keys: list[ColumnDef] = []
    location, stored_as, serde, delim = "", "", "", ""
    serde_params: dict[str, str] = {}
    params: dict[str, str] = {}
    props = tree.args.get("properties")
    for p in props.expressions if props else []:
        if isinstance(p, exp.PartitionedByProperty) and isinstance(p.this, exp.Schema):
            partition_keys = [ColumnDef(c.name.lower(), _column_type(c)) for c in p.this.expressions
                              if isinstance(c, exp.ColumnDef)]
        elif isinstance(p, exp.LocationProperty):
            location = p.this.name
        elif isinstance(p, exp.FileFormatProperty):
            stored_as = p.this.name.upper()
        elif isinstance(p, exp.RowFormatDelimitedProperty):
            if p.args.get("fields") is not None:
                delim = _unescape(p.args["fields"].name)
        elif isinstance(p, exp.RowFormatSerdeProperty):
            serde = p.this.name
            for sp in (p.args.get("serde_properties") or exp.Properties(expressions=[])).expressions:
                serde_params[sp.name] = _unescape(sp.text("value"))
        elif isinstance(p, exp.Property) and type(p) is exp.Property:
            params[p.name] = p.text("value")
    if not location:
        raise AthenaError("SYNTAX_ERROR", "CREATE EXTERNAL TABLE needs a LOCATION 's3://...'")
    where = host.locate(location)
    fmt, library = _storage(stored_as, serde)
    if library == OPEN_CSV:
        # Hive's OpenCSVSerde reads every column as a string, whatever the DDL declared.
        columns = [ColumnDef(c.name, "string") for c in columns]
        serde_params.setdefault("separatorChar", ",")
        serde_params.setdefault("quoteChar", '"')
        serde_params.setdefault("escapeChar", "\\")
        params["field.delim"] = serde_params["separatorChar"]
    elif library == LAZY_SIMPLE:
        d = delim or serde_params.get("field.delim") or serde_params.get("serialization.format") or "\x01"
        serde_params.setdefault("field.delim", d)
        params["field.delim"] = serde_params["field.delim"]
    for k, v in serde_params.items():
        params[f"lakebox.serde.{k}"] = v
    params[SERDE_PARAM] = library
    params.setdefault("classification", {"parquet": "parquet", "json": "json"}.get(fmt, "csv"))
    params.setdefault("skip.header.line.count", "0")
    params["EXTERNAL"] = "TRUE"
    params["lakebox.source"] = "ddl"
    t = TableDef(database=db, name=name, location=_as_dir(where), format=fmt, columns=columns,
                 partition_keys=partition_keys, parameters=params)
    _relist(host, t, repair=False)
    host.catalog.put_table(t)
    return DdlResult()


def _unescape(value: str) -> str:
    """Hive's escapes in delimiters: ``\\t``, ``\\001`` (octal) and ``\\u0001``."""
    if value == "\\t":
        return "\t"
    m = re.fullmatch(r"\\(?:u([0-9a-fA-F]{4})|([0-7]{1,3}))", value)
    if m:
        return chr(int(m.group(1), 16)) if m.group(1) else chr(int(m.group(2), 8))
    return value


def _storage(stored_as: str, serde: str) -> tuple[str, str]:
    """(lakebox format, SerDe library) of a table's STORED AS and ROW FORMAT SERDE."""
    lib = serde.strip()
    if stored_as == "PARQUET" or "parquet" in lib.lower():
        return "parquet", PARQUET_SERDE
    if lib in JSON_SERDES:
        return "json", lib
    if stored_as in ("ORC", "AVRO", "ION", "RCFILE", "SEQUENCEFILE") or lib and lib not in (LAZY_SIMPLE, OPEN_CSV):
        raise AthenaError("NOT_SUPPORTED", f"lakebox reads TEXTFILE (LazySimpleSerDe, OpenCSVSerDe), JSON and "
                          f"Parquet tables, not {stored_as or lib}")
    return "csv", lib or LAZY_SIMPLE


def _as_dir(location: str) -> str:
    return location if not location or location.endswith("/") else location + "/"


# --- files and partitions -----------------------------------------------------------------------------------


def _relist(host: DdlHost, t: TableDef, *, repair: bool) -> None:
    """The table's files: every data file under its location, or, for a partitioned table, those under its
    partitions' folders. ``repair`` first adds the ``k=v`` folders found (MSCK REPAIR TABLE)."""
    keys = [k for k in host.list_keys(t.location) if is_data_file(k[len(t.location):])]
    if t.format == "parquet":
        keys = [k for k in keys if k.endswith(".parquet") or "." not in k.rsplit("/", 1)[-1]]
    if not t.partition_keys:
        t.files = sorted(keys)
    else:
        if repair:
            have = {p.values for p in t.partitions}
            names = [k.name for k in t.partition_keys]
            for key in keys:
                folders = key[len(t.location):].split("/")[:-1]
                if len(folders) < len(names):
                    continue
                pairs = [f.split("=", 1) for f in folders[:len(names)]]
                if all(len(p) == 2 and p[0].lower() == n for p, n in zip(pairs, names, strict=True)):
                    values = tuple(p[1] for p in pairs)
                    if values not in have:
                        have.add(values)
                        t.partitions.append(PartitionDef(values, t.location + "/".join(folders[:len(names)]) + "/"))
            t.partitions.sort(key=lambda p: p.values)
        t.files = sorted(k for k in keys if any(k.startswith(p.location) for p in t.partitions))
    t.file_count = len(t.files)


def _repair(host: DdlHost, t: TableDef) -> None:
    _relist(host, t, repair=True)
    host.catalog.put_table(t)


_PARTITION = re.compile(r"PARTITION\s*\(([^)]*)\)(?:\s*LOCATION\s*'((?:[^']|'')*)')?", re.IGNORECASE)
_PAIR = re.compile(r"\s*`?\"?(\w+)`?\"?\s*=\s*(?:'((?:[^']|'')*)'|([^,\s]+))\s*")


def _partition_values(t: TableDef, spec: str) -> tuple[str, ...]:
    given: dict[str, str] = {}
    for part in spec.split(","):
        m = _PAIR.fullmatch(part)
        if not m:
            raise AthenaError("SYNTAX_ERROR", f"cannot read the partition spec ({spec})")
        given[m.group(1).lower()] = m.group(2).replace("''", "'") if m.group(2) is not None else m.group(3)
    names = [k.name for k in t.partition_keys]
    if sorted(given) != sorted(names):
        raise AthenaError("INVALID_PARTITION_VALUE" if set(given) <= set(names) else "COLUMN_NOT_FOUND",
                          f"Partition spec ({spec}) must name the partition keys of {t.database}.{t.name}: "
                          f"{', '.join(names)}")
    return tuple(given[n] for n in names)


def _alter_partitions(host: DdlHost, body: str, words: list[str], database: str) -> DdlResult:
    t = _existing(host, words[2], database)
    _refuse_view(t, "ALTER TABLE")
    if not t.partition_keys:
        raise AthenaError("NOT_SUPPORTED", f"Table {t.database}.{t.name} is not partitioned")
    tail = body[body.upper().index(words[3].upper(), len("ALTER TABLE")):]
    if_clause = re.match(r"(ADD|DROP)\s+IF\s+(NOT\s+)?EXISTS\b", tail, re.IGNORECASE)
    specs = list(_PARTITION.finditer(tail))
    if not specs:
        raise AthenaError("SYNTAX_ERROR", "ALTER TABLE ... PARTITION needs (key = 'value', ...)")
    have = {p.values: p for p in t.partitions}
    if words[3].upper() == "ADD":
        for m in specs:
            values = _partition_values(t, m.group(1))
            if values in have:
                if if_clause:
                    continue
                raise AthenaError("ALREADY_EXISTS", f"Partition {values} of {t.database}.{t.name} already exists")
            location = _partition_location(host, t, values, m.group(2))
            have[values] = PartitionDef(values, location)
    else:
        for m in specs:
            if m.group(2):
                raise AthenaError("SYNTAX_ERROR", "DROP PARTITION takes no LOCATION")
            values = _partition_values(t, m.group(1))
            if values not in have:
                if if_clause:
                    continue
                raise AthenaError("PARTITION_NOT_FOUND", f"Partition {values} of {t.database}.{t.name} "
                                  "does not exist")
            del have[values]
    t.partitions = sorted(have.values(), key=lambda p: p.values)
    _relist(host, t, repair=False)
    host.catalog.put_table(t, prune=True)
    return DdlResult()


def _partition_location(host: DdlHost, t: TableDef, values: tuple[str, ...], url: str | None) -> str:
    hive = t.location + "".join(f"{k.name}={v}/" for k, v in zip(t.partition_keys, values, strict=True))
    if url is None:
        return hive
    where = _as_dir(host.locate(url.replace("''", "'")))
    plain = t.location + "".join(f"{v}/" for v in values)
    if where.lower() not in (hive.lower(), plain.lower()):
        raise AthenaError("NOT_SUPPORTED", f"lakebox reads a partition from the folders under its table: "
                          f"LOCATION must be {host.s3_url(hive)} or {host.s3_url(plain)}, not {url}")
    return where


# --- views ------------------------------------------------------------------------------------------------------


def _select_after_as(body: str, what: str) -> tuple[str, int]:
    """The text after the statement's first top-level ``AS`` (the query of a view or CTAS) and its offset."""
    try:
        tokens = sqlglot.tokenize(body, read="athena")
    except TokenError as exc:
        raise AthenaError("SYNTAX_ERROR", str(exc).splitlines()[0]) from None
    depth = 0
    for tok in tokens:
        if tok.token_type == TokenType.L_PAREN:
            depth += 1
        elif tok.token_type == TokenType.R_PAREN:
            depth -= 1
        elif tok.token_type == TokenType.ALIAS and depth == 0:
            return body[tok.end + 1:].strip(), tok.end + 1
    raise AthenaError("SYNTAX_ERROR", f"{what} needs AS followed by a query")


def _create_view(host: DdlHost, body: str, database: str, *, replace: bool) -> DdlResult:
    head = re.match(r"CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+((?:\"[^\"]+\"|`[^`]+`|[\w$]+)"
                    r"(?:\s*\.\s*(?:\"[^\"]+\"|`[^`]+`|[\w$]+)){0,2})\s", body + " ", re.IGNORECASE)
    if not head:
        raise AthenaError("SYNTAX_ERROR", "CREATE VIEW needs a name")
    db, name = _split(re.sub(r"\s+", "", head.group(1)), database)
    query, _ = _select_after_as(body, "CREATE VIEW")
    if db not in host.catalog.get_databases():
        raise AthenaError("SCHEMA_NOT_FOUND", f"Schema '{CATALOG_NAME}.{db}' does not exist")
    old = host.catalog.get_table(db, name)
    if old is not None and not (replace and is_view(old)):
        raise AthenaError("ALREADY_EXISTS", f"{'View' if is_view(old) else 'Table'} "
                          f"'{CATALOG_NAME}.{db}.{name}' already exists")
    columns = host.select_columns(query, db)
    if len({n.lower() for n, _ in columns}) != len(columns):
        raise AthenaError("DUPLICATE_COLUMN_NAME", f"View '{db}.{name}' has duplicate column names: "
                          f"{', '.join(n for n, _ in columns)}")
    t = TableDef(database=db, name=name, location="", format=VIEW_FORMAT,
                 columns=[ColumnDef(n.lower(), hive_type(ty)) for n, ty in columns],
                 parameters=view_parameters(query, db, [(n.lower(), ty) for n, ty in columns]))
    host.catalog.put_table(t)
    return DdlResult()


def _show_views(host: DdlHost, body: str, database: str) -> DdlResult:
    m = re.match(r"SHOW\s+VIEWS(?:\s+(?:IN|FROM)\s+(\S+))?(?:\s+LIKE\s+'([^']*)')?\s*$", body, re.IGNORECASE)
    if not m:
        raise AthenaError("SYNTAX_ERROR", f"cannot read {body!r}: SHOW VIEWS [IN database] [LIKE 'pattern']")
    db = m.group(1).strip('`"').lower() if m.group(1) else database.lower()
    if db not in host.catalog.get_databases():
        raise AthenaError("SCHEMA_NOT_FOUND", f"Schema '{CATALOG_NAME}.{db}' does not exist")
    names = [t.name for t in host.catalog.get_tables(db) if is_view(t)]
    if m.group(2):
        alts = [re.escape(p).replace(r"\*", ".*") for p in m.group(2).split("|")]
        rx = re.compile("^(" + "|".join(alts) + ")$", re.IGNORECASE)
        names = [n for n in names if rx.match(n)]
    return DdlResult(["views"], [[n] for n in sorted(names)], "UTILITY")


def _show_create(host: DdlHost, t: TableDef, what: str) -> DdlResult:
    if is_view(t):
        if what != "VIEW":
            raise AthenaError("NOT_SUPPORTED", f"'{t.database}.{t.name}' is a view: use SHOW CREATE VIEW")
        text = f'CREATE VIEW "{t.database}"."{t.name}" AS\n{view_sql(t)}'
        return DdlResult(["Create View"], [[line] for line in text.splitlines()], "UTILITY")
    if what == "VIEW":
        raise AthenaError("NOT_SUPPORTED", f"'{t.database}.{t.name}' is a table: use SHOW CREATE TABLE")
    return DdlResult(["createtab_stmt"], [[line] for line in show_create_table(host, t)], "UTILITY")


def show_create_table(host: DdlHost, t: TableDef) -> list[str]:
    """Athena's SHOW CREATE TABLE text for a table, line by line (the Hive form)."""
    def cols(cs: Iterable[ColumnDef]) -> list[str]:
        items = [f"  `{c.name}` {c.type}" for c in cs]
        return [line + ("," if i < len(items) - 1 else "") for i, line in enumerate(items)]

    out = [f"CREATE EXTERNAL TABLE `{t.database}`.`{t.name}`("]
    body = cols(t.columns)
    out += body[:-1] + [body[-1] + ")"] if body else [")"]
    if t.partition_keys:
        out += ["PARTITIONED BY ( "] + cols(t.partition_keys)
        out[-1] += ")"
    lib = t.parameters.get(SERDE_PARAM) or (PARQUET_SERDE if t.format == "parquet" else LAZY_SIMPLE)
    serde = {k[len(SERDE_PARAM) + 1:]: v for k, v in t.parameters.items() if k.startswith(SERDE_PARAM + ".")}
    if lib == LAZY_SIMPLE and not serde:
        serde = {"field.delim": str(t.parameters.get("field.delim", ","))}
    out += ["ROW FORMAT SERDE ", f"  '{lib}' "]
    if serde:
        out += ["WITH SERDEPROPERTIES ( "]
        items = [f"  '{k}'={_quoted(v)}" for k, v in sorted(serde.items())]
        out += [line + ("," if i < len(items) - 1 else ") ") for i, line in enumerate(items)]
    fin, fout = _INPUT_FORMATS["parquet" if t.format == "parquet" else "text"]
    out += ["STORED AS INPUTFORMAT ", f"  '{fin}' ", "OUTPUTFORMAT ", f"  '{fout}'",
            "LOCATION", f"  '{host.s3_url(t.location)}'"]
    props = {k: str(v) for k, v in t.parameters.items()
             if not k.startswith("lakebox.") and k not in ("field.delim", "EXTERNAL")}
    if props:
        out += ["TBLPROPERTIES ("]
        items = [f"  {_quoted(k)}={_quoted(v)}" for k, v in sorted(props.items())]
        out += [line + ("," if i < len(items) - 1 else ")") for i, line in enumerate(items)]
    return out


def _quoted(value: str) -> str:
    shown = value.encode("unicode_escape").decode("ascii") if not value.isprintable() else value
    return "'" + shown.replace("\\", "\\\\").replace("'", "\\'") + "'"


# --- CTAS -------------------------------------------------------------------------------------------------------

_CTAS_PROPERTIES = ("format", "external_location", "partitioned_by", "field_delimiter", "write_compression",
                    "parquet_compression")


def _ctas(host: DdlHost, body: str, tree: exp.Create, database: str) -> DdlResult:
    table = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    if not isinstance(table, exp.Table):
        raise AthenaError("SYNTAX_ERROR", "CREATE TABLE AS needs a table name")
    db, name = (table.db or database).lower(), table.name.lower()
    query, _ = _select_after_as(body, "CREATE TABLE AS")
    with_data = True
    no_data = re.search(r"\)?\s*WITH\s+(NO\s+)?DATA\s*;?\s*$", query, re.IGNORECASE)
    if no_data and not re.search(r"\bSELECT\b.*\bWITH\s+(NO\s+)?DATA\s*;?\s*$", query[:no_data.start()],
                                 re.IGNORECASE):
        with_data = not no_data.group(1)
        query = query[:no_data.start()].strip()
    if query.startswith("(") and query.endswith(")"):
        query = query[1:-1].strip()
    props, partitioned = _ctas_properties(tree)
    fmt = props.get("format", "PARQUET").upper()
    if fmt not in ("PARQUET", "TEXTFILE"):
        raise AthenaError("NOT_SUPPORTED", f"lakebox writes CTAS tables as PARQUET or TEXTFILE, not {fmt}")
    partitioned_by = [p.lower() for p in partitioned]
    if not _check_new(host, db, name, bool(tree.args.get("exists"))):
        return DdlResult()
    columns = host.select_columns(query, db)
    names = [n.lower() for n, _ in columns]
    if len(set(names)) != len(names):
        raise AthenaError("DUPLICATE_COLUMN_NAME", f"Column names must be unique: {', '.join(names)}")
    if any(n.startswith("_col") for n in names):
        raise AthenaError("INVALID_TABLE_PROPERTY", "Column name not specified: every CTAS column needs a name "
                          f"({', '.join(names)})")
    if partitioned_by and names[len(names) - len(partitioned_by):] != partitioned_by:
        raise AthenaError("HIVE_COLUMN_ORDER_MISMATCH", "Partition keys must be the last columns in the table "
                          "and in the same order as the table properties: " + ", ".join(partitioned_by))
    url = props.get("external_location")
    location = _as_dir(host.locate(url)) if url else f"enriched/tables/{uuid.uuid4()}/"
    if any(is_data_file(k[len(location):]) for k in host.list_keys(location)):
        raise AthenaError("HIVE_PATH_ALREADY_EXISTS", f"Target directory for table '{db}.{name}' already "
                          f"exists: {host.s3_url(location)}")
    delimiter = _unescape(props.get("field_delimiter", "\x01"))
    if with_data:
        host.write_select(query, db, location, "parquet" if fmt == "PARQUET" else "csv", partitioned_by, delimiter)
    keys = [ColumnDef(n, hive_type(ty)) for n, ty in columns if n.lower() in partitioned_by]
    keys.sort(key=lambda c: partitioned_by.index(c.name))
    params = {"classification": "parquet" if fmt == "PARQUET" else "csv", "has_encrypted_data": "false",
              "EXTERNAL": "TRUE", "lakebox.source": "ddl", "skip.header.line.count": "0"}
    if fmt == "TEXTFILE":
        params |= {"field.delim": delimiter, SERDE_PARAM: LAZY_SIMPLE, f"{SERDE_PARAM}.field.delim": delimiter}
    t = TableDef(database=db, name=name, location=location, format="parquet" if fmt == "PARQUET" else "csv",
                 columns=[ColumnDef(n.lower(), hive_type(ty)) for n, ty in columns if n.lower() not in partitioned_by],
                 partition_keys=keys, parameters=params)
    _relist(host, t, repair=True)
    host.catalog.put_table(t)
    return DdlResult()


def _ctas_properties(tree: exp.Create) -> tuple[dict[str, str], list[str]]:
    """The WITH (...) properties of a CTAS, and its partitioned_by columns."""
    out: dict[str, str] = {}
    partitioned: list[str] = []
    props = tree.args.get("properties")
    for p in props.expressions if props else []:
        if isinstance(p, exp.FileFormatProperty):
            out["format"] = p.this.name
        elif isinstance(p, exp.PartitionedByProperty):
            values = p.this.expressions if isinstance(p.this, (exp.Array, exp.Schema, exp.Tuple)) else [p.this]
            partitioned = [v.name for v in values]
        elif isinstance(p, exp.Property) and type(p) is exp.Property:
            key = p.name.lower()
            if key not in _CTAS_PROPERTIES:
                raise AthenaError("INVALID_TABLE_PROPERTY", f"Catalog 'awsdatacatalog' table property '{key}' "
                                  "does not exist")
            out[key] = p.text("value")
        elif isinstance(p, exp.LocationProperty):
            out["external_location"] = p.this.name
    return out, partitioned

"""The Athena DDL people run on this pipeline, applied to the catalog: ``CREATE DATABASE``, ``CREATE EXTERNAL
TABLE``, ``DROP TABLE`` and ``MSCK REPAIR TABLE``.

Statements are parsed with sqlglot's Athena dialect and turned into the Glue ``TableInput`` that Athena
itself would write, so a table made by DDL looks the same through Glue's API as one made by CreateTable.
Other DDL (ALTER TABLE, CTAS, views, DROP DATABASE) is refused with Athena's NOT_SUPPORTED error, naming the
statement; SELECTs go to the engine.
"""

from __future__ import annotations

from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from lakebox.endpoint.backend import Backend, KeyRefused, QueryOutcome

_PARQUET = {"InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}}
_TEXT = {"InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
         "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"}


def is_ddl(sql: str) -> bool:
    head = sql.lstrip().split(None, 2)
    return bool(head) and head[0].upper() in ("CREATE", "DROP", "MSCK", "ALTER")


def _failed(code: str, message: str) -> QueryOutcome:
    return QueryOutcome("FAILED", [], [], {}, code, f"{code}: {message}", statement_type="DDL")


def _ok() -> QueryOutcome:
    return QueryOutcome("SUCCEEDED", [], [], {}, statement_type="DDL")


def run_ddl(backend: Backend, sql: str, database: str) -> QueryOutcome:
    """Apply one DDL statement to the catalog."""
    words = sql.split()
    if len(words) >= 4 and [w.upper() for w in words[:3]] == ["MSCK", "REPAIR", "TABLE"]:
        db, _, name = words[3].strip('`";').rpartition(".")
        t = backend.table(db or database, name)
        if t is None:
            return _failed("TABLE_NOT_FOUND", f"Table {db or database}.{name} does not exist")
        backend.refresh_files(t)
        backend.put_table(t)
        return _ok()
    try:
        tree = sqlglot.parse_one(sql, read="athena")
    except ParseError as exc:
        return _failed("SYNTAX_ERROR", str(exc).splitlines()[0])
    if isinstance(tree, exp.Create) and str(tree.args.get("kind", "")).upper() in ("DATABASE", "SCHEMA"):
        name = tree.this.name.lower()
        if name in backend.databases():
            return _ok() if tree.args.get("exists") else _failed("ALREADY_EXISTS", f"Database {name} already exists")
        backend.create_database(name)
        return _ok()
    if isinstance(tree, exp.Create) and str(tree.args.get("kind", "")).upper() == "TABLE" \
            and isinstance(tree.this, exp.Schema) and not tree.expression:
        return _create_table(backend, tree, database)
    if isinstance(tree, exp.Drop) and str(tree.args.get("kind", "")).upper() == "TABLE":
        table = (tree.args.get("tables") or [tree.this])[0]
        if not isinstance(table, exp.Table):
            return _failed("SYNTAX_ERROR", "DROP TABLE needs a table name")
        db = (table.db or database).lower()
        if backend.table(db, table.name) is None:
            return _ok() if tree.args.get("exists") else _failed("TABLE_NOT_FOUND", f"Table {db}.{table.name} "
                                                                 "does not exist")
        backend.delete_table(db, table.name)
        return _ok()
    return _failed("NOT_SUPPORTED", f"lakebox's Athena does not run this DDL statement: {' '.join(words[:3])}")


def _type(col: exp.ColumnDef) -> str:
    kind = col.args.get("kind")
    return kind.sql(dialect="hive").lower() if isinstance(kind, exp.DataType) else "string"


def _create_table(backend: Backend, tree: exp.Create, database: str) -> QueryOutcome:
    schema = tree.this
    table = schema.this
    db = (table.db or database).lower()
    name = table.name.lower()
    if db not in backend.databases():
        return _failed("SCHEMA_NOT_FOUND", f"Schema {db} does not exist")
    if backend.table(db, name) is not None:
        return _ok() if tree.args.get("exists") else _failed("ALREADY_EXISTS", f"Table {db}.{name} already exists")
    props = tree.args.get("properties")
    columns = [{"Name": c.name.lower(), "Type": _type(c)} for c in schema.expressions if isinstance(c, exp.ColumnDef)]
    partitions: list[dict[str, str]] = []
    location, fmt, delim, serde, params = "", "TEXTFILE", ",", "", {}
    serde_params: dict[str, str] = {}
    for p in props.expressions if props else []:
        if isinstance(p, exp.PartitionedByProperty) and isinstance(p.this, exp.Schema):
            partitions = [{"Name": c.name.lower(), "Type": _type(c)} for c in p.this.expressions
                          if isinstance(c, exp.ColumnDef)]
        elif isinstance(p, exp.LocationProperty):
            location = p.this.name
        elif isinstance(p, exp.FileFormatProperty):
            fmt = p.this.name.upper()
        elif isinstance(p, exp.RowFormatDelimitedProperty) and p.args.get("fields") is not None:
            delim = p.args["fields"].name
        elif isinstance(p, exp.RowFormatSerdeProperty):
            serde = p.this.name
            for sp in (p.args.get("serde_properties") or exp.Properties(expressions=[])).expressions:
                serde_params[sp.name] = sp.text("value")
        elif isinstance(p, exp.Property) and type(p) is exp.Property:
            params[p.name] = p.text("value")
    try:
        backend.catalog_location(location)
    except KeyError:
        return _failed("INVALID_TABLE_PROPERTY", f"The bucket of {location} does not exist on this endpoint")
    except KeyRefused as exc:
        return _failed("INVALID_TABLE_PROPERTY", str(exc))
    parquet = fmt == "PARQUET" or "parquet" in serde.lower()
    storage: dict[str, Any] = dict(_PARQUET if parquet else _TEXT)
    if not parquet:
        storage["SerdeInfo"] = {"SerializationLibrary": serde or "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                                "Parameters": serde_params or {"field.delim": delim}}
    params.setdefault("classification", "parquet" if parquet else "csv")
    table_input = {"Name": name, "TableType": "EXTERNAL_TABLE", "Parameters": params, "PartitionKeys": partitions,
                   "StorageDescriptor": {"Columns": columns, "Location": location, **storage}}
    backend.put_table(backend.table_from_input(db, table_input))
    return _ok()

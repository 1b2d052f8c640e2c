"""Athena (Trino) SQL in, DuckDB SQL out: the read-only guard, name resolution and translation. Pure.

The steps, in order:

1. size and statement checks (Athena's 262,144-byte limit; exactly one statement; a trailing ``;`` is fine;
   nesting at most ``syntax.MAX_NESTING`` deep, checked before parsing);
2. classification: SELECT / WITH / VALUES run as queries; SHOW, DESCRIBE and EXPLAIN are answered from the
   catalog; everything else (INSERT, COPY, ATTACH, SET, INSTALL, ...) is refused;
3. name resolution (``query.relations``): CTEs get internal names by Trino's scoping; every other table
   reference is resolved case-insensitively through the catalog, as ``table``, ``db.table`` or
   ``"AwsDataCatalog".db.table``, with the default database from the query context (Athena's
   ``QueryExecutionContext.Database``), and rewritten to its fully qualified lakebox view; anything else,
   and table functions such as ``read_csv``, are refused;
4. implied date ranges (``query.pruning``): a WHERE conjunct on a function of a date column, such as
   ``date_format(d, '%Y-%m') = '2025-02'``, also gets the range of ``d`` it implies, so that DuckDB skips
   the row groups and files outside it; then Trino semantics on DuckDB: ``query.trino.rewrite`` fixes
   functions and operators that differ;
5. a last check that every relation is a lakebox view, an internal CTE, a subquery, VALUES or UNNEST, then
   generation of DuckDB SQL by sqlglot.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from lakebox.query import pruning, relations, trino, trino_allow, trino_checks
from lakebox.query.errors import AthenaError, at, position_of
from lakebox.query.statement import CATALOG_NAME, MAX_QUERY_BYTES, VIEW_DATABASE, Translation
from lakebox.query.syntax import (
    check_nesting,
    check_select_lists,
    check_statement_start,
    syntax_error,
    table_hint,
)
from lakebox.query.trino import AthenaTrino
from lakebox.query.trino_types import catalog_columns, column_types, trino_type

#: Resolves (database or None, table) to (database, table) in the catalog, or None when unknown.
Resolver = Callable[[str | None, str], tuple[str, str] | None]
#: The catalog's columns: {(database, table): [(column, hive type), ...]}, partition keys last.
CatalogColumns = Mapping[tuple[str, str], Sequence[tuple[str, str]]]

_SHOW = re.compile(r"^\s*(SHOW|DESCRIBE|DESC|EXPLAIN)\b", re.IGNORECASE)
_FORBIDDEN_WORDS = re.compile(
    r"^\s*(COPY|ATTACH|DETACH|INSTALL|LOAD|FORCE|SET|RESET|PRAGMA|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|CALL|"
    r"EXPORT|IMPORT|USE|VACUUM|CHECKPOINT|MERGE|TRUNCATE|GRANT|REVOKE|MSCK|UNLOAD|PREPARE|EXECUTE|DEALLOCATE|"
    r"BEGIN|COMMIT|ROLLBACK|START|ANALYZE|REFRESH|UPDATE_EXTENSIONS|SUMMARIZE|PIVOT|UNPIVOT|FROM)\b",
    re.IGNORECASE,
)
_LEADING_COMMENTS = re.compile(r"^(\s+|--[^\n]*(\n|$)|/\*.*?\*/)*", re.DOTALL)
#: DuckDB functions that read files, run SQL strings or expose the engine. Trino has none of them, so a
#: query naming one is refused before DuckDB sees it (the sandbox in query.engine is the second wall).
_SOURCE_FUNCTIONS = frozenset({
    "query", "query_table", "read_text", "read_blob", "read_csv", "read_csv_auto", "read_parquet",
    "parquet_scan", "read_json", "read_json_auto", "read_json_objects", "read_json_objects_auto", "read_ndjson",
    "read_ndjson_auto", "read_ndjson_objects", "glob", "sniff_csv", "repeat_row",
    "summary", "getenv", "which_secret", "test_all_types", "test_vector_types", "checkpoint", "force_checkpoint",
    "json_each", "json_tree", "delta_scan", "arrow_scan", "arrow_scan_dumb", "seq_scan", "index_scan",
    "current_setting", "icu_calendar_names", "pg_timezone_names", "getvariable",
})
_SOURCE_PREFIXES = ("duckdb_", "pragma_", "read_", "parquet_", "iceberg_", "sqlite_", "postgres_", "mysql_",
                    "arrow_", "delta_")
# sqlglot names some of these without underscores (read_csv is exp.ReadCSV, "READCSV").
_SOURCE_SQUASHED = {n.replace("_", ""): n for n in _SOURCE_FUNCTIONS}
_PREFIXES_SQUASHED = tuple(p.replace("_", "") for p in _SOURCE_PREFIXES)


def strip_statement(sql: str) -> str:
    """Drop surrounding whitespace and trailing semicolons; refuse oversized or empty text."""
    if len(sql.encode("utf-8")) > MAX_QUERY_BYTES:
        raise AthenaError(
            "INVALID_INPUT",
            f"Query string is {len(sql.encode('utf-8'))} bytes; Athena's limit is {MAX_QUERY_BYTES} bytes",
        )
    text = sql.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    if not text:
        raise AthenaError("SYNTAX_ERROR", "line 1:1: empty query")
    return text


#: Trino syntax sqlglot cannot parse: a query using it is refused as unsupported, not as a syntax error.
_UNSUPPORTED_SYNTAX = re.compile(r"\b(json_array|json_object|json_query|json_value|json_exists|json_table)\s*\(",
                                 re.IGNORECASE)


def parse_one(sql: str) -> exp.Expr:
    """Parse exactly one Athena statement, with Athena-style SYNTAX_ERROR messages."""
    if "\u201c" in sql or "\u201d" in sql or "\u2018" in sql or "\u2019" in sql:
        line, col = _position_of(sql, next(ch for ch in sql if ch in "\u201c\u201d\u2018\u2019"))
        raise AthenaError(
            "SYNTAX_ERROR",
            f"line {line}:{col}: mismatched input: curly quote; use straight quotes (' for strings, \" for names)",
            line=line,
            column=col,
        )
    check_statement_start(sql)
    check_nesting(sql)
    try:
        statements = [s for s in AthenaTrino().parse(sql) if s is not None]
    except (ParseError, TokenError) as exc:
        clause = _UNSUPPORTED_SYNTAX.search(sql)
        if clause:
            raise AthenaError("NOT_SUPPORTED", f"{clause.group(1).lower()}(...) with its SQL/JSON clauses is not "
                              "supported by lakebox (see docs/functions.md)") from None
        raise syntax_error(sql, exc) from None
    if len(statements) != 1:
        raise AthenaError("SYNTAX_ERROR", "Only one SQL statement is allowed per query")
    check_select_lists(statements[0], sql)
    return statements[0]


def _position_of(sql: str, ch: str) -> tuple[int, int]:
    idx = sql.index(ch)
    line = sql.count("\n", 0, idx) + 1
    col = idx - (sql.rfind("\n", 0, idx) + 1) + 1
    return line, col


_ALLOWED_ROOTS = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Values, exp.Subquery)
_FORBIDDEN_NODES = (exp.Insert, exp.Delete, exp.Update, exp.Create, exp.Drop, exp.Alter, exp.Copy, exp.Set,
                    exp.Command, exp.Merge, exp.TruncateTable, exp.Attach, exp.Detach, exp.Use, exp.Pragma)


def check_read_only(tree: exp.Expr) -> None:
    """Only queries run: refuse anything that writes, configures or loads, anywhere in the tree."""
    if not isinstance(tree, _ALLOWED_ROOTS):
        word = tree.key.upper() if tree.key else type(tree).__name__.upper()
        if isinstance(tree, exp.Command):
            word = str(tree.this).upper()
        raise AthenaError(
            "NOT_SUPPORTED",
            f"{word} is not allowed: lakebox runs read-only queries (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN)",
        )
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise AthenaError("NOT_SUPPORTED", f"{node.key.upper()} is not allowed inside a query")


def check_sources(tree: exp.Expr) -> None:
    """Refuse every way of naming a DuckDB table or system function: in FROM, after LATERAL, or anywhere as a
    call. Only catalog tables, CTEs, subqueries, VALUES and UNNEST are rows a query may read."""
    for node in tree.walk():
        if isinstance(node, exp.Lateral) and not isinstance(node.this, exp.Unnest | exp.Explode | exp.Subquery):
            inner = node.this
            name = (inner.name if isinstance(inner, exp.Anonymous) else getattr(inner, "key", "lateral")).lower()
            name = _SOURCE_SQUASHED.get(name.replace("_", ""), name)
            raise AthenaError("FUNCTION_NOT_FOUND", f"Table function '{name}' is not registered")
        if isinstance(node, exp.Func) and not isinstance(node.parent, exp.Table):  # FROM f(): resolve_tables
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            squashed = name.replace("_", "")
            if name in _SOURCE_FUNCTIONS or name.startswith(_SOURCE_PREFIXES) or squashed in _SOURCE_SQUASHED \
                    or squashed.startswith(_PREFIXES_SQUASHED):
                shown = _SOURCE_SQUASHED.get(squashed, name)
                raise AthenaError("FUNCTION_NOT_FOUND", f"Function '{shown}' not registered")


def resolve_tables(tree: exp.Expr, resolver: Resolver, default_db: str, sql: str = "",
                   known: CatalogColumns | None = None) -> list[tuple[str, str]]:
    """Point every relation name at what it means (see :mod:`lakebox.query.relations`): a CTE's internal
    name, or a catalog table's view ``"lakebox_views"."db"."table"``; return the catalog tables used.

    A name that is neither fails as TABLE_NOT_FOUND, whatever DuckDB would have made of it (its own
    catalogs, a file path). With the catalog's tables (``known``), an unknown table's error ends with the
    nearest table name (or, for an empty catalog, how to load one); Athena's message stops at "does not
    exist"."""
    ctes = relations.rename_ctes(tree)
    used: list[tuple[str, str]] = []
    for table in list(tree.find_all(exp.Table)):
        if id(table) in ctes:
            continue
        if isinstance(table.this, exp.Func) or isinstance(table.this, exp.Anonymous):
            fname = table.this.name if isinstance(table.this, exp.Anonymous) else table.this.sql_name()
            raise AthenaError("FUNCTION_NOT_FOUND", f"Table function '{fname.lower()}' is not registered")
        if not isinstance(table.this, exp.Identifier):
            raise AthenaError("NOT_SUPPORTED", f"unsupported table reference {table.sql('athena')[:200]}")
        name = table.name
        db = table.db or None
        catalog = table.catalog or None
        if catalog is not None and catalog.lower() != CATALOG_NAME:
            raise AthenaError("CATALOG_NOT_FOUND", f"Catalog '{catalog}' does not exist")
        if name.lower().startswith(("read_", "glob")) and not db:
            raise AthenaError("FUNCTION_NOT_FOUND", f"Table function '{name}' is not registered")
        found = resolver(db, name) if db else resolver(default_db, name)
        if found is None:
            target = f"{(db or default_db).lower()}.{name.lower()}"
            line, col = position_of(table, sql)
            message = f"Table '{CATALOG_NAME}.{target}' does not exist" + table_hint(name, known)
            raise AthenaError("TABLE_NOT_FOUND", at(message, line, col), line=line, column=col)
        rdb, rname = found
        # Rewritten in place, so TABLESAMPLE, column aliases and the rest of the reference stay as written.
        table.set("this", exp.to_identifier(rname, quoted=True))
        table.set("db", exp.to_identifier(rdb, quoted=True))
        table.set("catalog", exp.to_identifier(VIEW_DATABASE, quoted=True))
        if not table.args.get("alias"):
            # Keep column references like orders_processed.x working by aliasing to the written name.
            table.set("alias", exp.TableAlias(this=exp.to_identifier(name, quoted=True)))
        used.append((rdb, rname))
    return used


def output_names(tree: exp.Expr) -> list[str]:
    """Column names as written in the SELECT list (Athena keeps their spelling in the result header)."""
    select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    if select is None:
        return []
    names: list[str] = []
    for i, e in enumerate(select.expressions):
        if isinstance(e, exp.Alias):
            names.append(e.alias)
        elif isinstance(e, exp.Column):
            names.append(e.name)
        elif isinstance(e, exp.Star):
            return []
        else:
            names.append(f"_col{i}")
    return names


def check_statement(sql: str, database: str) -> None:
    """The read-only guard and the syntax check alone, without the catalog (every table name resolves), as
    both engines apply it before a query is started."""
    translate(sql, lambda db, name: ((db or database).lower(), name.lower()), database)


def translate(sql: str, resolver: Resolver, default_db: str,
              catalog: CatalogColumns | None = None) -> Translation:
    """Translate one Athena statement for DuckDB (see the module docstring for the steps).

    ``catalog`` gives the columns of the catalog's tables; with it, ``information_schema`` can be queried,
    ``GROUP BY`` aliases and string/number mix-ups are refused as Athena refuses them, and decimal
    ``avg``/``round`` keep Trino's types. Without it those checks are skipped.

    Nesting deeper than ``syntax.MAX_NESTING`` is refused before parsing; a statement that still exhausts
    Python's recursion (a chain of thousands of operators, which needs no parentheses) is refused as well,
    where Trino would fail with a stack overflow.
    """
    try:
        return _translate(sql, resolver, default_db, catalog)
    except RecursionError:
        raise AthenaError("SYNTAX_ERROR", "statement is too large to analyse (too deeply nested); split it "
                          "into WITH queries") from None


def _translate(sql: str, resolver: Resolver, default_db: str, catalog: CatalogColumns | None) -> Translation:
    # Leading whitespace is kept, so that error positions count lines and columns in the statement as sent.
    text = sql[:len(sql) - len(sql.lstrip())] + strip_statement(sql)
    body = _LEADING_COMMENTS.sub("", text, count=1)
    bad = _FORBIDDEN_WORDS.match(body)
    if bad:
        raise AthenaError(
            "NOT_SUPPORTED",
            f"{bad.group(1).upper()} is not allowed: lakebox runs read-only queries (SELECT, WITH, VALUES, SHOW, "
            "DESCRIBE, EXPLAIN)",
        )
    fn = re.search(r"\b(glob)\s*\(", body, re.IGNORECASE)
    if fn:
        raise AthenaError("FUNCTION_NOT_FOUND", f"Function '{fn.group(1).lower()}' not registered")
    m = _SHOW.match(body)
    if m:
        word = m.group(1).upper()
        if word in ("DESCRIBE", "DESC"):
            return Translation("describe", body, source=text)
        if word == "SHOW":
            return Translation("show", body, source=text)
        inner = body[m.end():].strip()
        inner = re.sub(r"^\((?:[^()]*)\)\s*", "", inner)  # EXPLAIN (TYPE ...) options
        sub = _translate(inner, resolver, default_db, catalog)
        if sub.kind != "select":
            raise AthenaError("NOT_SUPPORTED", "EXPLAIN works on queries only")
        return Translation("explain", "EXPLAIN " + sub.sql, sub.tables, source=text)
    tree = parse_one(text)
    check_read_only(tree)
    check_sources(tree)
    names = output_names(tree)
    schema: CatalogColumns = catalog or {}
    replace_information_schema(tree, schema)
    tables = resolve_tables(tree, resolver, default_db, text, catalog)
    typed_schema = {k: dict(v) for k, v in schema.items()}
    columns = column_types(tree, typed_schema, tables)
    # Names and functions first, the first problem in Trino's order of analysis (WHERE before the select
    # list, arguments before their call), then types.
    problems = trino_checks.column_problems(tree, text, catalog_columns(typed_schema, tables))
    problems += trino_allow.problems(text)
    if problems:
        raise min(problems, key=lambda p: p[0])[1]
    trino_checks.check_group_by_aliases(tree, text, schema)
    trino_checks.check_operand_types(tree, text, columns)
    bound = row_bound(tree)
    # Before the rewrite, which turns date_format and the rest into DuckDB calls the ranges are read from.
    pruning.add_implied_ranges(tree, columns)
    tree = trino.rewrite(tree, text, columns)
    relations.check_relations(tree)
    try:
        duck = tree.sql(dialect="duckdb")
    except (ValueError, sqlglot.errors.UnsupportedError) as exc:
        raise AthenaError("NOT_SUPPORTED", str(exc)) from None
    return Translation("select", duck, tables, names, source=text, row_bound=bound)


def row_bound(tree: exp.Expr) -> int | None:
    """At most how many rows the query returns, when its top level says so: a literal LIMIT (or FETCH
    FIRST), or one row for a SELECT without FROM or GROUP BY whose every column is an aggregate. None when
    it does not say (the engine then plans for any number of rows)."""
    if not isinstance(tree, exp.Select):
        return None
    limit = tree.args.get("limit")
    count = limit.expression if isinstance(limit, exp.Limit) else limit.args.get("count") if isinstance(
        limit, exp.Fetch) else None
    if isinstance(count, exp.Literal) and count.is_int:
        return int(count.this)
    if tree.args.get("group") is not None:
        return None
    source = tree.args.get("from_") or tree.args.get("from")  # sqlglot renamed it
    if source is None and not tree.args.get("joins"):
        return 1
    if tree.expressions and all(isinstance(e.unalias(), exp.AggFunc) for e in tree.expressions):
        return 1
    return None


# --- information_schema, answered from the catalog -----------------------------------------------------------

_INFO_COLUMNS = {
    "schemata": ("catalog_name", "schema_name"),
    "tables": ("table_catalog", "table_schema", "table_name", "table_type"),
    "columns": ("table_catalog", "table_schema", "table_name", "column_name", "ordinal_position", "column_default",
                "is_nullable", "data_type", "comment", "extra_info"),
}


def _info_rows(view: str, schema: CatalogColumns) -> list[tuple[object, ...]]:
    if view == "schemata":
        dbs = sorted({db for db, _ in schema} | {"information_schema"})
        return [(CATALOG_NAME, db) for db in dbs]
    if view == "tables":
        return [(CATALOG_NAME, db, t, "BASE TABLE") for db, t in sorted(schema)]
    rows: list[tuple[object, ...]] = []
    for (db, t), cols in sorted(schema.items()):
        for i, (c, typ) in enumerate(cols, start=1):
            rows.append((CATALOG_NAME, db, t, c, i, None, "YES", trino_type(typ), None, None))
    return rows


def replace_information_schema(tree: exp.Expr, schema: CatalogColumns) -> None:
    """Replace ``information_schema.{schemata,tables,columns}`` with the catalog's rows, as Athena lists them
    (Trino type names in ``data_type``; ``awsdatacatalog`` as the catalog)."""
    for table in list(tree.find_all(exp.Table)):
        if table.db.lower() != "information_schema":
            continue
        if table.catalog and table.catalog.lower() != CATALOG_NAME:
            raise AthenaError("CATALOG_NOT_FOUND", f"Catalog '{table.catalog}' does not exist")
        view = table.name.lower()
        if view not in _INFO_COLUMNS:
            raise AthenaError("TABLE_NOT_FOUND", f"Table '{CATALOG_NAME}.information_schema.{view}' does not exist")
        cols = _INFO_COLUMNS[view]
        rows = _info_rows(view, schema)

        def lit(v: object) -> str:
            if v is None:
                return "CAST(NULL AS VARCHAR)"
            return str(v) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'"

        if rows:
            body = "VALUES " + ", ".join("(" + ", ".join(lit(v) for v in r) + ")" for r in rows)
            inner = f"SELECT * FROM ({body}) AS v({', '.join(cols)})"
        else:
            inner = "SELECT " + ", ".join(f"CAST(NULL AS VARCHAR) AS {c}" for c in cols) + " WHERE FALSE"
        sub = exp.Subquery(this=sqlglot.parse_one(inner, read="trino"),
                           alias=exp.TableAlias(this=exp.to_identifier(table.alias or view)))
        table.replace(sub)

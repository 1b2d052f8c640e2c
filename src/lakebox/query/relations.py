"""Which relation every name in a query means, decided here and never left to DuckDB. Pure.

DuckDB resolves a bare relation name through its CTEs, then its catalogs (``pg_catalog``, ``duckdb_*``,
``information_schema``, ``main``, ``temp``, ``system``), then replacement scans (a name that looks like a file
is read as that file). Its CTE scoping is also not Trino's: a CTE's name is visible inside its own body and in
earlier siblings. A guard that tried to predict DuckDB's resolution could be bypassed by any difference
(``WITH pg_settings AS (SELECT * FROM pg_settings) ...`` read DuckDB's settings). So the translated SQL
carries no name for DuckDB to resolve:

* every CTE is renamed to a unique internal name (``__lakebox_cte_N``), and each reference to it is renamed,
  following Trino's scoping: a WITH query sees the earlier queries of its own WITH and those of enclosing
  WITHs (the nearest one wins), the main query sees them all; under ``WITH RECURSIVE`` a query also sees
  itself. A name in a WITH query's body that names no visible CTE is a table, as on Trino;
* every other relation is a catalog table (or view), rewritten to the fully qualified
  ``"lakebox_views"."<db>"."<table>"``: the DuckDB database the engine attaches, which holds nothing but
  the views lakebox creates, one per catalog table. Anything else fails as TABLE_NOT_FOUND first
  (``dialect.resolve_tables``);
* finally every relation a FROM or JOIN reads must be one of those two, a subquery, VALUES or UNNEST
  (:func:`check_relations`); table functions and string-literal "paths" never reach DuckDB.

Whatever DuckDB's own rules, a reference it binds can then only be a lakebox view or a CTE whose body
passed the same checks.
"""

from __future__ import annotations

from sqlglot import exp

from lakebox.query.errors import AthenaError
from lakebox.query.statement import VIEW_DATABASE

#: The prefix of the internal CTE names; user SQL cannot name them (a bare name is a CTE or a catalog table).
CTE_PREFIX = "__lakebox_cte_"


def _with_of(node: exp.Expr) -> exp.With | None:
    # sqlglot keeps the WITH clause under "with_" (older releases: "with").
    with_ = node.args.get("with_") or node.args.get("with")
    return with_ if isinstance(with_, exp.With) else None


def _visible_cte(table: exp.Table, positions: dict[int, dict[str, int]]) -> exp.CTE | None:
    """The CTE a bare table name refers to under Trino's scoping, or None (then it names a table).

    Walks up from the reference without recursion: entering a WITH through one of its queries makes the
    earlier queries visible (and that query itself under RECURSIVE); reaching a query's WITH from its body
    makes all of them visible. The innermost match wins. ``positions`` maps each WITH to its names' indexes."""
    wanted = table.name.lower()
    child: exp.Expr = table
    node = table.parent
    while node is not None:
        if isinstance(node, exp.With) and isinstance(child, exp.CTE):
            at = positions[id(node)].get(wanted)
            # The index of the query the reference sits in: child's own, found by its name.
            own = positions[id(node)][child.alias_or_name.lower()]
            if at is not None and (at < own or (at == own and node.args.get("recursive"))):
                return node.expressions[at]
        else:
            with_ = _with_of(node)
            if with_ is not None and child is not with_:
                at = positions[id(with_)].get(wanted)
                if at is not None:
                    return with_.expressions[at]
        child, node = node, node.parent
    return None


def rename_ctes(tree: exp.Expr) -> set[int]:
    """Give every CTE a unique internal name and point each reference at the CTE it means (see the module
    docstring); return the ids of the rewritten references, which the catalog lookup then skips.

    A reference keeps its written name as its alias, so ``a.col`` still resolves. Two CTEs of one WITH with
    the same name are refused, as Trino refuses them."""
    ctes = list(tree.find_all(exp.CTE))
    names: dict[int, str] = {id(cte): cte.alias_or_name.lower() for cte in ctes}
    positions: dict[int, dict[str, int]] = {}
    for with_ in tree.find_all(exp.With):
        index = positions[id(with_)] = {}
        for i, cte in enumerate(with_.expressions):
            if names[id(cte)] in index:
                raise AthenaError("DUPLICATE_NAMED_QUERY", f"WITH query name '{names[id(cte)]}' specified more than once")
            index[names[id(cte)]] = i
    internal = {id(c): f"{CTE_PREFIX}{i}" for i, c in enumerate(ctes)}
    renamed: set[int] = set()
    # Decide every reference against the original names first, then rename: a rename must not change what
    # a later lookup sees.
    targets: list[tuple[exp.Table, exp.CTE]] = []
    for table in tree.find_all(exp.Table):
        if table.args.get("db") or table.args.get("catalog") or not isinstance(table.this, exp.Identifier):
            continue
        target = _visible_cte(table, positions)
        if target is not None:
            targets.append((table, target))
    for table, cte in targets:
        written = table.name
        table.set("this", exp.to_identifier(internal[id(cte)], quoted=True))
        if not table.args.get("alias"):
            table.set("alias", exp.TableAlias(this=exp.to_identifier(written, quoted=True)))
        renamed.add(id(table))
    for cte in ctes:
        alias = cte.args.get("alias")
        if isinstance(alias, exp.TableAlias):
            alias.set("this", exp.to_identifier(internal[id(cte)], quoted=True))
    return renamed


#: Relations a FROM or JOIN may read besides tables: what Trino's FROM accepts and lakebox translates.
_ROW_SOURCES = (exp.Subquery, exp.Unnest, exp.Values)


def check_relations(tree: exp.Expr) -> None:
    """The last wall before DuckDB: every table reference is a lakebox view or an internal CTE name, and every
    FROM/JOIN/LATERAL item is a table, a subquery, VALUES or UNNEST."""
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise AthenaError("NOT_SUPPORTED", f"unsupported relation {table.sql('trino')[:200]}")
        if table.catalog == VIEW_DATABASE and table.db:
            continue
        if not table.catalog and not table.db and table.name.startswith(CTE_PREFIX):
            continue
        raise AthenaError("TABLE_NOT_FOUND", f"Table '{table.sql('trino')[:200]}' does not exist")
    for node in tree.find_all(exp.From, exp.Join):
        item = node.this
        if isinstance(item, (exp.Table, exp.Lateral, *_ROW_SOURCES)):
            continue
        raise AthenaError("NOT_SUPPORTED", f"unsupported relation {item.sql('trino')[:200]}")
    for lateral in tree.find_all(exp.Lateral):
        if not isinstance(lateral.this, exp.Unnest | exp.Explode | exp.Subquery):
            raise AthenaError("NOT_SUPPORTED", f"unsupported relation {lateral.sql('trino')[:200]}")

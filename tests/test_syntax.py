"""Syntax errors in Athena's words (query.syntax), through the translation every engine and interface uses."""

from __future__ import annotations

import pytest
from sqlglot.errors import ParseError

from lakebox.query.dialect import translate
from lakebox.query.errors import AthenaError
from lakebox.query.syntax import STATEMENT_STARTS, syntax_error

CATALOG = {("sales", "orders"): [("order_id", "varchar"), ("amount", "decimal(12,2)")]}
CLAUSES_AFTER_FROM = ("'EXCEPT', 'GROUP', 'HAVING', 'INTERSECT', 'LIMIT', 'OFFSET', 'ORDER', 'UNION', 'WHERE', "
                      "'WINDOW', <EOF>")


def resolve(db: str | None, name: str) -> tuple[str, str] | None:
    key = ((db or "sales").lower(), name.lower())
    return key if key in CATALOG else None


def fails(sql: str, catalog: object = CATALOG) -> AthenaError:
    with pytest.raises(AthenaError) as info:
        translate(sql, resolve, "sales", catalog)  # type: ignore[arg-type]
    return info.value


@pytest.mark.parametrize("sql,message", [
    ("SELEC * FROM orders", "line 1:1: mismatched input 'SELEC'. Expecting: "
     + ", ".join(f"'{w}'" for w in STATEMENT_STARTS) + ", <query>"),
    ("  -- a comment\n  42", "line 2:3: mismatched input '42'. Expecting: "
     + ", ".join(f"'{w}'" for w in STATEMENT_STARTS) + ", <query>"),
    ("SELECT * FROM orders WHERE", "line 1:27: mismatched input '<EOF>'. Expecting: <expression>"),
    ("SELECT 1 +", "line 1:11: mismatched input '<EOF>'. Expecting: <expression>"),
    ("SELECT *\nFROM orders\nWHERE amount >", "line 3:15: mismatched input '<EOF>'. Expecting: <expression>"),
    ("SELECT * FROM orders)", f"line 1:21: mismatched input ')'. Expecting: {CLAUSES_AFTER_FROM}"),
    ("SELECT * FROM orders WHERE amount > 1 x",
     "line 1:39: mismatched input 'x'. Expecting: 'EXCEPT', 'GROUP', 'HAVING', 'INTERSECT', 'LIMIT', 'OFFSET', "
     "'ORDER', 'UNION', 'WINDOW', <EOF>"),
    ("SELECT * FROM orders WHERE amount IN (1, 2", "line 1:43: mismatched input '<EOF>'. Expecting: ')'"),
    ("SELECT 1 FROM", "line 1:14: mismatched input '<EOF>'. Expecting: <identifier>"),
    ("SELECT * FROM orders LIMIT", "line 1:27: mismatched input '<EOF>'. Expecting: '?', 'ALL', <integer>"),
    ("SELECT CAST(amount AS) FROM orders", "line 1:22: mismatched input ')'. Expecting: <type>"),
    ("SELECT CASE WHEN amount > 1 THEN 1 FROM orders",
     "line 1:36: mismatched input 'FROM'. Expecting: 'ELSE', 'END', 'WHEN'"),
    ("SELECT", "line 1:7: mismatched input '<EOF>'. Expecting: '*', 'ALL', 'DISTINCT', <expression>"),
    ("SELECT\nFROM orders", "line 2:1: mismatched input 'FROM'. Expecting: '*', 'ALL', 'DISTINCT', <expression>"),
    ("SELECT * FROM (SELECT) x", "line 1:22: mismatched input ')'. Expecting: '*', 'ALL', 'DISTINCT', <expression>"),
    ("SELECT 'abc", "line 1:8: token recognition error at: ''abc'"),
    ('SELECT "abc FROM orders', "line 1:8: token recognition error at: '\"abc FROM orders'"),
    ("SELECT 1 /* never closed", "line 1:10: token recognition error at: '/* never closed'"),
])
def test_syntax_errors_name_the_token_and_what_was_expected(sql: str, message: str) -> None:
    err = fails(sql)
    assert err.error_type == "SYNTAX_ERROR"
    assert err.message == message
    assert message.startswith(f"line {err.line}:{err.column}: ")


@pytest.mark.parametrize("sql,message", [
    ("SELECT abs(1, 2)", "line 1:8: Unexpected parameters (2 arguments) for function abs"),
    ("SELECT x, length() FROM orders", "line 1:11: Unexpected parameters (0 arguments) for function length"),
])
def test_a_call_with_the_wrong_number_of_arguments_is_function_not_found(sql: str, message: str) -> None:
    err = fails(sql)
    assert (err.error_type, err.message) == ("FUNCTION_NOT_FOUND", message)


@pytest.mark.parametrize("sql", ["SELECT 1", "WITH a AS (SELECT 1 x) SELECT x FROM a", "VALUES 1", "(SELECT 1)",
                                 "/* lead */ SELECT amount FROM orders", "select 'it''s' FROM orders"])
def test_statements_that_parse_are_untouched(sql: str) -> None:
    assert translate(sql, resolve, "sales", CATALOG).kind == "select"


def test_unknown_tables_get_the_nearest_name_or_how_to_load_one() -> None:
    assert fails("SELECT * FROM order").message == (
        "line 1:15: Table 'awsdatacatalog.sales.order' does not exist; did you mean 'orders'?")
    assert fails("SELECT * FROM zzz").message == "line 1:15: Table 'awsdatacatalog.sales.zzz' does not exist"
    with pytest.raises(AthenaError) as info:
        translate("SELECT * FROM orders", lambda db, name: None, "sales", {})
    assert info.value.message == (
        "line 1:15: Table 'awsdatacatalog.sales.orders' does not exist; the catalog has no tables yet: load a CSV "
        "first (lakebox ingest FILE.csv, or the dashboard's upload)")
    # Without the catalog (the Athena engine's pre-check) there is nothing to suggest.
    with pytest.raises(AthenaError) as info:
        translate("SELECT * FROM zzz", resolve, "sales")
    assert info.value.message == "line 1:15: Table 'awsdatacatalog.sales.zzz' does not exist"


def test_a_failure_the_recorder_does_not_see_is_placed_from_sqlglots_structured_error() -> None:
    # "SELECT 1" parses, so the second parse records nothing: the position comes from the error's fields.
    exc = ParseError("whatever sqlglot said", errors=[{"line": 1, "col": 8, "highlight": "1"}])
    err = syntax_error("SELECT 1", exc)
    assert (err.error_type, err.message) == ("SYNTAX_ERROR", "line 1:8: no viable alternative at input '1'")

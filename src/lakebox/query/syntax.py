"""Athena's words for SQL that does not parse, and hints for names that do not resolve. Pure.

Athena (Trino's ANTLR parser) reports a syntax error as ``line L:C: mismatched input 'X'. Expecting: ...``,
naming the first token that does not fit (``'<EOF>'`` when the text ends too early) and what could have
come instead. sqlglot parses differently and words its errors after its own classes, so on a failed parse
the statement is parsed once more by :class:`_Recorder`, which notes, without reading sqlglot's message text,
where the parser stood (the token, or the end) and what it was after (an operand, a ``)``, a type, the next
clause). Trino lists every token its grammar allows at that point; lakebox names the ones it knows, so the
list can be shorter than Athena's, never different in kind.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from lakebox.query.errors import AthenaError, line_col
from lakebox.query.trino import AthenaTrino

#: What Athena lists when a statement starts with a word it does not know (as Athena words it).
STATEMENT_STARTS = ("ALTER", "ANALYZE", "CALL", "COMMIT", "CREATE", "DEALLOCATE", "DELETE", "DESC", "DESCRIBE",
                    "DROP", "EXECUTE", "EXPLAIN", "GRANT", "INSERT", "PREPARE", "RESET", "REVOKE", "ROLLBACK",
                    "SET", "SHOW", "START", "UNLOAD", "UPDATE", "USE")
_QUERY_STARTS = ("SELECT", "WITH", "VALUES", "TABLE", "(")
#: More statements Athena parses (Trino's newer ones, Hive's and Iceberg's): the read-only guard refuses them.
_OTHER_STATEMENTS = ("COMMENT", "MERGE", "MSCK", "OPTIMIZE", "REFRESH", "TRUNCATE", "VACUUM")
_FIRST_WORD = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*(\"(?:[^\"]|\"\")*\"?|\w+|\S)", re.S)
#: A SELECT's clauses in order, with the keyword that starts each.
_CLAUSES = (("from_", "FROM"), ("where", "WHERE"), ("group", "GROUP"), ("having", "HAVING"),
            ("windows", "WINDOW"), ("order", "ORDER"), ("offset", "OFFSET"), ("limit", "LIMIT"))
_SET_OPERATIONS = ("EXCEPT", "INTERSECT", "UNION")
_EXPRESSION = ["<expression>"]
#: Tokens that cannot start a select item: after SELECT they mean the list is missing.
_NOT_AN_ITEM = frozenset({TokenType.FROM, TokenType.WHERE, TokenType.GROUP_BY, TokenType.HAVING,
                          TokenType.ORDER_BY, TokenType.LIMIT, TokenType.OFFSET, TokenType.UNION,
                          TokenType.EXCEPT, TokenType.INTERSECT, TokenType.R_PAREN, TokenType.SEMICOLON})


def mismatched(text: str, line: int, column: int, expected: Sequence[str]) -> AthenaError:
    """``line L:C: mismatched input 'text'. Expecting: ...`` as a SYNTAX_ERROR."""
    return AthenaError("SYNTAX_ERROR", f"line {line}:{column}: mismatched input '{text}'. Expecting: "
                       f"{', '.join(expected)}", line=line, column=column)


def check_statement_start(sql: str) -> None:
    """Refuse a statement whose first word starts no Athena statement (``SELEC * FROM t``) as Athena does,
    at that word; statements Athena knows but lakebox does not run are left to the read-only guard."""
    m = _FIRST_WORD.match(sql)
    if m is None:
        return
    word = m.group(1)
    if word.upper() in (*_QUERY_STARTS, *STATEMENT_STARTS, *_OTHER_STATEMENTS):
        return
    line, col = line_col(sql, m.start(1))
    raise mismatched(word, line, col, [*(f"'{w}'" for w in STATEMENT_STARTS), "<query>"])


#: How deep parentheses, brackets and CASE ... END may nest. sqlglot parses, and lakebox translates, by
#: recursion (about 20 Python frames per level): past ~45 levels Python's recursion limit ended the request
#: with a RecursionError. Trino has no fixed limit but fails with a stack overflow past some thousands.
MAX_NESTING = 32
#: How deep brackets (``ARRAY[ARRAY[...]]``) may nest: sqlglot's parser takes twice as long for each level
#: (12 levels: seconds, 20: hours, holding the GIL), so a few levels of nested arrays could stall the server.
MAX_BRACKET_NESTING = 6
_OPENERS = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.CASE})
_CLOSERS = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.END})


def check_nesting(sql: str) -> None:
    """Refuse a statement nested deeper than :data:`MAX_NESTING` (or brackets deeper than
    :data:`MAX_BRACKET_NESTING`) before it is parsed, as a SYNTAX_ERROR at the opening that goes too deep.
    One pass over the tokens with counters: no recursion, so the check itself cannot overflow. Text that does
    not tokenize is left to the parser's error."""
    try:
        tokens = AthenaTrino().tokenize(sql)
    except TokenError:
        return
    depth = brackets = 0
    for token in tokens:
        kind = token.token_type
        if kind in _OPENERS:
            depth += 1
            brackets += kind == TokenType.L_BRACKET
            if depth > MAX_NESTING or brackets > MAX_BRACKET_NESTING:
                line, col = line_col(sql, token.start)
                what = (f"more than {MAX_BRACKET_NESTING} levels of brackets" if brackets > MAX_BRACKET_NESTING
                        else f"more than {MAX_NESTING} levels of parentheses, brackets or CASE expressions")
                raise AthenaError(
                    "SYNTAX_ERROR",
                    f"line {line}:{col}: statement is too deeply nested: {what} (lakebox's limit); use a WITH "
                    "query for the inner parts", line=line, column=col)
        elif kind in _CLOSERS:
            depth = max(depth - 1, 0)
            if kind == TokenType.R_BRACKET:
                brackets = max(brackets - 1, 0)


def check_select_lists(tree: exp.Expr, sql: str) -> None:
    """Refuse a SELECT without a select list (``SELECT FROM t``), which sqlglot reads and Trino does not,
    at the token where the list should start."""
    if not any(isinstance(s, exp.Select) and not s.expressions for s in tree.walk()):
        return
    tokens = AthenaTrino().tokenize(sql)
    for i, token in enumerate(tokens):
        if token.token_type != TokenType.SELECT:
            continue
        j = i + 1
        while j < len(tokens) and tokens[j].token_type in (TokenType.DISTINCT, TokenType.ALL):
            j += 1
        following = tokens[j] if j < len(tokens) else None
        if following is None or following.token_type in _NOT_AN_ITEM:
            offset = len(sql) if following is None else following.start
            text = "<EOF>" if following is None else sql[following.start:following.end + 1]
            raise mismatched(text, *line_col(sql, offset), ["'*'", "'ALL'", "'DISTINCT'", "<expression>"])


def syntax_error(sql: str, exc: ParseError | TokenError) -> AthenaError:
    """The SYNTAX_ERROR Athena would give for ``sql``, which sqlglot failed to read with ``exc``."""
    if isinstance(exc, TokenError):
        return _token_error(sql)
    dialect = AthenaTrino()
    recorder = _Recorder(dialect=dialect)
    try:
        recorder.parse(dialect.tokenize(sql), sql)
    except ParseError:
        pass  # expected: the recorder has noted where and why
    except TokenError:
        return _token_error(sql)
    if recorder.function is not None:
        return recorder.function
    if not recorder.recorded:  # failed outside the parser's own error reporting: where sqlglot says
        return _unexplained(sql, exc)
    token = recorder.failed_at
    at_end = token is None or token.token_type == TokenType.SENTINEL
    offset = len(sql) if token is None or at_end else token.start
    line, col = line_col(sql, offset)
    text = "<EOF>" if token is None or at_end else sql[offset:token.end + 1]
    if recorder.expected:
        return mismatched(text, line, col, recorder.expected)
    return AthenaError("SYNTAX_ERROR", f"line {line}:{col}: no viable alternative at input '{text}'",
                       line=line, column=col)


def _unexplained(sql: str, exc: ParseError) -> AthenaError:
    """A parse error the recorder did not see raised, placed where sqlglot's structured error puts it."""
    first = exc.errors[0] if exc.errors else {}
    line, end, text = int(first.get("line") or 1), int(first.get("col") or 1), str(first.get("highlight") or "")
    col = max(1, end - len(text) + 1)  # sqlglot gives the column a token ends at; Trino the one it starts at
    near = f" at input '{text}'" if text else ""
    return AthenaError("SYNTAX_ERROR", f"line {line}:{col}: no viable alternative{near}", line=line, column=col)


def _token_error(sql: str) -> AthenaError:
    """An unterminated string, quoted name or comment: Trino's lexer reports where it starts."""
    start = _unterminated(sql)
    if start is None:
        return AthenaError("SYNTAX_ERROR", "line 1:1: token recognition error", line=1, column=1)
    line, col = line_col(sql, start)
    rest = sql[start:start + 40] + ("..." if len(sql) - start > 40 else "")
    return AthenaError("SYNTAX_ERROR", f"line {line}:{col}: token recognition error at: '{rest}'",
                       line=line, column=col)


def _unterminated(sql: str) -> int | None:
    """Offset of the first quote or block comment that is never closed, skipping line comments."""
    i = 0
    while i < len(sql):
        ch = sql[i]
        if ch in "'\"":
            j = i + 1
            while True:
                k = sql.find(ch, j)
                if k < 0:
                    return i
                if sql[k + 1:k + 2] == ch:  # a doubled quote stands for itself
                    j = k + 2
                    continue
                i = k + 1
                break
        elif sql.startswith("--", i):
            nl = sql.find("\n", i)
            i = len(sql) if nl < 0 else nl + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end < 0:
                return i
            i = end + 2
        else:
            i += 1
    return None


def _after_statement(tree: exp.Expr | None) -> list[str]:
    """What may follow a complete query: the clauses after its last one, set operations, or the end."""
    words = list(_SET_OPERATIONS)
    if isinstance(tree, exp.Select):
        present = [i for i, (arg, _) in enumerate(_CLAUSES) if tree.args.get(arg)]
        last = present[-1] if present else -1
        words += [word for arg, word in _CLAUSES[last + 1:]]
    return [*(f"'{w}'" for w in sorted(set(words))), "<EOF>"]


def _operand(node: exp.Expr) -> list[str]:
    """What a node left incomplete was waiting for."""
    if isinstance(node, exp.Limit):
        return ["'?'", "'ALL'", "<integer>"]
    if isinstance(node, exp.Offset | exp.Fetch):
        return ["'?'", "<integer>"]
    if isinstance(node, exp.Table | exp.TableAlias | exp.Identifier):
        return ["<identifier>"]
    if isinstance(node, exp.DataType):
        return ["<type>"]
    return _EXPRESSION


class _Recorder(AthenaTrino.Parser):
    """AthenaTrino's parser, noting for the error that ends the parse: the token the parser stood on
    (``failed_at``; sqlglot's sentinel token at the end of the text), what it expected there, or a call with the wrong number
    of arguments. Used only after a parse has failed, so the normal parse path is sqlglot's own."""

    def reset(self) -> None:
        super().reset()
        self.recorded = False
        self.failed_at: Token | None = None
        self.expected: list[str] | None = None
        self.function: AthenaError | None = None
        self._wanted: list[str] | None = None  # set just before a raise whose reason is known
        self._wrong_call: AthenaError | None = None
        self._contexts: list[list[str]] = []
        self._calls: list[int] = []
        self._depth = 0
        self._statement: exp.Expr | None = None
        self._complete = False

    def raise_error(self, *args: Any, **kwargs: Any) -> None:
        # The last error raised is the one that ends the parse: errors of speculative parses come earlier.
        self.recorded = True
        self.failed_at = self._curr
        if self._wanted is not None:
            self.expected = self._wanted
        elif self._complete:
            self.expected = _after_statement(self._statement)
        else:
            self.expected = self._contexts[-1] if self._contexts else None
        self.function, self._wrong_call, self._wanted = self._wrong_call, None, None
        super().raise_error(*args, **kwargs)

    def validate_expression(self, expression: Any, args: list[Any] | None = None) -> Any:
        if self.error_level != ErrorLevel.IGNORE and expression.error_messages(args):
            self._wanted = _operand(expression)
            if isinstance(expression, exp.Func) and self._calls:
                self._wrong_call = self._call_error(self._calls[-1])
        return super().validate_expression(expression, args)

    def _call_error(self, name_index: int) -> AthenaError | None:
        """FUNCTION_NOT_FOUND for the call whose name is token ``name_index``, if the parser is at its ``)``."""
        tokens = self._tokens
        if name_index + 1 >= len(tokens) or tokens[name_index + 1].token_type != TokenType.L_PAREN:
            return None
        depth, commas, i = 0, 0, name_index + 1
        while i < len(tokens):
            kind = tokens[i].token_type
            depth += (kind == TokenType.L_PAREN) - (kind == TokenType.R_PAREN)
            commas += kind == TokenType.COMMA and depth == 1
            if depth == 0:
                break
            i += 1
        if i != self._index:
            return None
        n = 0 if i == name_index + 2 else commas + 1
        name = tokens[name_index]
        line, col = line_col(self.sql, name.start)
        return AthenaError("FUNCTION_NOT_FOUND", f"line {line}:{col}: Unexpected parameters ({n} argument"
                           f"{'' if n == 1 else 's'}) for function {name.text.lower()}", line=line, column=col)

    def _within(self, expected: list[str], method: Any, *args: Any, **kwargs: Any) -> Any:
        self._contexts.append(expected)
        try:
            return method(*args, **kwargs)
        finally:
            self._contexts.pop()

    def _parse_statement(self) -> exp.Expr | None:
        self._depth += 1
        try:
            tree = super()._parse_statement()
        finally:
            self._depth -= 1
        if self._depth == 0:
            self._statement, self._complete = tree, True
        return tree

    def _parse_function(self, *args: Any, **kwargs: Any) -> exp.Expr | None:
        self._calls.append(self._index)
        try:
            return super()._parse_function(*args, **kwargs)
        finally:
            self._calls.pop()

    def _match_r_paren(self, expression: exp.Expr | None = None) -> None:
        if not self._match(TokenType.R_PAREN, advance=False):
            self._wanted = ["')'"]
        super()._match_r_paren(expression)

    def _match_l_paren(self, expression: exp.Expr | None = None) -> None:
        if not self._match(TokenType.L_PAREN, advance=False):
            self._wanted = ["'('"]
        super()._match_l_paren(expression)

    def _parse_table_parts(self, *args: Any, **kwargs: Any) -> Any:
        return self._within(["<identifier>"], super()._parse_table_parts, *args, **kwargs)

    def _parse_case(self) -> exp.Expr | None:
        return self._within(["'ELSE'", "'END'", "'WHEN'"], super()._parse_case)

    def _parse_cast(self, *args: Any, **kwargs: Any) -> exp.Expr:
        return self._within(["<type>"], super()._parse_cast, *args, **kwargs)


def table_hint(name: str, catalog: Mapping[tuple[str, str], object] | None) -> str:
    """The end of a TABLE_NOT_FOUND message: the nearest catalog table, or how to load one into an empty
    catalog; nothing without the catalog."""
    if catalog is None:
        return ""
    if not catalog:
        return "; the catalog has no tables yet: load a CSV first (lakebox ingest FILE.csv, or the dashboard's upload)"
    names = sorted({table for _, table in catalog})
    want = name.lower()
    close = [n for n in names if want in n] or difflib.get_close_matches(want, names, n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""

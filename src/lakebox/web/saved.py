"""Saved queries: named queries that users save from the SQL editor, stored in the lake beside its data.

Each one is an object ``_lakebox/queries/<name>.sql`` written in the same format as the shipped queries
(``-- title:``, ``-- description:``, ``-- chart:`` and ``-- param:`` header lines, then the SQL), so
``query.named.parse_named_query`` reads both. Athena keeps named queries in the workgroup
(CreateNamedQuery); lakebox keeps them in the lake so that every process reading the lake sees them.

Differences from Athena's CreateNamedQuery: names are identifiers (``[a-z][a-z0-9_]*``), unique, and may
not shadow a shipped query; the query must run (with its parameter defaults) before it is saved.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lakebox.core.errors import ConflictError, InvalidInputError
from lakebox.query.named import NamedQuery, parse_named_query
from lakebox.store.base import NoSuchKeyError, Store

PREFIX = "_lakebox/queries/"
NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
CHART_TYPES = ("bar", "line", "donut", "table")
#: Parameter values of saved queries: one token (header lines are split on whitespace), inlined quoted.
PARAM_PATTERN = r"^\S{1,200}$"
_PARAM_REF = re.compile(r"(?<![:\w]):([a-zA-Z_]\w*)\b")
#: Parameter names the page uses for a panel's own state in the URL (``<query>.sort`` ...) or the API's options.
RESERVED_PARAMS = ("sort", "dir", "page", "q", "view", "limit", "download", "token")
MAX_TITLE = 120
MAX_DESCRIPTION = 500
#: How many saved queries (panels) a lake keeps.
MAX_SAVED = 100


class SavedQueryError(InvalidInputError):
    """A saved query that cannot be stored: the message names the field and the reason."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class SavedQueryExists(ConflictError):
    """The name is taken: by another saved query, or by a shipped one."""

    def __init__(self, message: str) -> None:
        super().__init__(f"name: {message}")
        self.field = "name"


@dataclass(frozen=True)
class SaveRequest:
    """What the editor sends to save a query (already decoded from JSON)."""

    name: str
    title: str
    sql: str
    description: str = ""
    chart: Mapping[str, Any] | None = None
    params: Mapping[str, str] | None = None

    @classmethod
    def from_json(cls, body: Any) -> SaveRequest:
        if not isinstance(body, dict):
            raise SavedQueryError("body", 'send JSON: {"name": ..., "title": ..., "sql": ...}')
        for key in ("name", "title", "sql"):
            if not isinstance(body.get(key), str) or not body[key].strip():
                raise SavedQueryError(key, "is required (a non-empty string)")
        chart = body.get("chart")
        if chart is not None and not isinstance(chart, dict):
            raise SavedQueryError("chart", 'must be an object like {"type": "bar", "x": "col", "y": ["col"]}')
        params = body.get("params")
        if params is not None and not (isinstance(params, dict)
                                       and all(isinstance(v, str) for v in params.values())):
            raise SavedQueryError("params", 'must map each :parameter to its default, like {"month": "2025-02"}')
        description = body.get("description") or ""
        if not isinstance(description, str):
            raise SavedQueryError("description", "must be a string")
        return cls(name=body["name"].strip(), title=body["title"], sql=body["sql"], description=description,
                   chart=chart, params=params)


def _one_line(text: str, field: str, limit: int) -> str:
    line = " ".join(text.split())
    if len(line) > limit:
        raise SavedQueryError(field, f"is longer than {limit} characters")
    return line


def _chart_line(chart: Mapping[str, Any] | None) -> str | None:
    if not chart:
        return None
    kind = str(chart.get("type", "table"))
    if kind not in CHART_TYPES:
        raise SavedQueryError("chart.type", f"must be one of {', '.join(CHART_TYPES)}, not {kind!r}")
    if kind == "table":
        return "table"
    x = chart.get("x")
    y = chart.get("y") or []
    if isinstance(y, str):
        y = [y]
    cols = [x, *y]
    if not isinstance(x, str) or not y or not all(isinstance(c, str) and re.fullmatch(r"\w+", c) for c in cols):
        raise SavedQueryError("chart", "a bar, line or donut chart needs x and y column names")
    return f"{kind} x={x} y={','.join(y)}"


def render_file(req: SaveRequest) -> str:
    """The ``.sql`` file for a saved query, in the shipped queries' header format."""
    lines = [f"-- title: {_one_line(req.title, 'title', MAX_TITLE)}"]
    if req.description.strip():
        lines.append(f"-- description: {_one_line(req.description, 'description', MAX_DESCRIPTION)}")
    chart = _chart_line(req.chart)
    if chart:
        lines.append(f"-- chart: {chart}")
    refs = list(dict.fromkeys(_PARAM_REF.findall(req.sql)))
    given = dict(req.params or {})
    unknown = set(given) - set(refs)
    if unknown:
        raise SavedQueryError("params", f"{', '.join(sorted(unknown))} do not appear in the SQL as :name")
    for name in refs:
        if name in RESERVED_PARAMS:
            raise SavedQueryError(f"params.{name}", f"{', '.join(RESERVED_PARAMS)} name the page's own settings; "
                                                    "call the parameter something else")
        default = given.get(name, "")
        if not re.fullmatch(PARAM_PATTERN, default):
            raise SavedQueryError(f"params.{name}", "needs a default value: one word of at most 200 characters")
        lines.append(f"-- param: {name} default={default} pattern={PARAM_PATTERN} help={name}")
    # A blank line ends the header, so SQL that starts with a "-- key: value" comment stays SQL.
    return "\n".join(lines) + "\n\n" + req.sql.strip() + "\n"


class SavedQueries:
    """The saved queries of one lake, read from its store.

    The list is cached: every request looks the queries up several times, and listing the store (or reading
    the catalog's version) each time would cost more than the request. A save or delete here, or
    ``invalidate()`` (the dashboard calls it when the data changes), drops the cache; so does age, after
    ``ttl`` seconds, for queries saved by another process.
    """

    def __init__(self, store: Store, max_sql_bytes: int, ttl: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.max_sql_bytes = max_sql_bytes
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: tuple[float, dict[str, NamedQuery]] | None = None

    def all(self) -> dict[str, NamedQuery]:
        """Saved queries by name, in name order."""
        now = self._clock()
        with self._lock:
            if self._cache is not None and now - self._cache[0] < self.ttl:
                return self._cache[1]
        found: dict[str, NamedQuery] = {}
        for obj in self.store.list_objects_v2(PREFIX):  # in key order
            name = obj.key[len(PREFIX):].removesuffix(".sql")
            if not obj.key.endswith(".sql") or not NAME.fullmatch(name):
                continue
            try:
                text = self.store.get_object(obj.key).decode("utf-8")
            except (NoSuchKeyError, UnicodeDecodeError):
                continue  # deleted between list and get, or not ours: not a saved query
            found[name] = parse_named_query(name, text)
        with self._lock:
            self._cache = (now, found)
        return found

    def save(self, req: SaveRequest, reserved: Mapping[str, NamedQuery],
             check: Callable[[NamedQuery], None] | None = None, replace: bool = False) -> NamedQuery:
        """Validate ``req``, let ``check`` run it (it raises to refuse), store it; returns it as read back."""
        if not NAME.fullmatch(req.name):
            raise SavedQueryError("name", "must be lower-case letters, digits and _, starting with a letter "
                                          "(at most 63 characters)")
        if req.name in reserved:
            raise SavedQueryExists(f"{req.name!r} is a shipped query; choose another name")
        if not replace and req.name in self.all():
            raise SavedQueryExists(f"a saved query {req.name!r} exists already")
        if len(req.sql.encode("utf-8")) > self.max_sql_bytes:
            raise SavedQueryError("sql", f"is longer than Athena's limit of {self.max_sql_bytes} bytes")
        if req.name not in self.all() and len(self.all()) >= MAX_SAVED:
            raise SavedQueryError("name", f"the lake holds {MAX_SAVED} saved queries already; delete one first")
        text = render_file(req)
        query = parse_named_query(req.name, text)
        if check is not None:
            check(query)
        self.store.put_object(f"{PREFIX}{req.name}.sql", text.encode("utf-8"))
        self.invalidate()
        return query

    def delete(self, name: str) -> bool:
        if name not in self.all():
            return False
        self.store.delete_object(f"{PREFIX}{name}.sql")
        self.invalidate()
        return True

    def invalidate(self) -> None:
        with self._lock:
            self._cache = None

"""Views as Athena stores them in the Glue Data Catalog.

``CREATE VIEW`` in Athena makes a Glue table with ``TableType = VIRTUAL_VIEW``, parameters
``presto_view = true`` and ``comment = Presto View``, ``ViewExpandedText = /* Presto View */`` and
``ViewOriginalText = /* Presto View: <base64 of a JSON document> */``, the document holding the view's SQL
(``originalSql``), its catalog and schema and its columns with Trino type names. A TableDef keeps that text in
its parameters (``lakebox.view_original_text``), so both catalogs hold the same thing and the Glue backend writes
a real view. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence

from lakebox.catalog.crawler import TableDef

TABLE_TYPE = "VIRTUAL_VIEW"
VIEW_FORMAT = "view"
EXPANDED_TEXT = "/* Presto View */"
ORIGINAL_TEXT_PARAM = "lakebox.view_original_text"
_PREFIX, _SUFFIX = "/* Presto View: ", " */"


def is_view(table: TableDef) -> bool:
    """Whether the catalog entry is a view."""
    return ORIGINAL_TEXT_PARAM in table.parameters


def presto_view_text(sql: str, schema: str, columns: Sequence[tuple[str, str]]) -> str:
    """Athena's ``ViewOriginalText`` for a view of ``sql`` in ``schema`` with ``columns`` (name, Trino type)."""
    doc = {"originalSql": sql, "catalog": "awsdatacatalog", "schema": schema,
           "columns": [{"name": n, "type": t} for n, t in columns], "owner": "lakebox", "runAsInvoker": False}
    return _PREFIX + base64.b64encode(json.dumps(doc).encode("utf-8")).decode("ascii") + _SUFFIX


def view_parameters(sql: str, schema: str, columns: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The parameters of a view's TableDef."""
    return {"presto_view": "true", "comment": "Presto View",
            ORIGINAL_TEXT_PARAM: presto_view_text(sql, schema, columns)}


def view_document(original_text: str) -> dict[str, object]:
    """The JSON document inside a ``ViewOriginalText``; ValueError when it is not a Presto view."""
    text = original_text.strip()
    if not (text.startswith(_PREFIX) and text.endswith(_SUFFIX)):
        raise ValueError("not a Presto view text")
    try:
        doc = json.loads(base64.b64decode(text[len(_PREFIX):-len(_SUFFIX)], validate=True))
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"not a Presto view text: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("originalSql"), str):
        raise ValueError("a Presto view text without originalSql")
    return doc


def view_sql(table: TableDef) -> str:
    """The SQL of a view (its ``originalSql``)."""
    return str(view_document(str(table.parameters[ORIGINAL_TEXT_PARAM]))["originalSql"])

"""Errors of the Glue catalog backend, shared by :mod:`lakebox.catalog.glue` and its helper modules."""

from __future__ import annotations

from typing import Any


class GlueCatalogError(RuntimeError):
    """A Glue call failed in a way the caller should see (the message names the database and table)."""


def _code(exc: Exception) -> str:
    response: dict[str, Any] = getattr(exc, "response", {}) or {}
    return str(response.get("Error", {}).get("Code", ""))

"""Static asset URLs with a content hash (``static_url("app.js")`` -> ``/static/app.js?v=<hash>``) for templates.

Files under ``web/static`` are served by Flask's static route; the hash makes a browser fetch a changed file
at once while letting it cache an unchanged one.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Blueprint

STATIC = Path(__file__).parent / "static"

bp = Blueprint("assets", __name__)


@lru_cache(maxsize=64)
def _digest(path: Path, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """The URL of ``web/static/<name>`` with its content hash."""
    path = STATIC / name
    return f"/static/{name}?v={_digest(path, path.stat().st_mtime_ns)}"


@bp.app_context_processor
def _inject() -> dict[str, object]:
    return {"static_url": static_url}

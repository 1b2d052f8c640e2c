"""The catalog backends under test, as the contract suite sees them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lakebox.catalog.base import Catalog


@dataclass
class CatalogBackend:
    """A catalog under test and how to give it a crawler (Glue's CreateCrawler; a runner locally)."""

    name: str
    catalog: Catalog
    add_crawler: Callable[[str], None]

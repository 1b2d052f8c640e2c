"""The "S3" stage: where objects live. ``open_store`` picks the backend from the lake URL.

The interface is :class:`lakebox.store.base.Store`; the backends are :mod:`lakebox.store.local` (a folder)
and :mod:`lakebox.store.s3` (a bucket).
"""

from __future__ import annotations

from lakebox.store.base import Store
from lakebox.store.local import LocalStore


def open_store(lake: str, *, endpoint_url: str | None = None, region: str | None = None) -> Store:
    """A folder path gives a :class:`LocalStore`; ``s3://bucket[/prefix]`` gives an ``S3Store``."""
    if lake.startswith("s3://"):
        from lakebox.store.s3 import S3Store  # boto3 only when asked for

        return S3Store.from_url(lake, endpoint_url=endpoint_url, region=region)
    return LocalStore(lake)

"""The "S3" stage: where objects live. ``open_store`` picks the backend from the lake URL.

The interface is :class:`lakebox.store.base.Store`; the backends are :mod:`lakebox.store.local` (a folder)
and :mod:`lakebox.store.s3` (a bucket).
"""

from __future__ import annotations

from pathlib import Path

from lakebox.store.base import NoSuchBucketError, Store
from lakebox.store.local import LocalStore


def open_store(lake: str, *, endpoint_url: str | None = None, region: str | None = None,
               create: bool = True) -> Store:
    """A folder path gives a :class:`LocalStore`; ``s3://bucket[/prefix]`` gives an ``S3Store``.

    With ``create=False`` (read-only commands) a local lake that does not exist is an error instead of a
    new, empty lake: :class:`NoSuchBucketError` naming the folder and how to make one.
    """
    if lake.startswith("s3://"):
        from lakebox.store.s3 import S3Store  # boto3 only when asked for

        return S3Store.from_url(lake, endpoint_url=endpoint_url, region=region)
    if not create and not Path(lake).is_dir():
        raise NoSuchBucketError(
            f"no lake at {Path(lake).resolve()}: nothing has been ingested there yet; "
            "run `lakebox ingest FILE.csv` (or `lakebox up`) to create it, or pass --lake PATH")
    return LocalStore(lake, create=create)

"""The Store interface: what lakebox needs from a bucket. ``LocalStore`` is a folder; ``S3Store`` is S3.

Method names follow S3's actions (put_object, get_object, head_object, list_objects_v2, delete_object) so the
mapping can be found with grep. Keys are S3 keys: ``/``-separated, relative, never escaping the bucket.
"""

from __future__ import annotations

import datetime as dt
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

#: The top-level prefixes of a lake, as in the original assignment plus lakebox's own.
LAYOUT = ("raw/", "processed/", "enriched/", "quarantine/", "_lakebox/")


class StoreError(Exception):
    """A store operation failed; the message names the key."""


class InvalidKeyError(StoreError, ValueError):
    """A key that could escape the bucket or is not a valid object key."""


class NoSuchKeyError(StoreError, KeyError):
    """The object does not exist (S3's NoSuchKey)."""

    def __str__(self) -> str:  # KeyError quotes its message; we want the plain text
        return str(self.args[0]) if self.args else "no such key"


@dataclass(frozen=True)
class ObjectInfo:
    """What HeadObject returns that lakebox uses."""

    key: str
    size: int
    etag: str
    modified: dt.datetime


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe relative object key, else raise :class:`InvalidKeyError`.

    Refused: empty keys, absolute paths, ``..`` or ``.`` segments, empty segments, backslashes and NUL bytes.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKeyError("object key must be a non-empty string")
    if "\x00" in key or "\\" in key:
        raise InvalidKeyError(f"object key {key!r} contains a NUL byte or backslash")
    if key.startswith("/") or (len(key) > 1 and key[1] == ":"):
        raise InvalidKeyError(f"object key {key!r} is absolute")
    parts = key.split("/")
    body = parts[:-1] if key.endswith("/") else parts
    for part in body:
        if part in ("", ".", ".."):
            raise InvalidKeyError(f"object key {key!r} has an empty, '.' or '..' segment")
    if len(key.encode("utf-8")) > 1024:
        raise InvalidKeyError(f"object key {key[:40]!r}... is longer than S3's 1024 bytes")
    return key


def join_key(*parts: str) -> str:
    """Join key parts with ``/`` (never the OS separator)."""
    return posixpath.join(*parts)


@runtime_checkable
class Store(Protocol):
    """A bucket. Writes are atomic: a reader sees the old object, the new one, or none; never half of one."""

    @property
    def url(self) -> str: ...

    def put_object(self, key: str, data: bytes) -> ObjectInfo: ...

    def put_file(self, key: str, path: Path) -> ObjectInfo:
        """Upload a local file (moved into place locally; multipart on S3 when large)."""
        ...

    def get_object(self, key: str) -> bytes: ...

    def open_object(self, key: str) -> BinaryIO:
        """Open an object as a binary stream; the caller closes it."""
        ...

    def head_object(self, key: str) -> ObjectInfo: ...

    def list_objects_v2(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order; temp files are never listed."""
        ...

    def delete_object(self, key: str) -> None: ...

    def local_path(self, key: str) -> Path | None:
        """A path DuckDB can read directly, or None when the object must be downloaded first."""
        ...

    def exists(self, key: str) -> bool: ...

"""The Store interface ("S3"): what lakebox needs from a bucket. ``LocalStore`` is a folder; ``S3Store`` is S3.

Method names follow S3's actions (PutObject, GetObject, HeadObject, ListObjectsV2, DeleteObject, CopyObject,
and the transfer manager's upload_file) so the mapping can be found with grep. Keys are S3 keys:
``/``-separated, relative, never escaping the bucket. This module is pure: no boto3, no file system.
"""

from __future__ import annotations

import datetime as dt
import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from lakebox.core.errors import InvalidInputError, LakeboxError, NotFoundError

#: The top-level prefixes of a lake, as in the original assignment plus lakebox's own.
LAYOUT = ("raw/", "processed/", "enriched/", "quarantine/", "_lakebox/")

#: Basename prefix of temp files: never listed by either backend, swept after a crash.
TMP_PREFIX = ".lakebox-tmp-"


class StoreError(LakeboxError):
    """A store operation failed; the message names the key."""

    code = "InternalError"


class InvalidKeyError(StoreError, InvalidInputError, ValueError):
    """A key that could escape the bucket or is not a valid object key."""

    code = "InvalidArgument"


class NoSuchKeyError(StoreError, NotFoundError, KeyError):
    """The object does not exist (S3's NoSuchKey)."""

    code = "NoSuchKey"

    def __str__(self) -> str:  # KeyError quotes its message; we want the plain text
        return str(self.args[0]) if self.args else "no such key"


class NoSuchBucketError(StoreError, NotFoundError):
    """The lake (bucket) does not exist, and the command does not create one (S3's NoSuchBucket)."""

    code = "NoSuchBucket"


class StorageFullError(StoreError, code="StorageFull", http_status=507):
    """The disk is full: the message names what could not be written and how much space it needed."""


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
    """A bucket. Writes are atomic: a reader sees the old object, the new one, or none; never half of one.

    Where the backends differ from S3: LocalStore's ETags identify a version of the file, not an MD5 of its
    content (see :mod:`lakebox.store.local`); listings are returned whole, in key order, never as pages;
    ``temp_path`` and ``local_path`` are lakebox's own (S3 has no local paths).
    """

    @property
    def url(self) -> str:
        """The lake's location: a folder path, or ``s3://bucket[/prefix]``."""
        ...

    def put_object(self, key: str, data: bytes) -> ObjectInfo:
        """PutObject: write ``data`` at ``key`` atomically, replacing any object there."""
        ...

    def put_objects(self, items: Sequence[tuple[str, bytes]]) -> list[ObjectInfo]:
        """Store several small objects, each atomically as :meth:`put_object` does, in order.

        Not a transaction across objects (S3 has none): a failure part-way leaves the earlier ones stored.
        LocalStore makes them durable together (one flush of the folder's journal instead of one per
        object), which is what makes recording a batch of runs cost about what recording one does."""
        ...

    def upload_file(self, key: str, path: Path) -> ObjectInfo:
        """Upload a local file to ``key``: moved into place when it is a :meth:`temp_path` of a LocalStore,
        copied otherwise; a multipart upload on S3 when large. The caller owns (and removes) ``path``."""
        ...

    def copy_object(self, source_key: str, key: str) -> ObjectInfo:
        """CopyObject within the lake: ``source_key`` to ``key`` (multipart copy on S3 when large).

        Raises :class:`NoSuchKeyError` when the source does not exist."""
        ...

    def get_object(self, key: str) -> bytes:
        """GetObject: the whole object. Raises :class:`NoSuchKeyError` when it does not exist."""
        ...

    def open_object(self, key: str) -> BinaryIO:
        """GetObject as a binary stream; the caller closes it. Raises :class:`NoSuchKeyError`."""
        ...

    def head_object(self, key: str) -> ObjectInfo:
        """HeadObject: size, ETag and modification time. Raises :class:`NoSuchKeyError`."""
        ...

    def list_objects_v2(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order; temp files are never listed."""
        ...

    def delete_object(self, key: str) -> None:
        """DeleteObject; deleting a missing key succeeds, as on S3."""
        ...

    def exists(self, key: str) -> bool:
        """True when an object is stored at ``key`` (a HeadObject that does not raise)."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A path DuckDB can read directly, or None when the object must be downloaded first."""
        ...

    def temp_path(self, key: str) -> Path:
        """A fresh local path to write a file that will be uploaded to ``key`` with :meth:`upload_file`.

        LocalStore: a hidden temp file next to the destination, so the upload is an atomic same-folder
        rename. S3Store: a file in the system temp folder. Either way the caller removes it if it is still
        there after the upload (or on failure)."""
        ...

"""S3Store: an S3 bucket (optionally under a key prefix) as the lake.

Same contract as :class:`~lakebox.store.local.LocalStore`:

- Keys are validated with :func:`~lakebox.store.base.validate_key`, so a key that is refused locally is refused
  here too, and the optional prefix is prepended transparently (callers only ever see lake-relative keys).
- Writes are atomic because S3 makes them so: a single PUT, or a multipart upload that only becomes visible
  when it is completed. There is no temp object to clean up, but keys whose basename starts with
  ``.lakebox-tmp-`` are still skipped in listings, so a lake copied from a folder (``aws s3 sync``) behaves the
  same way.
- ETags are S3's, without the surrounding quotes (as S3 event notifications carry them).

No client is created at import time or in ``__init__``: boto3 is imported and the client built on first use,
so constructing a store for ``lakebox settings`` or ``--help`` costs nothing and needs no credentials.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from lakebox.awsclient import LazyClient
from lakebox.core.errors import aws_error_code
from lakebox.store.base import TMP_PREFIX, NoSuchKeyError, ObjectInfo, StoreError, validate_key

if TYPE_CHECKING:  # pragma: no cover - typing only
    from boto3.s3.transfer import TransferConfig

#: Objects at or above this size go up as a multipart upload (S3's single PUT tops out at 5 GB, and
#: multipart lets boto3 retry one part instead of the whole object).
MULTIPART_THRESHOLD = 64 * 1024 * 1024
MULTIPART_CHUNKSIZE = 16 * 1024 * 1024

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


@contextmanager
def _not_found_as(key: str) -> Iterator[None]:
    """Turn S3's 404 / NoSuchKey into the Store interface's NoSuchKeyError, naming the lake key."""
    try:
        yield
    except Exception as exc:
        if aws_error_code(exc) in _NOT_FOUND:
            raise NoSuchKeyError(f"no such key: {key}") from exc
        raise


def _strip_etag(etag: str | None) -> str:
    return (etag or "").strip('"')


def parse_s3_url(url: str) -> tuple[str, str]:
    """Split ``s3://bucket[/prefix]`` into ``(bucket, prefix)``; the prefix is '' or ends with ``/``."""
    if not url.startswith("s3://"):
        raise StoreError(f"not an s3:// URL: {url!r}")
    rest = url[len("s3://"):]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise StoreError(f"s3 URL {url!r} has no bucket name")
    prefix = prefix.strip("/")
    if prefix:
        validate_key(prefix)
        prefix += "/"
    return bucket, prefix


class S3Store:
    """A bucket, or a prefix inside one, used as the lake.

    ``client`` may be injected (tests, or callers that share one); otherwise one is built lazily from
    ``endpoint_url`` and ``region``.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        client: Any = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        multipart_chunksize: int = MULTIPART_CHUNKSIZE,
    ) -> None:
        if not bucket:
            raise StoreError("S3Store needs a bucket name")
        self.bucket = bucket
        prefix = prefix.strip("/")
        if prefix:
            validate_key(prefix)
        self.prefix = prefix + "/" if prefix else ""
        self.endpoint_url = endpoint_url
        self.region = region
        self.multipart_threshold = multipart_threshold
        self.multipart_chunksize = multipart_chunksize
        self._clients = LazyClient("s3", self.endpoint_url, self.region, client)

    @classmethod
    def from_url(cls, url: str, endpoint_url: str | None = None, region: str | None = None) -> S3Store:
        """``s3://bucket`` or ``s3://bucket/some/prefix``."""
        bucket, prefix = parse_s3_url(url)
        return cls(bucket, prefix, endpoint_url=endpoint_url, region=region)

    # --- plumbing ------------------------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The boto3 S3 client, built on first use (thread-safe: the watcher's workers share the store)."""
        return self._clients.get()

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/") if self.prefix else f"s3://{self.bucket}"

    def __repr__(self) -> str:
        return f"S3Store({self.url!r})"

    def _key(self, key: str) -> str:
        validate_key(key)
        return self.prefix + key

    def _rel(self, full_key: str) -> str:
        return full_key[len(self.prefix):]

    def _transfer_config(self) -> TransferConfig:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(multipart_threshold=self.multipart_threshold,
                              multipart_chunksize=self.multipart_chunksize)

    # --- writes --------------------------------------------------------------------------------------------

    def put_object(self, key: str, data: bytes) -> ObjectInfo:
        full = self._key(key)
        resp = self.client.put_object(Bucket=self.bucket, Key=full, Body=data)
        # PutObject returns the ETag but no timestamp; one HEAD would cost a round trip for a value nobody
        # needs right after a write, so the client clock stands in for LastModified.
        return ObjectInfo(key, len(data), _strip_etag(resp.get("ETag")), dt.datetime.now(dt.UTC))

    def put_objects(self, items: Sequence[tuple[str, bytes]]) -> list[ObjectInfo]:
        """One PUT per object (each is durable on its own in S3)."""
        return [self.put_object(key, data) for key, data in items]

    def upload_file(self, key: str, path: Path) -> ObjectInfo:
        """Upload a local file: one PUT when small, a multipart upload (completed atomically) when large.

        The local file is left in place (as LocalStore's copy branch does); callers own their temp files.
        """
        full = self._key(key)
        self.client.upload_file(str(Path(path)), self.bucket, full, Config=self._transfer_config())
        # HEAD after upload: a multipart ETag ("<md5>-<parts>") is only known once the upload is completed.
        return self.head_object(key)

    def copy_object(self, source_key: str, key: str) -> ObjectInfo:
        """CopyObject inside the bucket; the transfer manager switches to a multipart copy (UploadPartCopy)
        above the multipart threshold, since a single CopyObject tops out at 5 GB."""
        source = {"Bucket": self.bucket, "Key": self._key(source_key)}
        full = self._key(key)
        with _not_found_as(source_key):
            self.client.copy(source, self.bucket, full, Config=self._transfer_config())
        return self.head_object(key)

    def delete_object(self, key: str) -> None:
        # S3's DeleteObject succeeds for a missing key, like LocalStore's unlink(missing_ok=True).
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    # --- reads ---------------------------------------------------------------------------------------------

    def get_object(self, key: str) -> bytes:
        with self.open_object(key) as fh:
            return fh.read()

    def open_object(self, key: str) -> BinaryIO:
        """The object's streaming body (botocore's StreamingBody): read in chunks, close when done."""
        with _not_found_as(key):
            resp = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        body: BinaryIO = resp["Body"]
        return body

    def head_object(self, key: str) -> ObjectInfo:
        with _not_found_as(key):
            resp = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        modified = resp.get("LastModified") or dt.datetime.now(dt.UTC)
        return ObjectInfo(key, int(resp.get("ContentLength", 0)), _strip_etag(resp.get("ETag")), modified)

    def exists(self, key: str) -> bool:
        try:
            self.head_object(key)
        except NoSuchKeyError:
            return False
        return True

    def list_objects_v2(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under ``prefix`` in key order (ListObjectsV2 pages are already UTF-8 binary order)."""
        if prefix:
            validate_key(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        found: list[ObjectInfo] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            for obj in page.get("Contents", []):
                rel = self._rel(obj["Key"])
                base = rel.rsplit("/", 1)[-1]
                if not base or base.startswith(TMP_PREFIX):
                    continue  # "folder" placeholder objects and temp names are not objects of the lake
                found.append(ObjectInfo(rel, int(obj.get("Size", 0)), _strip_etag(obj.get("ETag")),
                                        obj.get("LastModified") or dt.datetime.now(dt.UTC)))
        # Sorted by Python's str order to match LocalStore exactly (S3 sorts by UTF-8 bytes, which differs
        # for keys mixing BMP and astral characters).
        found.sort(key=lambda o: o.key)
        yield from found

    def local_path(self, key: str) -> Path | None:
        """Never a local path: callers download through :meth:`open_object`."""
        self._key(key)
        return None

    def temp_path(self, key: str) -> Path:
        """A fresh file in the system temp folder (Lambda's /tmp), named after ``key``'s basename."""
        self._key(key)
        fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, suffix="-" + key.rsplit("/", 1)[-1] + ".tmp")
        os.close(fd)
        return Path(name)

    # --- conveniences used by deploy and tests ------------------------------------------------------------

    def create_bucket(self) -> None:
        """Create the bucket if it does not exist (used for emulators; on AWS the stack creates it)."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        region = self.region or self.client.meta.region_name
        if region and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(**kwargs)
        except Exception as exc:
            if aws_error_code(exc) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise

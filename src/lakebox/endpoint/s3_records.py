"""S3's per-object facts that a folder does not keep: the ETag (MD5, or the multipart form), the
Content-Type and the ``x-amz-meta-*`` metadata.

One small JSON record per object under ``_lakebox/endpoint/objects/<key>.json``, tied to the version of the
file it describes (the store's own ETag). An object written by lakebox itself (processed output), or changed
behind the endpoint's back, has no matching record: its MD5 is computed on first use and cached in memory.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import threading
from typing import Any

from lakebox.endpoint.backend import ENDPOINT_STATE, Bucket, KeyRefused, StoredObject

log = logging.getLogger("lakebox.endpoint.s3")
OBJECTS = ENDPOINT_STATE + "objects/"
#: Records remembered in memory per (bucket, key, version), so listings need not read them again.
CACHE_SIZE = 50_000


class ObjectRecords:
    """Reads and writes the per-object records of every bucket."""

    def __init__(self) -> None:
        # Records by (bucket, key, version): read from disk or computed once per object version.
        self._cache: collections.OrderedDict[tuple[str, str, str], dict[str, Any]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, b: Bucket, key: str, obj: StoredObject) -> dict[str, Any]:
        """The object's S3 record (ETag, content type, user metadata), computing the MD5 of objects that
        lakebox wrote itself."""
        cache_key = (b.name, key, obj.version)
        with self._lock:
            rec = self._cache.get(cache_key)
        if rec is not None:
            return rec
        rec = self._stored(b, key)
        if rec is None or rec.get("version") != obj.version:
            md5 = hashlib.md5(usedforsecurity=False)
            with b.open(key) as fh:
                for block in iter(lambda: fh.read(1024 * 1024), b""):
                    md5.update(block)
            rec = {"etag": f'"{md5.hexdigest()}"', "version": obj.version, "content_type": "binary/octet-stream",
                   "metadata": {}}
        self._remember(cache_key, rec)
        return rec

    def _remember(self, cache_key: tuple[str, str, str], rec: dict[str, Any]) -> None:
        with self._lock:
            self._cache[cache_key] = rec
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)

    @staticmethod
    def _stored(b: Bucket, key: str) -> dict[str, Any] | None:
        """The record as written, or None when there is none (the object was written outside the endpoint)
        or it cannot be read."""
        try:
            rec = json.loads(b.read(OBJECTS + key + ".json"))
        except (KeyError, ValueError, IsADirectoryError, NotADirectoryError):
            return None
        return rec if isinstance(rec, dict) else None

    def save(self, b: Bucket, key: str, obj: StoredObject, etag: str, content_type: str | None,
             metadata: dict[str, str] | None) -> None:
        rec = {"etag": etag, "version": obj.version, "content_type": content_type or "binary/octet-stream",
               "metadata": metadata or {}}
        self._remember((b.name, key, obj.version), rec)
        try:
            b.write_record(OBJECTS + key + ".json", json.dumps(rec).encode())
        except (OSError, KeyRefused) as exc:
            # A key whose record path cannot exist (a folder in the way): the MD5 is recomputed on read.
            log.debug("no record for %s/%s: %s", b.name, key, exc)

    def delete(self, b: Bucket, key: str) -> None:
        try:
            b.delete(OBJECTS + key + ".json")
        except (KeyRefused, IsADirectoryError) as exc:
            log.debug("no record to remove for %s/%s: %s", b.name, key, exc)

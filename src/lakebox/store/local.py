"""LocalStore: a folder is the bucket.

Writes go to a hidden temp file in the destination folder and are moved into place with ``os.replace``, which
is atomic on POSIX: readers and the watcher never see half an object. Temp files start with ``.lakebox-tmp-``
and are never listed.

ETags differ from S3's: S3 uses the MD5 of the content; hashing a 230 MB upload would cost more than processing
it, so a local ETag identifies a *version of the file* (size, mtime, inode). A file rewritten with identical
content gets a new ETag and is reprocessed, which is harmless because processing is idempotent.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import hashlib
import os
import shutil
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from lakebox.store.base import (
    LAYOUT,
    TMP_PREFIX,
    InvalidKeyError,
    NoSuchKeyError,
    ObjectInfo,
    StorageFullError,
    validate_key,
)
from lakebox.store.diskspace import disk_full


def _syncfs(folder: Path) -> bool:
    """syncfs(2): flush the file system holding ``folder`` in one call (Linux). False where it is not
    available, or failed; the caller then fsyncs file by file."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(folder, os.O_RDONLY)
    except (OSError, AttributeError):
        return False
    try:
        return bool(libc.syncfs(fd) == 0)
    except AttributeError:  # a libc without syncfs
        return False
    finally:
        os.close(fd)


def _write_error(exc: OSError, key: str, where: Path, size: int) -> OSError | StorageFullError:
    """A full disk as :class:`StorageFullError` naming the key; any other OSError unchanged."""
    full = disk_full(exc, key, where, size)
    return full if full is not None else exc


def _etag(st: os.stat_result) -> str:
    return hashlib.md5(f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}".encode(), usedforsecurity=False).hexdigest()


class LocalStore:
    """A folder used as an S3 bucket."""

    def __init__(self, root: str | os.PathLike[str], create: bool = True) -> None:
        self.root = Path(root).resolve()
        if create:
            self.create_layout()

    @property
    def url(self) -> str:
        return str(self.root)

    def create_layout(self) -> None:
        for prefix in LAYOUT:
            (self.root / prefix).mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        validate_key(key)
        path = (self.root / key).resolve()
        if path != self.root and self.root not in path.parents:
            raise InvalidKeyError(f"object key {key!r} escapes the lake")
        return path

    def _info(self, key: str, path: Path) -> ObjectInfo:
        st = path.stat()
        return ObjectInfo(key, st.st_size, _etag(st), dt.datetime.fromtimestamp(st.st_mtime, dt.UTC))

    def _tmp_for(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        # The .tmp suffix keeps temp files out of every "*.csv" / "*.parquet" glob and trigger filter.
        return path.parent / f"{TMP_PREFIX}{uuid.uuid4().hex}-{path.name}.tmp"

    def put_object(self, key: str, data: bytes) -> ObjectInfo:
        path = self._path(key)
        try:
            tmp = self._tmp_for(path)
            try:
                with open(tmp, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        except OSError as exc:
            raise _write_error(exc, key, path.parent, len(data)) from exc
        return self._info(key, path)

    def put_objects(self, items: Sequence[tuple[str, bytes]]) -> list[ObjectInfo]:
        """Every object is written to its temp file, the file system is synced once, then each is renamed into
        place: the same guarantee as :meth:`put_object` (the bytes are on disk before the name points at
        them) for about the cost of one fsync instead of one per object (each fsync is a journal commit)."""
        staged: list[tuple[str, Path, Path, int]] = []
        try:
            for key, data in items:
                path = self._path(key)
                tmp = self._tmp_for(path)
                staged.append((key, path, tmp, len(data)))
                try:
                    with open(tmp, "wb") as fh:
                        fh.write(data)
                except OSError as exc:
                    raise _write_error(exc, key, path.parent, len(data)) from exc
            if staged and not _syncfs(self.root):
                for key, path, tmp, size in staged:
                    try:
                        fd = os.open(tmp, os.O_RDONLY)
                        try:
                            os.fsync(fd)
                        finally:
                            os.close(fd)
                    except OSError as exc:
                        raise _write_error(exc, key, path.parent, size) from exc
            out = []
            for key, path, tmp, size in staged:
                try:
                    os.replace(tmp, path)
                except OSError as exc:
                    raise _write_error(exc, key, path.parent, size) from exc
                out.append(self._info(key, path))
            return out
        finally:
            for _, _, tmp, _ in staged:
                tmp.unlink(missing_ok=True)

    def upload_file(self, key: str, path: Path) -> ObjectInfo:
        """A :meth:`temp_path` (same folder) is renamed into place; any other file is copied, then renamed."""
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        src = Path(path)
        if src.parent == dest.parent:
            os.replace(src, dest)
        else:
            self._copy_into(src, dest)
        return self._info(key, dest)

    def _copy_into(self, src: Path, dest: Path) -> None:
        """Copy to a temp file beside ``dest``, then rename: readers never see a partial copy."""
        try:
            tmp = self._tmp_for(dest)
            try:
                shutil.copyfile(src, tmp)
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)
        except OSError as exc:
            key = dest.relative_to(self.root).as_posix()
            raise _write_error(exc, key, dest.parent, src.stat().st_size) from exc

    def copy_object(self, source_key: str, key: str) -> ObjectInfo:
        src, dest = self._path(source_key), self._path(key)
        if not src.is_file():
            raise NoSuchKeyError(f"no such key: {source_key}")
        self._copy_into(src, dest)
        return self._info(key, dest)

    def temp_path(self, key: str) -> Path:
        """A hidden temp path next to ``key``'s destination, so :meth:`upload_file` is a same-folder rename."""
        return self._tmp_for(self._path(key))

    def get_object(self, key: str) -> bytes:
        with self.open_object(key) as fh:
            return fh.read()

    def open_object(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            return open(path, "rb")
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise NoSuchKeyError(f"no such key: {key}") from exc

    def head_object(self, key: str) -> ObjectInfo:
        path = self._path(key)
        if not path.is_file():
            raise NoSuchKeyError(f"no such key: {key}")
        return self._info(key, path)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list_objects_v2(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if prefix:
            validate_key(prefix)
        # Walk only the folder the prefix points into, then filter by the full prefix.
        base_rel = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        base = self.root / base_rel if base_rel else self.root
        if not base.is_dir():
            return
        found: list[tuple[str, Path]] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(TMP_PREFIX))
            rel_dir = os.path.relpath(dirpath, self.root)
            for name in filenames:
                if name.startswith(TMP_PREFIX):
                    continue
                key = name if rel_dir == "." else f"{rel_dir.replace(os.sep, '/')}/{name}"
                if key.startswith(prefix):
                    found.append((key, Path(dirpath) / name))
        for key, path in sorted(found):
            try:
                yield self._info(key, path)
            except FileNotFoundError:
                continue  # deleted between listing and stat: S3 listings are not snapshots either

    def delete_object(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

"""The Store contract: every action of :class:`lakebox.store.base.Store`, run against LocalStore and S3Store
(on moto's server, at the bucket's root and inside a prefix) with the same calls and expected answers."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from lakebox.core.errors import InvalidInputError, LakeboxError, NotFoundError
from lakebox.store.base import TMP_PREFIX, InvalidKeyError, NoSuchKeyError, ObjectInfo, Store, StoreError

BAD_KEYS = ["", "/abs/key", "a/../b", "../escape", "a//b", "a/./b", "back\\slash", "nul\x00byte"]


def test_the_backend_implements_the_protocol(store: Store) -> None:
    assert isinstance(store, Store)
    assert store.url


def test_put_get_head(store: Store) -> None:
    put = store.put_object("raw/a.csv", b"hello")
    assert isinstance(put, ObjectInfo) and (put.key, put.size) == ("raw/a.csv", 5) and put.etag
    assert store.get_object("raw/a.csv") == b"hello"
    head = store.head_object("raw/a.csv")
    assert (head.key, head.size, head.etag) == ("raw/a.csv", 5, put.etag)
    assert isinstance(head.modified, dt.datetime) and head.modified.tzinfo is not None
    assert store.exists("raw/a.csv") and not store.exists("raw/b.csv")

    again = store.put_object("raw/a.csv", b"hello, again")  # a new version replaces the object
    assert store.get_object("raw/a.csv") == b"hello, again"
    assert again.etag != put.etag and store.head_object("raw/a.csv").size == 12


def test_put_objects_stores_each_in_order(store: Store) -> None:
    store.put_object("_lakebox/state/b.json", b"old")
    infos = store.put_objects([("_lakebox/runs/a.json", b"one"), ("_lakebox/state/b.json", b"two, new")])
    assert [(i.key, i.size) for i in infos] == [("_lakebox/runs/a.json", 3), ("_lakebox/state/b.json", 8)]
    assert store.get_object("_lakebox/runs/a.json") == b"one"
    assert store.get_object("_lakebox/state/b.json") == b"two, new"
    assert [o.key for o in store.list_objects_v2("_lakebox/")] == ["_lakebox/runs/a.json", "_lakebox/state/b.json"]
    assert store.put_objects([]) == []


def test_missing_objects_raise_no_such_key(store: Store) -> None:
    for action in (store.get_object, store.head_object, store.open_object):
        with pytest.raises(NoSuchKeyError) as err:
            action("raw/missing.csv")
        assert "raw/missing.csv" in str(err.value)
        assert isinstance(err.value, NotFoundError) and isinstance(err.value, LakeboxError)
        assert err.value.code == "NoSuchKey" and err.value.http_status == 404
        assert isinstance(err.value, KeyError)  # callers written against the dict-like API still work


def test_open_object_streams(store: Store) -> None:
    data = os.urandom(300_000)
    store.put_object("processed/blob.bin", data)
    with store.open_object("processed/blob.bin") as fh:
        chunks = []
        while chunk := fh.read(65536):
            chunks.append(chunk)
    assert b"".join(chunks) == data


def test_list_objects_v2(store: Store) -> None:
    for key in ["raw/b.csv", "raw/a.csv", "raw/sub/c.csv", "processed/x.parquet", "rawish/d.csv"]:
        store.put_object(key, key.encode())
    assert [o.key for o in store.list_objects_v2("raw/")] == ["raw/a.csv", "raw/b.csv", "raw/sub/c.csv"]
    assert [o.key for o in store.list_objects_v2("raw")] == [
        "raw/a.csv", "raw/b.csv", "raw/sub/c.csv", "rawish/d.csv"]  # a prefix, not a folder
    assert [o.key for o in store.list_objects_v2("raw/a")] == ["raw/a.csv"]
    listed = {o.key: o for o in store.list_objects_v2()}
    assert set(listed) == {"raw/b.csv", "raw/a.csv", "raw/sub/c.csv", "processed/x.parquet", "rawish/d.csv"}
    assert listed["raw/a.csv"].size == len(b"raw/a.csv")
    assert listed["raw/a.csv"].etag == store.head_object("raw/a.csv").etag
    assert list(store.list_objects_v2("nothing/")) == []


def test_temp_files_are_never_listed(store: Store) -> None:
    store.put_object("processed/real.parquet", b"x")
    tmp = store.temp_path("processed/next.parquet")
    tmp.write_bytes(b"half written")
    try:
        assert [o.key for o in store.list_objects_v2("processed/")] == ["processed/real.parquet"]
        assert tmp.name.startswith(TMP_PREFIX)
    finally:
        tmp.unlink(missing_ok=True)


def test_upload_file_from_temp_path(store: Store) -> None:
    tmp = store.temp_path("processed/out.parquet")
    assert not store.exists("processed/out.parquet")
    tmp.write_bytes(b"parquet bytes")
    try:
        info = store.upload_file("processed/out.parquet", tmp)
    finally:
        tmp.unlink(missing_ok=True)
    assert (info.key, info.size) == ("processed/out.parquet", 13)
    assert store.get_object("processed/out.parquet") == b"parquet bytes"
    assert store.head_object("processed/out.parquet").etag == info.etag


def test_upload_file_leaves_an_outside_file_in_place(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "outside.csv"
    src.write_bytes(b"a,b\n1,2\n")
    store.upload_file("raw/outside.csv", src)
    assert src.read_bytes() == b"a,b\n1,2\n"
    assert store.get_object("raw/outside.csv") == b"a,b\n1,2\n"


def test_upload_file_large_enough_for_multipart(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    data = os.urandom(11 * 1024 * 1024)  # above the S3 fixture's 5 MB multipart threshold: three parts
    src.write_bytes(data)
    info = store.upload_file("processed/big.bin", src)
    assert info.size == len(data)
    assert store.get_object("processed/big.bin") == data


def test_copy_object(store: Store) -> None:
    store.put_object("raw/src.csv", b"copy me")
    info = store.copy_object("raw/src.csv", "enriched/dst.csv")
    assert (info.key, info.size) == ("enriched/dst.csv", 7)
    assert store.get_object("enriched/dst.csv") == b"copy me"
    assert store.get_object("raw/src.csv") == b"copy me"  # the source stays
    store.put_object("raw/src.csv", b"changed")
    assert store.get_object("enriched/dst.csv") == b"copy me"  # a copy, not a link
    with pytest.raises(NoSuchKeyError):
        store.copy_object("raw/missing.csv", "enriched/x.csv")
    assert not store.exists("enriched/x.csv")


def test_delete_object(store: Store) -> None:
    store.put_object("raw/a.csv", b"x")
    store.delete_object("raw/a.csv")
    assert not store.exists("raw/a.csv")
    assert list(store.list_objects_v2("raw/")) == []
    store.delete_object("raw/a.csv")  # deleting a missing key succeeds, as on S3


def test_local_path(store: Store) -> None:
    store.put_object("raw/a.csv", b"local?")
    path = store.local_path("raw/a.csv")
    if path is not None:  # LocalStore: a path DuckDB reads directly
        assert path.read_bytes() == b"local?"
    else:  # S3Store: never; callers download through open_object
        assert store.url.startswith("s3://")


@pytest.mark.parametrize("key", BAD_KEYS)
def test_invalid_keys_are_refused_everywhere(store: Store, key: str) -> None:
    actions = [
        lambda: store.put_object(key, b"x"),
        lambda: store.get_object(key),
        lambda: store.head_object(key),
        lambda: store.open_object(key),
        lambda: store.delete_object(key),
        lambda: store.exists(key),
        lambda: store.local_path(key),
        lambda: store.temp_path(key),
        lambda: store.copy_object(key, "raw/x.csv"),
        lambda: store.copy_object("raw/x.csv", key),
    ]
    if key:  # the empty prefix lists the whole lake
        actions.append(lambda: list(store.list_objects_v2(key)))
    for action in actions:
        with pytest.raises(InvalidKeyError) as err:
            action()
        assert isinstance(err.value, InvalidInputError) and isinstance(err.value, StoreError)
        assert err.value.http_status == 400

"""LocalStore: the folder-as-bucket layout, atomic writes and key validation."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from lakebox.store.base import LAYOUT, InvalidKeyError, NoSuchKeyError, validate_key
from lakebox.store.local import LocalStore


def test_layout_is_created(tmp_path: Path) -> None:
    LocalStore(tmp_path / "lake")
    for prefix in LAYOUT:
        assert (tmp_path / "lake" / prefix).is_dir()


def test_put_get_head_list_delete(tmp_path: Path) -> None:
    st = LocalStore(tmp_path)
    info = st.put_object("raw/a b.csv", b"hello")
    assert info.size == 5 and info.etag and st.head_object("raw/a b.csv").etag == info.etag
    assert st.get_object("raw/a b.csv") == b"hello"
    with st.open_object("raw/a b.csv") as fh:
        assert fh.read(2) == b"he"
    st.put_object("raw/sub/c.csv", b"x")
    st.put_object("processed/d.parquet", b"y")
    assert [o.key for o in st.list_objects_v2("raw/")] == ["raw/a b.csv", "raw/sub/c.csv"]
    assert [o.key for o in st.list_objects_v2("raw/s")] == ["raw/sub/c.csv"]
    st.delete_object("raw/a b.csv")
    assert not st.exists("raw/a b.csv")
    with pytest.raises(NoSuchKeyError):
        st.get_object("raw/a b.csv")
    with pytest.raises(NoSuchKeyError):
        st.head_object("raw/nope.csv")


def test_etag_changes_when_the_object_is_replaced(tmp_path: Path) -> None:
    st = LocalStore(tmp_path)
    a = st.put_object("raw/x.csv", b"one").etag
    b = st.put_object("raw/x.csv", b"two").etag
    assert a != b


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../x", "raw/../../x", "raw/./x", "raw//x", "a\\b", "a\x00b",
                                 "C:/x"])
def test_bad_keys_are_refused(tmp_path: Path, key: str) -> None:
    st = LocalStore(tmp_path)
    with pytest.raises(InvalidKeyError):
        st.put_object(key, b"x")
    with pytest.raises(InvalidKeyError):
        validate_key(key)


def test_symlink_escape_is_refused(tmp_path: Path) -> None:
    st = LocalStore(tmp_path / "lake")
    os.symlink(tmp_path, tmp_path / "lake" / "raw" / "out")
    with pytest.raises(InvalidKeyError):
        st.put_object("raw/out/evil.csv", b"x")


def test_temp_files_are_never_listed_and_writes_are_atomic(tmp_path: Path) -> None:
    """A reader polling the key sees either nothing or a whole object, never a prefix of it."""
    st = LocalStore(tmp_path)
    body = b"x" * 5_000_000
    seen: set[int] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                seen.add(len(st.get_object("processed/big.bin")))
            except NoSuchKeyError:
                seen.add(0)

    t = threading.Thread(target=reader)
    t.start()
    for _ in range(5):
        st.put_object("processed/big.bin", body)
        assert all(".lakebox-tmp-" not in o.key for o in st.list_objects_v2(""))
    stop.set()
    t.join()
    assert seen <= {0, len(body)}
    assert not [p for p in (tmp_path / "processed").iterdir() if p.name.startswith(".lakebox-tmp-")]

"""The local object store: atomic writes, and no key can name a file outside it."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from metalake import InvalidPathError, StorageError
from metalake.blobs.keys import check_key
from metalake.blobs.local import LocalBlobStore


@pytest.mark.parametrize(
    "key",
    ["", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", "a/..", "a\\b", "a\x00b", "a/"],
)
def test_unsafe_keys_are_refused(tmp_path: Path, key: str):
    store = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(InvalidPathError):
        check_key(key)
    with pytest.raises(InvalidPathError):
        store.put_bytes(key, b"x")
    assert [p for p in (tmp_path).rglob("*") if p.is_file()] == []


def test_staged_bytes_are_invisible_until_committed(tmp_path: Path):
    store = LocalBlobStore(tmp_path / "blobs")
    staged = store.stage(io.BytesIO(b"hello" * 1000), suffix=".jpg")

    assert staged.size == 5000
    assert staged.sha256 == hashlib.sha256(b"hello" * 1000).hexdigest()
    assert not store.exists("col/a.jpg")
    store.commit(staged, "col/a.jpg")
    assert store.path_of("col/a.jpg").read_bytes() == b"hello" * 1000
    assert not Path(staged.token).exists()


def test_replacing_a_blob_is_atomic(tmp_path: Path):
    store = LocalBlobStore(tmp_path / "blobs")
    store.put_bytes("k/v.bin", b"old")
    staged = store.stage(io.BytesIO(b"new"))
    assert store.path_of("k/v.bin").read_bytes() == b"old"
    store.commit(staged, "k/v.bin")
    with store.open("k/v.bin") as f:
        assert f.read() == b"new"


def test_a_failed_read_leaves_no_temp_file(tmp_path: Path):
    class Broken(io.RawIOBase):
        def read(self, n: int = -1) -> bytes:
            raise OSError("disk gone")

    store = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(OSError, match="disk gone"):
        store.stage(Broken())
    assert list((tmp_path / "blobs" / ".tmp").iterdir()) == []
    with pytest.raises(StorageError, match="cannot read"):
        store.stage_file(tmp_path / "missing.jpg")
    with pytest.raises(StorageError, match="no bytes stored"), store.open("nope/x"):
        pass

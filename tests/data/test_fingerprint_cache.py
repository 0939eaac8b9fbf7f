"""Split fingerprints cached by file identity: reused while the file is unchanged, recomputed
when it is replaced, when the context (skeleton) differs or the cache entry is damaged; a
split read from disk gives the same fingerprint as the same arrays in memory."""

from __future__ import annotations

import os

import numpy as np
import pytest
from helpers_toy import toy_h36m

from posebench.data.dataset import read_split
from posebench.data.fingerprint_cache import _entry_path, cached_fingerprint


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("POSEBENCH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_reused_while_unchanged_recomputed_when_replaced(home, tmp_path):
    f = tmp_path / "split.npz"
    np.savez(f, a=np.arange(3))
    calls = []

    def compute(value="fp-1"):
        calls.append(value)
        return value

    assert cached_fingerprint(f, "h36m17|test", compute) == "fp-1"
    assert cached_fingerprint(f, "h36m17|test", lambda: compute("other")) == "fp-1"
    assert calls == ["fp-1"]  # second call served from the cache
    assert cached_fingerprint(f, "h36m32|test", lambda: compute("fp-ctx")) == "fp-ctx"
    tmp = tmp_path / "new.npz"
    np.savez(tmp, a=np.arange(4))
    os.replace(tmp, f)  # how posebench replaces a split: a new file renamed into place
    assert cached_fingerprint(f, "h36m32|test", lambda: compute("fp-2")) == "fp-2"
    _entry_path(f).write_text("{not json")
    assert cached_fingerprint(f, "h36m32|test", lambda: compute("fp-3")) == "fp-3"
    assert calls == ["fp-1", "fp-ctx", "fp-2", "fp-3"]


def test_read_split_fingerprint_equals_the_in_memory_one(home, tmp_path):
    root = toy_h36m(tmp_path / "ds")
    ds = read_split(root, "test", mmap_poses=True)
    for a in (ds.poses_3d, ds.poses_2d):  # file-backed (a view of the map), read-only
        assert isinstance(a.base, np.memmap) and not a.flags.writeable
    first = ds.fingerprint()
    assert _entry_path(root / "test.npz").is_file()
    assert read_split(root, "test").fingerprint() == first  # from the cache
    ds.source_file = None
    assert ds.fingerprint() == first  # recomputed from the arrays: the same
    sub = read_split(root, "test").take(np.arange(3))
    assert sub.source_file is None and sub.fingerprint() != first


def test_a_damaged_split_is_refused_although_its_poses_are_mapped(home, tmp_path):
    """Mapped members skip the CRC check np.load makes; the fingerprint (computed once per
    file identity) checks every member's CRC, so a flipped byte is one InputError."""
    from posebench.errors import InputError

    root = toy_h36m(tmp_path / "ds")
    f = root / "test.npz"
    data = bytearray(f.read_bytes())
    i = data.find(b"poses_3d.npy") + 400  # inside the member's data, past its header
    data[i] ^= 0xFF
    f.write_bytes(bytes(data))
    ds = read_split(root, "test", mmap_poses=True)
    with pytest.raises(InputError, match="fails its CRC-32 check"):
        ds.fingerprint()
    assert not _entry_path(f).exists()  # nothing cached for a damaged file

"""load_npz(mmap=...): uncompressed members as read-only memory maps, equal to np.load;
compressed members and object arrays take the loading path (and its refusal)."""

from __future__ import annotations

import numpy as np
import pytest

from posebench.errors import InputError
from posebench.io import load_npz, release_mapped


def test_stored_members_are_read_only_maps_equal_to_np_load(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"poses": rng.normal(size=(50, 17, 3)), "f32": rng.normal(size=(7, 2)).astype("<f4"),
              "big_endian": np.arange(6, dtype=">i8"), "names": np.array(["S1", "S11"]),
              "fortran": np.asfortranarray(rng.normal(size=(4, 3))), "empty": np.zeros((0, 3)),
              "kept": np.arange(3)}
    path = tmp_path / "a.npz"
    np.savez(path, **arrays)
    mapped = [k for k in arrays if k != "kept"]
    out = load_npz(path, mmap=tuple(mapped))
    for key, a in arrays.items():
        np.testing.assert_array_equal(out[key], a)
        assert out[key].dtype == a.dtype and out[key].shape == a.shape
    for key in ("poses", "f32", "big_endian", "names", "fortran"):
        assert isinstance(out[key], np.memmap) and not out[key].flags.writeable
        with pytest.raises(ValueError):
            out[key][...] = 0  # a read-only map: the file can never be written through it
    assert not isinstance(out["kept"], np.memmap)
    np.testing.assert_array_equal(np.load(path)["poses"], arrays["poses"])  # file untouched


def test_compressed_members_are_loaded_and_objects_still_refused(tmp_path):
    a = np.arange(12.0).reshape(4, 3)
    np.savez_compressed(tmp_path / "c.npz", a=a)
    out = load_npz(tmp_path / "c.npz", mmap=("a",))
    assert not isinstance(out["a"], np.memmap) and np.array_equal(out["a"], a)
    np.savez(tmp_path / "o.npz", o=np.array([{"x": 1}], dtype=object))
    with pytest.raises(InputError, match="object array"):
        load_npz(tmp_path / "o.npz", mmap=("o",))


def test_row_blocks_of_stored_and_compressed_members(tmp_path):
    from posebench.io import npz_row_blocks

    a = np.random.default_rng(1).normal(size=(23, 4, 3)).astype(np.float32)
    np.savez(tmp_path / "s.npz", a=a, f=np.asfortranarray(a[:, :, 0]))
    np.savez_compressed(tmp_path / "c.npz", a=a)
    for path, key in ((tmp_path / "s.npz", "a"), (tmp_path / "c.npz", "a"),
                      (tmp_path / "s.npz", "f")):
        shape, dtype, blocks = npz_row_blocks(path, key, rows=5)
        blocks = list(blocks)
        want = np.load(path)[key]
        assert shape == want.shape and dtype == want.dtype
        assert [len(b) for b in blocks] == [5, 5, 5, 5, 3]
        np.testing.assert_array_equal(np.concatenate(blocks), want)
    with pytest.raises(InputError, match="has no array 'b'"):
        npz_row_blocks(tmp_path / "s.npz", "b", rows=5)


def _resident_kb(path) -> int | None:
    """Resident kB of this process's mappings of `path` (/proc/self/smaps; None elsewhere)."""
    try:
        lines = open("/proc/self/smaps").read().splitlines()
    except OSError:
        return None
    total, inside = 0, False
    for line in lines:
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5:  # a mapping's header line
            inside = line.endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(head[1])
    return total


def test_released_map_gives_back_its_pages_and_still_reads(tmp_path):
    """`release_mapped` drops a read map's resident pages (the evaluation frees the split's
    ground truth this way once converted); the array still reads the same values after, and
    arrays that are not mapped are left alone."""
    path = tmp_path / "big.npz"
    a = np.arange(78000 * 51, dtype=np.float32).reshape(-1, 17, 3)
    np.savez(path, poses_3d=a)
    m = load_npz(path, mmap=("poses_3d",))["poses_3d"]
    view = np.asarray(m)[10:]  # a plain-ndarray view of the map (as datasets hold it)
    assert float(view.sum(dtype=np.float64)) == float(a[10:].sum(dtype=np.float64))
    before = _resident_kb(path)
    release_mapped(view)
    after = _resident_kb(path)
    if before is not None:
        assert before >= 10_000 and after < before / 4  # ~15.9 MB read, then given back
    np.testing.assert_array_equal(view, a[10:])
    plain = a.copy()
    release_mapped(plain)
    np.testing.assert_array_equal(plain, a)

"""MPI-INF-3DHP official test-set layout (TS*/annot_data.mat, MATLAB v7.3 via h5py)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from posebench.cli import main
from posebench.data.adapters.mpi3dhp_mat import ACTIVITIES, read_mat
from posebench.geometry.camera import project


def _write_ts(folder, seq, n, seed, f=(1500.0, 1498.0), c=(1017.0, 1043.0)):
    """One synthetic sequence, axes as MATLAB writes them (h5py shows (N, 1, 17, C))."""
    rng = np.random.default_rng(seed)
    p3 = rng.normal(0, 300, (n, 17, 3)) + np.array([0, 0, 4000.0])
    p2 = project(p3, np.array(f), np.array(c), model="none")
    d = folder / seq
    d.mkdir(parents=True)
    # MATLAB v7.3 files are HDF5 with a 512-byte user block
    with h5py.File(d / "annot_data.mat", "w", userblock_size=512) as h:
        h["annot2"] = p2[:, None]
        h["annot3"] = p3[:, None]
        h["univ_annot3"] = p3[:, None] * 0.9
        h["valid_frame"] = (np.arange(n) % 3 != 0).astype(np.float64)[:, None]
        h["activity_annotation"] = (np.arange(n) % 8).astype(np.float64)[:, None]
    return p3, p2


def test_mat_layout(tmp_path):
    p3, p2 = _write_ts(tmp_path, "TS1", 16, 0)
    _write_ts(tmp_path, "TS5", 8, 1)
    ds = read_mat(tmp_path).splits["test"]
    assert len(ds) == 24 and ds.skeleton == "3dhp17"
    assert set(ds.keys.subject) == {"TS1", "TS5"}
    m = ds.keys.subject == "TS1"
    order = np.argsort(ds.keys.frame[m])
    assert np.allclose(ds.poses_3d[m][order], p3)
    assert np.allclose(ds.extra["univ_poses_3d"][m][order], p3 * 0.9)
    assert np.allclose(ds.poses_2d[m][order], p2)
    codes = np.arange(16) % 8
    names = ds.keys.action[m][order]
    assert names[codes == 5].tolist() == [ACTIVITIES[5]] * 2 and names[0] == "Unlabelled"
    assert ds.valid[m][order].tolist() == (np.arange(16) % 3 != 0).tolist()
    assert set(ds.extra["scene"][~m]) == {"outdoor"} and set(ds.extra["scene"][m]) == {"GS"}
    # the fitted pinhole recovers the intrinsics used to make annot2
    assert np.allclose(ds.cameras.f[0], [1500, 1498], atol=1e-6)
    assert ds.cameras.width.tolist() == [2048, 1920] and ds.cameras.height.tolist() == [2048, 1080]
    assert np.array_equal(ds.keys.sort_order(), np.arange(len(ds)))


def test_mat_layout_bad_file(tmp_path, capsys):
    (tmp_path / "TS2").mkdir()
    (tmp_path / "TS2" / "annot_data.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\0" * 200)
    rc = main(["data", "prepare", "3dhp", "--from", "mat", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "annot_data.mat" in err and "v7.3" in err


@pytest.mark.parametrize("missing", ["univ_annot3", "valid_frame"])
def test_mat_layout_missing_key(tmp_path, capsys, missing):
    _write_ts(tmp_path, "TS3", 4, 2)
    with h5py.File(tmp_path / "TS3" / "annot_data.mat", "a") as h:
        del h[missing]
    rc = main(["data", "prepare", "3dhp", "--from", "mat", str(tmp_path)])
    assert rc == 2 and missing in capsys.readouterr().err

"""Adapters on the real mmpose samples in ../shared/fixtures (skipped when absent)."""

from __future__ import annotations

import numpy as np
import pytest

from posebench.data.adapters.h36m_mmpose import read_mmpose
from posebench.data.adapters.mpi3dhp_mmpose import read_mmpose as read_3dhp_mmpose
from posebench.data.dataset import read_meta, read_split
from posebench.data.prepare import prepare
from posebench.geometry.camera import project_with_table
from posebench.skeletons import get_skeleton


@pytest.fixture
def h36m(shared_fixtures):
    return read_mmpose(shared_fixtures / "mmpose" / "h36m").splits["train"]


def test_fixture_keys_parsed(h36m):
    assert h36m.keys.subject.tolist() == ["S1", "S5", "S7", "S8"]
    assert h36m.keys.action.tolist() == ["Directions", "SittingDown", "Greeting", "WalkDog"]
    # image names 000001, 002061, 000396, 000026 are 1-based
    assert h36m.keys.frame.tolist() == [0, 2060, 395, 25]
    # official trials: S1 "Directions 1" = 1, S5 "SittingDown" = 1, S7 "Greeting" = 2
    assert h36m.keys.subaction.tolist() == [1, 1, 2, 1]
    assert h36m.keys.camera.tolist() == ["54138969", "54138969", "55011271", "55011271"]


def test_fixture_projection_reproduces_2d_labels(h36m):
    uv = project_with_table(h36m.poses_3d, h36m.cameras, h36m.camera_index)
    assert np.abs(uv - h36m.poses_2d).max() < 1e-4
    assert 1000 < h36m.poses_3d[..., 2].min() and h36m.poses_3d[..., 2].max() < 8000  # mm


def test_fixture_left_right_from_geometry(h36m):
    """Chirality from the calibrated 3D, not from names: the body's forward direction
    f = up x (r_hip - l_hip) (x right, y down, z forward is right-handed) must point where
    the face and the knees are: the nose-level joint lies in front of the thorax-head_top line
    and the knees in front of the hip-ankle lines. With left/right swapped f flips and both
    cues turn negative."""
    sk = get_skeleton("h36m17")
    P = h36m.poses_3d
    j = {n: sk.index(n) for n in ("pelvis", "thorax", "neck", "head_top", "r_hip", "l_hip",
                                  "r_knee", "l_knee", "r_ankle", "l_ankle")}
    up = P[:, j["thorax"]] - P[:, j["pelvis"]]
    fwd = np.cross(up, P[:, j["r_hip"]] - P[:, j["l_hip"]])
    fwd /= np.linalg.norm(fwd, axis=-1, keepdims=True)
    face = P[:, j["neck"]] - (P[:, j["thorax"]] + P[:, j["head_top"]]) / 2
    knees = sum(P[:, j[f"{s}_knee"]] - (P[:, j[f"{s}_hip"]] + P[:, j[f"{s}_ankle"]]) / 2
                for s in "rl")
    assert (np.einsum("nd,nd->n", face, fwd) > 20).all()   # mm in front
    assert (np.einsum("nd,nd->n", knees, fwd) > 20).all()
    # S7 Greeting (row 2) faces camera 55011271 (face visible in the frame): forward points at
    # the camera, so the right hip is on the image-left
    assert fwd[2] @ -P[2, j["pelvis"]] > 0
    assert h36m.poses_2d[2, j["r_hip"], 0] < h36m.poses_2d[2, j["l_hip"], 0]


def test_fixture_prepare_writes_dataset(shared_fixtures, isolated_home):
    root = prepare("h36m", "mmpose", shared_fixtures / "mmpose" / "h36m")
    meta = read_meta(root)
    assert meta["kind"] == "h36m" and meta["skeleton"] == "h36m17"
    assert meta["cameras_pkl"]["max_deviation"]["c_px"] < 1e-3
    assert read_split(root, "train").image_path[0].startswith("S1/S1_Directions_1.54138969/")


def test_fixture_3dhp_mmpose_repairs_camera_height(shared_fixtures):
    with pytest.warns(UserWarning, match="h = 204.0"):
        prep = read_3dhp_mmpose(shared_fixtures / "mmpose" / "mpi_inf_3dhp")
    tr, te = prep.splits["train"], prep.splits["test"]
    assert (tr.cameras.height == 2048).all()
    assert tr.keys.subject.tolist() == ["S4", "S8"] and tr.keys.subaction.tolist() == [2, 1]
    assert tr.keys.camera.tolist() == ["0", "8"] and tr.keys.frame.tolist() == [1032, 2164]
    assert te.keys.subject.tolist() == ["TS1", "TS2"] and te.keys.frame.tolist() == [2000, 1849]
    assert te.extra["scene"].tolist() == ["GS", "GS"] and te.valid.all()
    # pinhole f, c from the pkl re-project S to `part` within the lens distortion (< 3 px)
    for ds in (tr, te):
        uv = project_with_table(ds.poses_3d, ds.cameras, ds.camera_index)
        seen = np.isfinite(ds.poses_2d).all(-1)
        assert np.abs(uv - ds.poses_2d)[seen].max() < 3.0
    # visibility flag 0 (TS2 joints 4 and 7) -> no 2D: they project left of the image (x < 0)
    assert np.argwhere(~np.isfinite(te.poses_2d).all(-1)).tolist() == [[1, 4], [1, 7]]
    assert (uv[1, [4, 7], 0] < 0).all() and np.isfinite(te.poses_3d).all()
    assert np.isfinite(tr.poses_2d).all() and prep.meta["test"]["not_visible_2d"] == 2

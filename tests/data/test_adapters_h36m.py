"""Human3.6M adapters on small files written in each layout (synthetic motion, real structure)."""

from __future__ import annotations

import fractions
import os
from pathlib import Path

import numpy as np
import pytest
from h36m_synthetic_layouts import (
    camera_frame,
    synthetic_world,
    write_cdf,
    write_mmpose,
    write_videopose3d,
)

from posebench.cli import main
from posebench.data.adapters.h36m_common import CAMERA_IDS, parse_sequence
from posebench.data.adapters.h36m_videopose3d import read_videopose3d
from posebench.data.dataset import read_split
from posebench.data.exclusions import exclusion_mask
from posebench.data.prepare import prepare
from posebench.geometry.camera import project_with_table
from posebench.skeletons import H36M_32_TO_17


@pytest.fixture(scope="module")
def seqs():
    """Two train trials (S1, incl. an original 'TakingPhoto' name) and two test trials."""
    return {"S1": {"Directions 1": synthetic_world(12, 1), "TakingPhoto": synthetic_world(7, 2)},
            "S9": {"Greeting": synthetic_world(9, 3), "Waiting 1": synthetic_world(5, 4)}}


def _run(args, capsys) -> tuple[int, str]:
    rc = main(args)
    return rc, capsys.readouterr().err


def _no_leftovers(home: Path) -> None:
    d = home / "datasets"
    left = [p.name for p in d.iterdir()] if d.is_dir() else []
    assert all(not n.startswith(".") for n in left), left


def test_trial_numbers_follow_official_metadata():
    assert parse_sequence("S1", "Directions 1", "t") == ("Directions", 1)
    assert parse_sequence("S1", "Directions", "t") == ("Directions", 2)
    assert parse_sequence("S1", "TakingPhoto", "t") == ("Photo", 2)
    assert parse_sequence("S1", "WalkingDog_1", "t") == ("WalkDog", 1)
    assert parse_sequence("S11", "Directions", "t") == ("Directions", 2)  # the corrupt one
    assert parse_sequence("S5", "Discussion 3", "t") == ("Discussion", 2)


def test_videopose3d_converts_world_metres_to_camera_mm(tmp_path, seqs):
    write_videopose3d(tmp_path, seqs)
    prep = read_videopose3d(tmp_path)
    tr, te = prep.splits["train"], prep.splits["test"]
    assert len(tr) == (12 + 7) * 4 and len(te) == (9 + 5) * 4
    assert set(te.keys.subject) == {"S9"} and set(tr.keys.action) == {"Directions", "Photo"}
    # canonical order already: sorting is the identity
    assert np.array_equal(tr.keys.sort_order(), np.arange(len(tr)))
    # independent formula: X_c = R^T_q (X_w - C), from the quaternion convention of the json
    world = seqs["S9"]["Greeting"][:, list(H36M_32_TO_17)].astype(np.float64) * 1000
    cam, uv = camera_frame(world / 1000, "S9")
    m = (te.keys.action == "Greeting") & (te.keys.camera == CAMERA_IDS[2])
    assert np.allclose(te.poses_3d[m], cam[:, 2], atol=1e-9)
    assert np.allclose(te.keys.frame[m], np.arange(9))
    # bone lengths are preserved by the rigid transform
    b_world = np.linalg.norm(world[:, 10] - world[:, 9], axis=-1)
    b_cam = np.linalg.norm(te.poses_3d[m][:, 10] - te.poses_3d[m][:, 9], axis=-1)
    assert np.allclose(b_world, b_cam)
    assert np.abs(project_with_table(te.poses_3d, te.cameras, te.camera_index)
                  - te.poses_2d).max() < 1e-9
    assert (te.poses_3d[..., 2] > 1000).all()  # in front of every camera


def test_same_poses_from_three_layouts_give_identical_datasets(tmp_path, seqs):
    write_videopose3d(tmp_path / "vp3d", seqs)
    write_mmpose(tmp_path / "mmpose", seqs)
    write_cdf(tmp_path / "cdf", seqs)
    prints = {}
    for layout in ("videopose3d", "mmpose", "cdf"):
        root = prepare("h36m", layout, tmp_path / {"videopose3d": "vp3d"}.get(layout, layout),
                       name=f"h36m-{layout}")
        prints[layout] = {s: read_split(root, s).fingerprint() for s in ("train", "test")}
    assert prints["videopose3d"] == prints["mmpose"] == prints["cdf"]


def test_videopose3d_2d_file_trims_length_mismatch(tmp_path, seqs):
    longer = {s: dict(a) for s, a in seqs.items()}
    write_videopose3d(tmp_path, longer, with_2d=True)
    # now make the mocap of one trial 3 frames longer than its video
    longer["S9"]["Waiting 1"] = np.concatenate([seqs["S9"]["Waiting 1"],
                                                synthetic_world(3, 9)])
    np.savez(tmp_path / "data_3d_h36m.npz", positions_3d=longer)
    prep = read_videopose3d(tmp_path)
    te = prep.splits["test"]
    assert ((te.keys.action == "Waiting").sum()) == 5 * 4
    (trim,) = prep.meta["trimmed"]
    assert (trim["subject"], trim["mocap_frames"], trim["kept"]) == ("S9", 8, 5)
    assert prep.meta["gt_2d_max_deviation_px"] < 1e-3  # float32 2D labels vs projection


def test_exclusions_select_named_trials(tmp_path, seqs):
    import posebench.data.h36m_exclusions  # noqa: F401  (registers)

    write_videopose3d(tmp_path, seqs)
    te = read_videopose3d(tmp_path).splits["test"]
    mask = exclusion_mask(te, "h36m-s9-misaligned-gt@v1")
    # S9 "Greeting" (no suffix) is trial 2 and "Waiting 1" is trial 1: both excluded
    assert mask.sum() == (9 + 5) * 4
    assert not exclusion_mask(te, "h36m-s11-directions-2-cam54138969@v1").any()


# ------------------------------------------------------------------ bad input, via the CLI
def _vp3d_args(path) -> list[str]:
    return ["data", "prepare", "h36m", "--from", "videopose3d", str(path)]


def test_truncated_npz(tmp_path, seqs, capsys, isolated_home):
    f = write_videopose3d(tmp_path, seqs)
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    rc, err = _run(_vp3d_args(f), capsys)
    assert rc == 2 and str(f) in err and "truncated" in err and err.count("\n") == 1
    assert not (isolated_home / "datasets" / "h36m").exists()
    _no_leftovers(isolated_home)


def test_wrong_key(tmp_path, seqs, capsys, isolated_home):
    np.savez(tmp_path / "data_3d_h36m.npz", poses=seqs)
    rc, err = _run(_vp3d_args(tmp_path), capsys)
    assert rc == 2 and "positions_3d" in err and "data_3d_h36m.npz" in err
    assert err.count("\n") == 1
    _no_leftovers(isolated_home)


def test_unknown_subject(tmp_path, seqs, capsys, isolated_home):
    write_videopose3d(tmp_path, {"S2": seqs["S1"]})
    rc, err = _run(_vp3d_args(tmp_path), capsys)
    assert rc == 2 and "unknown Human3.6M subject 'S2'" in err and "S11" in err
    _no_leftovers(isolated_home)


def test_pickle_with_non_numpy_object_is_refused(tmp_path, seqs, capsys, isolated_home):
    write_videopose3d(tmp_path, {"S1": {"Directions 1": fractions.Fraction(1, 3)}})
    rc, err = _run(_vp3d_args(tmp_path), capsys)
    assert rc == 2 and "fractions.Fraction" in err and "data_3d_h36m.npz" in err
    assert err.count("\n") == 1
    _no_leftovers(isolated_home)


def test_missing_camera_in_cameras_pkl(tmp_path, seqs, capsys, isolated_home):
    write_mmpose(tmp_path, seqs, drop_camera=("S9", "58860488"))
    rc, err = _run(["data", "prepare", "h36m", "--from", "mmpose", str(tmp_path)], capsys)
    assert rc == 2 and "cameras.pkl" in err and "(S9, 58860488)" in err
    assert "regenerate" in err
    _no_leftovers(isolated_home)


def test_missing_camera_view_in_2d_file(tmp_path, seqs, capsys, isolated_home):
    write_videopose3d(tmp_path, seqs)
    views = {s: {b: [np.zeros((len(w), 17, 2), np.float32)] * 3 for b, w in a.items()}
             for s, a in seqs.items()}
    np.savez(tmp_path / "data_2d_h36m_gt.npz", positions_2d=views)
    rc, err = _run(_vp3d_args(tmp_path), capsys)
    assert rc == 2 and "3 camera views" in err and "data_2d_h36m_gt.npz" in err
    _no_leftovers(isolated_home)


def test_failed_prepare_keeps_previous_dataset(tmp_path, seqs, capsys, isolated_home):
    good = write_videopose3d(tmp_path / "good", seqs)
    assert _run(_vp3d_args(good), capsys)[0] == 0
    before = read_split(isolated_home / "datasets" / "h36m", "test").fingerprint()
    bad = tmp_path / "bad" / "data_3d_h36m.npz"
    bad.parent.mkdir()
    bad.write_bytes(good.read_bytes()[:100])
    assert _run(_vp3d_args(bad), capsys)[0] == 2
    assert read_split(isolated_home / "datasets" / "h36m", "test").fingerprint() == before
    _no_leftovers(isolated_home)


def test_cli_prepare_prints_summary(tmp_path, seqs, capsys, isolated_home):
    write_videopose3d(tmp_path, seqs)
    assert main(_vp3d_args(tmp_path) + ["--name", "mine"]) == 0
    out = capsys.readouterr().out
    assert "test: 56 samples" in out and "train: 76 samples" in out
    assert os.path.isdir(isolated_home / "datasets" / "mine")

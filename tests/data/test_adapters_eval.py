"""`posebench eval` with the prepared ground truth as predictions: 0 mm and PSS 1."""

from __future__ import annotations

import json

import h5py
import numpy as np
from h36m_synthetic_layouts import synthetic_world, write_videopose3d

from posebench.cli import main
from posebench.data.registry import load_dataset
from posebench.skeletons import get_skeleton


def _eval_gt(tmp_path, capsys, name: str, extra_args=(), gt_key=None) -> dict:
    assert main(["keys", "--dataset", name, "--out", str(tmp_path / "keys.npz"),
                 *extra_args]) == 0
    idx = np.load(tmp_path / "keys.npz")["index"]
    ds = load_dataset(name, "test")
    gt = ds.extra[gt_key] if gt_key else ds.poses_3d
    # the default presets (h36m-p1, 3dhp-official) score root-relative predictions as given
    pelvis = get_skeleton(ds.skeleton).index("pelvis")
    gt = gt - gt[:, pelvis:pelvis + 1]
    np.savez(tmp_path / "preds.npz", poses_3d=gt[idx], index=idx)
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "preds.npz"), "--dataset", name, "--format", "json",
                 *extra_args]) == 0
    return json.loads(capsys.readouterr().out)["metrics"]


def test_eval_h36m_ground_truth_scores_perfectly(tmp_path, capsys):
    seqs = {"S1": {"Directions 1": synthetic_world(20, 1), "Eating": synthetic_world(15, 2)},
            "S9": {"Greeting": synthetic_world(9, 3)}, "S11": {"Walking": synthetic_world(6, 4)}}
    write_videopose3d(tmp_path / "in", seqs)
    assert main(["data", "prepare", "h36m", "--from", "videopose3d", str(tmp_path / "in")]) == 0
    m = _eval_gt(tmp_path, capsys, "h36m")
    assert m["mpjpe"] == 0.0 and m["p_mpjpe"] < 1e-9 and m["pck"] == 100.0
    assert m["pss@50"] == 1.0 and m["pss@100"] == 1.0


def test_eval_3dhp_official_ground_truth_scores_perfectly(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for seq in ("TS1", "TS4", "TS6"):
        n = 12
        p3 = rng.normal(0, 300, (n, 17, 3)) + np.array([0, 0, 4000.0])
        p2 = p3[..., :2] / p3[..., 2:] * 1500 + 1000
        (tmp_path / "in" / seq).mkdir(parents=True)
        with h5py.File(tmp_path / "in" / seq / "annot_data.mat", "w", userblock_size=512) as h:
            h["annot2"], h["annot3"] = p2[:, None], p3[:, None]
            h["univ_annot3"] = p3[:, None] * 0.95
            h["valid_frame"] = np.ones((n, 1))
            h["activity_annotation"] = rng.integers(1, 8, (n, 1)).astype(float)
    assert main(["data", "prepare", "3dhp", "--from", "mat", str(tmp_path / "in")]) == 0
    m = _eval_gt(tmp_path, capsys, "3dhp", ("--protocol", "3dhp-official"),
                 gt_key="univ_poses_3d")
    assert m["pck"] == 100.0 and m["mpjpe"] == 0.0

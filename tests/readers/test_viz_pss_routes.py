"""`posebench viz predictions` shows a left/right swap; `pss fit --skeleton` gives 3dhp-14 (and
any evaluation skeleton) a CLI route identical to eval's auto-fitted model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import reader_layouts as L  # noqa: E402

from posebench.cli import main  # noqa: E402


def test_viz_predictions_draws_overlay_and_per_joint_error(tmp_path, capsys):
    from posebench.skeletons import get_skeleton
    from posebench.viz import prediction_overlay

    sk = get_skeleton("h36m17")
    rng = np.random.default_rng(0)
    gt = rng.normal(0, 300, (20, 17, 3))
    gt -= gt[:, :1]
    pred = gt[:, sk.flip_permutation()]
    info = prediction_overlay(pred, gt, sk, [f"s{i}" for i in range(20)], tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 10_000
    pj = info["per_joint_mm"]
    # a left/right swap: centre-line joints exact, each limb joint off by |l - r|
    for j in ("pelvis", "spine", "thorax", "neck", "head_top"):
        assert pj[j] == 0.0
    li, ri = sk.index("l_wrist"), sk.index("r_wrist")
    assert pj["l_wrist"] == pytest.approx(np.linalg.norm(gt[:, li] - gt[:, ri], axis=-1).mean())
    assert info["axis_labels"][0] == ("x (mm)", "depth z (mm)", "up -y (mm)")
    assert len(info["shown"]) == 3


def test_viz_predictions_cli_on_a_codebase_file(tmp_path, capsys, isolated_home):
    root, world = L.build(tmp_path)
    f = L.write_videopose3d(tmp_path / "v.npz", world)
    assert main(["viz", "predictions", str(f), "--from", "videopose3d", "--dataset", str(root),
                 "--out", str(tmp_path / "v.png")]) == 0
    assert "largest per-joint error" in capsys.readouterr().out
    assert (tmp_path / "v.png").is_file()


def test_pss_fit_skeleton_is_eval_autofit(shared_fixtures, tmp_path, capsys):
    mm = shared_fixtures / "mmpose" / "mpi_inf_3dhp"
    assert main(["data", "prepare", "3dhp", "--from", "mmpose", str(mm), "--name", "s3"]) == 0
    assert main(["pss", "fit", "--dataset", "s3", "--k", "2", "--skeleton", "3dhp14", "--out",
                 str(tmp_path / "pss14")]) == 0
    z = np.load(mm / "test_3dhp_test.npz")
    np.savez(tmp_path / "p.npz", imgname=z["imgname"], preds=z["S"][..., :3])
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "p.npz"), "--from", "mmpose", "--dataset", "s3",
                 "--protocol", "3dhp-14", "--ground-truth", "poses_3d", "--pss-k", "2",
                 "--format", "json"]) == 0
    auto = json.loads(capsys.readouterr().out)["pss_models"][0]["fingerprint"]
    saved = json.loads((tmp_path / "pss14.json").read_text())
    assert json.dumps(saved).count(auto) >= 1
    assert main(["eval", str(tmp_path / "p.npz"), "--from", "mmpose", "--dataset", "s3",
                 "--protocol", "3dhp-14", "--ground-truth", "poses_3d", "--pss-model",
                 str(tmp_path / "pss14.npz")]) == 0

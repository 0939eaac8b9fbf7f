"""One NaN policy: refuse by default; opt-in "miss" with every metric's denominator recorded.

The case that was wrong: one NaN joint in 4 poses made PCK average over 4 poses and MPJPE over
3 while n_samples said 4. Expected values below are derived by hand from the construction.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers_toy import toy_synth

import posebench
from posebench.cli import main
from posebench.data.dataset import read_split
from posebench.data.protocols import get_protocol
from posebench.errors import InputError
from posebench.metrics.pss import PoseStructureScore, normalize_poses
from posebench.predictions import Predictions

J = 17


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """(dataset folder, test split, protocol, ground truth, PSS@10 model path)."""
    d = tmp_path_factory.mktemp("nan")
    root = toy_synth(d / "toy")
    ds = read_split(root, "test")
    p = get_protocol("synth")
    # a nearest-centre PSS model whose centres are 10 training poses (no k-means: fast)
    train = read_split(root, "train").poses_3d
    model = PoseStructureScore(k=10)
    model.centres_ = normalize_poses(train[::48][:10])
    model.num_joints = J
    return root, ds, p, ds.poses_3d[p.select(ds)], str(model.save(d / "pss10"))


def _four(gt, bad_value=np.nan, bad_joint=5):
    """4 poses: pose 0 one joint 200 mm off, poses 1-2 exact, pose 3 one NaN joint."""
    pred = gt[:4].copy()
    pred[0, 3, 0] += 200.0
    pred[3, bad_joint, 1] = bad_value
    return pred


def _eval(synth, pred, **kw):
    preds = Predictions(pred, index=np.arange(len(pred)))
    _, ds, p, _, pss = synth
    return posebench.evaluate(preds, dataset=ds, protocol=p, allow_partial=True,
                              pss_models=[pss], **kw)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_is_refused_by_default_naming_count_key_and_fix(synth, value):
    root, ds, p, gt, pss = synth
    with pytest.raises(InputError) as exc:
        _eval(synth, _four(gt, value))
    msg = str(exc.value)
    k = ds.keys.take(p.select(ds)[3:4])
    first = f"{k.subject[0]}|{k.action[0]}|{k.subaction[0]}|{k.camera[0]}|{k.frame[0]}"
    assert "NaN or inf in 1 of 4 poses (1 scored joints" in msg
    assert first in msg and "--nan-policy miss" in msg
    assert msg.count(";") == 3  # one sentence: found; expected; fix


def test_one_nan_joint_under_miss_policy_has_explicit_denominators(synth):
    root, ds, p, gt, pss = synth
    rep = _eval(synth, _four(gt), nan_policy="miss")
    s = rep.summary
    assert s["n_samples"] == 4 and s["nan_policy"] == "miss"
    assert s["nonfinite"] == {"poses": 1, "joints": 1}
    assert s["denominators"] == {"mpjpe": 3, "p_mpjpe": 3, "n_mpjpe": 3, "pck": 4, "auc": 4,
                                 "pss@10": 4}
    m = s["metrics"]
    assert m["mpjpe"] == pytest.approx((200.0 / J) / 3)           # poses 0-2 only
    assert m["pck"] == pytest.approx(100.0 * (2 * 16 / J + 2) / 4)  # NaN joint is a miss
    full, one_off = 30 / 31, (16 * 30) / (J * 31)                  # AUC 0:5:150, strict <
    assert m["auc"] == pytest.approx(100.0 * (2 * full + 2 * one_off) / 4)
    pss = np.asarray(rep.frame["pss@10"])
    assert pss[3] == 0.0 and pss[1] == pss[2] == 1.0               # NaN pose: PSS miss
    assert np.isnan(rep.frame["mpjpe"].iloc[3]) and rep.frame["pck"].iloc[3] > 0
    assert any("NaN policy 'miss'" in n for n in s["notes"])


def test_nan_root_makes_every_joint_a_miss(synth):
    root, ds, p, gt, pss = synth
    rep = _eval(synth, _four(gt, bad_joint=0), nan_policy="miss")
    assert rep.frame["pck"].iloc[3] == 0.0 and rep.frame["auc"].iloc[3] == 0.0


def test_finite_predictions_record_full_denominators(synth):
    root, ds, p, gt, pss = synth
    rep = _eval(synth, gt[:4].copy())
    assert rep.summary["nan_policy"] == "refuse"
    assert set(rep.summary["denominators"].values()) == {4}
    assert rep.summary["nonfinite"] == {"poses": 0, "joints": 0}


def test_nan_in_an_unscored_joint_is_ignored(synth):
    root, ds, p, gt, pss = synth
    from posebench.skeletons import MPI3DHP_28_NAMES, MPI3DHP_28_TO_17, convert

    hp17 = convert(gt[:4], "h36m17", "3dhp17")
    poses28 = np.full((4, 28, 3), np.nan)  # the 11 joints posebench does not score are NaN
    poses28[:, list(MPI3DHP_28_TO_17)] = hp17
    preds = Predictions.from_array(poses28, joint_names=MPI3DHP_28_NAMES)
    rep = posebench.evaluate(preds, dataset=ds, protocol=p, allow_partial=True, pss_k=())
    assert rep.metrics["mpjpe"] == pytest.approx(0.0, abs=1e-9)
    assert rep.summary["nonfinite"]["poses"] == 0


def test_unknown_nan_policy_is_refused(synth):
    root, ds, p, gt, pss = synth
    with pytest.raises(InputError, match="NaN policy 'skip' is unknown"):
        _eval(synth, gt[:4].copy(), nan_policy="skip")


def test_cli_nan_policy_miss_writes_policy_and_denominators(synth, tmp_path, capsys):
    root, ds, p, gt, pss = synth
    f = tmp_path / "p.npz"
    pred = gt.copy()
    pred[7, 2] = np.nan
    np.savez(f, poses_3d=pred, index=np.arange(len(gt)))
    out = tmp_path / "r.json"
    args = ["eval", str(f), "--dataset", str(root), "--output", str(out), "--pss-model", pss]
    assert main(args) == 2
    assert "--nan-policy miss" in capsys.readouterr().err
    assert main([*args, "--nan-policy", "miss"]) == 0
    rec = json.loads(out.read_text())
    n = len(gt)
    assert rec["nan_policy"] == "miss" and rec["n_samples"] == n
    assert rec["denominators"]["mpjpe"] == n - 1 and rec["denominators"]["pck"] == n
    assert rec["metrics"]["mpjpe"] == pytest.approx(0.0, abs=1e-9)
    assert rec["metrics"]["pck"] == pytest.approx(100.0 * (1 - 1 / (J * n)))
    assert rec["metrics"]["pss@10"] == pytest.approx(1 - 1 / n)  # the NaN pose: a PSS miss

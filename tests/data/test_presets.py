"""Anchor presets: selection, expectations and refusals (the arithmetic of every preset is
checked against transcriptions of the anchors' code in test_anchor_transcriptions.py).

On one shared random set per dataset kind (written in the canonical format by the test), every
preset's summary numbers must equal what the anchor's definition gives, computed here in plain
numpy from PAPER.md / shared/facts definitions, independently of posebench.metrics:

- VideoPose3D P1: S9+S11, all frames, 17 joints, the prediction scored as given against the
  root-zeroed truth, MPJPE per pose = mean over joints, mean per action, then over actions.
  P2: same with P-MPJPE (similarity Procrustes: scale, rotation with det +1, translation).
- EpipolarPose / Integral: frames with frame % 64 == 0, frame-wise mean; P-MPJPE re-rooted after
  the fit; N-MPJPE scales the prediction by the Procrustes similarity scale.
  Self-supervised scoring: the 16 MPII-order joints (no spine), root Hip (pelvis).
- mmpose: all S9+S11 frames, frame-wise mean.
- MPI-INF-3DHP official: valid frames, universal ground truth, prediction as given against the
  pelvis-centred truth; MPJPE over 17 joints; PCK (strict < 150 mm) and AUC (0:5:150 mm) over
  the 14 joints of the official joint groups. 3DHP-14: every metric over those 14 joints.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers_toy import toy_3dhp, toy_h36m, toy_synth

import posebench
from posebench.data import presets
from posebench.data.dataset import read_split
from posebench.data.protocols import PROTOCOLS, get_protocol, list_protocols
from posebench.evaluation import protocol_keys

H36M17 = ["pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine",
          "thorax", "neck", "head_top", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder",
          "r_elbow", "r_wrist"]
# MPII-16 (EpipolarPose self-supervised order) from H36M-17 indices (shared/facts/skeletons.md)
MPII16_FROM_H36M = [3, 2, 1, 4, 5, 6, 0, 8, 9, 10, 16, 15, 14, 11, 12, 13]
HP17_PELVIS = 14
HP14_KEEP = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]  # drop pelvis(14), spine(15), head(16)


# ------------------------------------------------------------------ independent formulas
def _errors(pred, gt):
    return np.sqrt(((pred - gt) ** 2).sum(-1))


def _mpjpe(pred, gt):
    return _errors(pred, gt).mean(-1)


def _procrustes(pred, gt):
    """(aligned pred, scale) of the similarity fit of pred onto gt (batched SVD, det R = +1)."""
    mu_g, mu_p = gt.mean(1, keepdims=True), pred.mean(1, keepdims=True)
    g0, p0 = gt - mu_g, pred - mu_p
    ng = np.sqrt((g0 ** 2).sum((1, 2)))[:, None, None]
    npn = np.sqrt((p0 ** 2).sum((1, 2)))[:, None, None]
    g0, p0 = g0 / ng, p0 / npn
    u, s, vt = np.linalg.svd(np.transpose(g0, (0, 2, 1)) @ p0)
    v = np.transpose(vt, (0, 2, 1))
    r = v @ np.transpose(u, (0, 2, 1))
    flip = np.linalg.det(r) < 0
    v[flip, :, -1] *= -1
    s[flip, -1] *= -1
    r = v @ np.transpose(u, (0, 2, 1))
    scale = (s.sum(1)[:, None, None] * ng / npn)
    aligned = scale * (pred - mu_p) @ r + mu_g
    return aligned, scale[:, 0, 0]


def _p_mpjpe(pred, gt):
    return _mpjpe(_procrustes(pred, gt)[0], gt)


def _n_mpjpe_procrustes(pred_c, gt_c):
    _, s = _procrustes(pred_c, gt_c)
    return _mpjpe(s[:, None, None] * pred_c, gt_c)


def _n_mpjpe_ls(pred_c, gt_c):
    s = (pred_c * gt_c).sum((1, 2)) / (pred_c * pred_c).sum((1, 2))
    return _mpjpe(s[:, None, None] * pred_c, gt_c)


def _pck(pred, gt, thr=150.0):
    return 100.0 * (_errors(pred, gt) < thr).mean(-1)


def _auc(pred, gt):
    return np.mean([_pck(pred, gt, t) for t in range(0, 151, 5)], axis=0)


def _action_mean(values, actions):
    return float(np.mean([values[actions == a].mean() for a in np.unique(actions)]))


def _centre(p, root):
    return p - p[:, root:root + 1]


# ------------------------------------------------------------------ shared random sets
@pytest.fixture(scope="module")
def h36m(tmp_path_factory):
    """(root, test split, predictions (N, 17, 3) for the whole split, preds file path)."""
    base = tmp_path_factory.mktemp("anchors")
    root = toy_h36m(base / "toy-h36m", seed=7)
    ds = read_split(root, "test")
    rng = np.random.default_rng(11)
    n = len(ds)
    # ground truth, randomly scaled / rotated / shifted, plus 60 mm joint noise
    ang = rng.uniform(-0.4, 0.4, n)
    c, s = np.cos(ang), np.sin(ang)
    rot = np.zeros((n, 3, 3))
    rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1], rot[:, 2, 2] = c, -s, s, c, 1.0
    scale = rng.uniform(0.8, 1.2, n)[:, None, None]
    preds = (scale * ds.poses_3d @ rot + rng.normal(0, 60.0, (n, 17, 3))
             + rng.normal(0, 50, (n, 1, 3)))
    return root, ds, preds


def _evaluate_protocol(root, ds, preds, name, tmp_path):
    p = get_protocol(name)
    rows = p.select(ds)
    f = tmp_path / f"{name}.npz"
    np.savez(f, poses_3d=preds[rows], index=np.arange(len(rows)))
    return posebench.evaluate(f, dataset=root, protocol=name, pss_k=()).summary["metrics"], rows


def _root_relative(preds, root, seed=0):
    """Predictions with their root near (not at) the origin, as a lifting network gives them."""
    rng = np.random.default_rng(seed)
    return _centre(preds, root) + rng.normal(0, 10.0, (len(preds), 1, 3))


def test_h36m_p1_is_videopose3d_action_wise_mpjpe(h36m, tmp_path):
    root, ds, preds = h36m
    preds = _root_relative(preds, 0)
    m, rows = _evaluate_protocol(root, ds, preds, "h36m-p1", tmp_path)
    keep = np.isin(ds.keys.subject, ["S9", "S11"])
    np.testing.assert_array_equal(rows, np.flatnonzero(keep))
    # only the ground truth is root-centred (VideoPose3D run.py:688); the prediction as given
    gt_c, pr_c = _centre(ds.poses_3d[keep], 0), preds[keep]
    actions = ds.keys.action[keep]
    want = _action_mean(_mpjpe(pr_c, gt_c), actions)
    assert m["mpjpe"] == pytest.approx(want, abs=1e-6)
    # action-wise differs from frame-wise on this set (unequal action lengths)
    assert abs(want - _mpjpe(pr_c, gt_c).mean()) > 1e-3
    assert m["p_mpjpe"] == pytest.approx(_action_mean(_p_mpjpe(pr_c, gt_c), actions), abs=1e-6)
    assert m["n_mpjpe"] == pytest.approx(_action_mean(_n_mpjpe_ls(pr_c, gt_c), actions),
                                         abs=1e-6)


def test_h36m_p2_headline_is_action_wise_p_mpjpe(h36m, tmp_path):
    root, ds, preds = h36m
    preds = _root_relative(preds, 0)
    m, _ = _evaluate_protocol(root, ds, preds, "h36m-p2", tmp_path)
    keep = np.isin(ds.keys.subject, ["S9", "S11"])
    want = _action_mean(_p_mpjpe(preds[keep], ds.poses_3d[keep]), ds.keys.action[keep])
    assert m["p_mpjpe"] == pytest.approx(want, abs=1e-6)
    assert get_protocol("h36m-p2").extra["headline"] == "p_mpjpe"


def test_h36m_every64_is_epipolarpose_integral_test_set(h36m, tmp_path):
    root, ds, preds = h36m
    m, rows = _evaluate_protocol(root, ds, preds, "h36m-every64", tmp_path)
    keep = np.isin(ds.keys.subject, ["S9", "S11"]) & (ds.keys.frame % 64 == 0)
    np.testing.assert_array_equal(rows, np.flatnonzero(keep))
    gt_c, pr_c = _centre(ds.poses_3d[keep], 0), _centre(preds[keep], 0)
    assert m["mpjpe"] == pytest.approx(_mpjpe(pr_c, gt_c).mean(), abs=1e-6)
    # P-MPJPE re-rooted after the similarity fit (EpipolarPose h36m.py:251)
    al = _procrustes(pr_c, gt_c)[0]
    assert m["p_mpjpe"] == pytest.approx(_mpjpe(_centre(al, 0), gt_c).mean(), abs=1e-6)
    assert m["p_mpjpe"] != pytest.approx(_p_mpjpe(pr_c, gt_c).mean(), abs=1e-3)
    assert m["n_mpjpe"] == pytest.approx(_n_mpjpe_procrustes(pr_c, gt_c).mean(), abs=1e-6)
    # the Procrustes scale is a different number from Rhodin's least-squares scale
    assert abs(_n_mpjpe_procrustes(pr_c, gt_c).mean() - _n_mpjpe_ls(pr_c, gt_c).mean()) > 1e-3


def test_h36m_every64_mpii16_scores_16_joints(h36m, tmp_path):
    root, ds, preds = h36m
    m, _ = _evaluate_protocol(root, ds, preds, "h36m-every64-mpii16", tmp_path)
    keep = np.isin(ds.keys.subject, ["S9", "S11"]) & (ds.keys.frame % 64 == 0)
    gt16 = _centre(ds.poses_3d[keep], 0)[:, MPII16_FROM_H36M]
    pr16 = _centre(preds[keep], 0)[:, MPII16_FROM_H36M]
    assert gt16.shape[1] == 16
    assert m["mpjpe"] == pytest.approx(_mpjpe(pr16, gt16).mean(), abs=1e-6)
    # the 17-joint number (spine included) is a different one
    m17, _ = _evaluate_protocol(root, ds, preds, "h36m-every64", tmp_path)
    assert m["mpjpe"] != pytest.approx(m17["mpjpe"], abs=1e-3)
    assert m["n_mpjpe"] == pytest.approx(_n_mpjpe_procrustes(pr16, gt16).mean(), abs=1e-6)


def test_h36m_mmpose_is_frame_wise_over_all_test_frames(h36m, tmp_path):
    root, ds, preds = h36m
    m, rows = _evaluate_protocol(root, ds, preds, "h36m-mmpose", tmp_path)
    keep = np.isin(ds.keys.subject, ["S9", "S11"])
    assert len(rows) == keep.sum()
    gt_c, pr_c = _centre(ds.poses_3d[keep], 0), _centre(preds[keep], 0)
    assert m["mpjpe"] == pytest.approx(_mpjpe(pr_c, gt_c).mean(), abs=1e-6)
    assert m["p_mpjpe"] == pytest.approx(_p_mpjpe(pr_c, gt_c).mean(), abs=1e-6)
    # n-mpjpe: scale fitted on camera-frame poses (prediction placed on the truth's root)
    g = ds.poses_3d[keep]
    p = pr_c + g[:, :1]
    s = (p * g).sum((1, 2)) / (p * p).sum((1, 2))
    assert m["n_mpjpe"] == pytest.approx(_mpjpe(s[:, None, None] * p, g).mean(), abs=1e-6)
    assert m["n_mpjpe"] != pytest.approx(_n_mpjpe_ls(pr_c, gt_c).mean(), abs=1e-3)


@pytest.fixture(scope="module")
def hp(tmp_path_factory):
    """3DHP toy (integer mm) and predictions hitting exactly 150 mm on chosen joints."""
    root = toy_3dhp(tmp_path_factory.mktemp("anchors3dhp") / "toy-3dhp", seed=5)
    ds = read_split(root, "test")
    gt = ds.extra["univ_poses_3d"]
    rng = np.random.default_rng(3)
    preds = gt + np.round(rng.normal(0, 70.0, gt.shape))
    preds[:, HP17_PELVIS] = gt[:, HP17_PELVIS]  # exact root, so errors are exact integers' norms
    # joints 0-3 of every pose: errors of exactly 150 mm (not counted by PCK@150) and 145, 155
    preds[:, 0] = gt[:, 0] + [150.0, 0.0, 0.0]
    preds[:, 1] = gt[:, 1] + [0.0, 90.0, 120.0]  # 150 exactly (3-4-5 triangle)
    preds[:, 2] = gt[:, 2] + [145.0, 0.0, 0.0]
    preds[:, 3] = gt[:, 3] + [0.0, 0.0, 155.0]
    return root, ds, preds - gt[:, HP17_PELVIS:HP17_PELVIS + 1]  # root-relative, root exact


def test_3dhp_official_pck_auc_over_14_group_joints_strict(hp, tmp_path):
    root, ds, preds = hp
    m, rows = _evaluate_protocol(root, ds, preds, "3dhp-official", tmp_path)
    np.testing.assert_array_equal(rows, np.flatnonzero(ds.valid))
    gt = _centre(ds.extra["univ_poses_3d"][rows], HP17_PELVIS)
    pr = _centre(preds[rows], HP17_PELVIS)
    e = _errors(pr, gt)
    assert np.all(e[:, 0] == 150.0) and np.all(e[:, 1] == 150.0)
    g14, p14 = gt[:, HP14_KEEP], pr[:, HP14_KEEP]
    assert m["pck"] == pytest.approx(_pck(p14, g14).mean(), abs=1e-9)
    assert m["pck"] != pytest.approx(_pck(pr, gt).mean(), abs=1e-3)  # not over all 17
    # strict <: the exact-150 joints are misses; counting them as hits would change the number
    assert m["pck"] < 100.0 * (e[:, HP14_KEEP] <= 150.0).mean() - 1.0
    assert m["auc"] == pytest.approx(_auc(p14, g14).mean(), abs=1e-9)
    assert m["mpjpe"] == pytest.approx(_mpjpe(pr, gt).mean(), abs=1e-6)  # 17 joints


def test_3dhp_14_drops_head_spine_pelvis_after_centring(hp, tmp_path):
    root, ds, preds = hp
    m, rows = _evaluate_protocol(root, ds, preds, "3dhp-14", tmp_path)
    gt = _centre(ds.extra["univ_poses_3d"][rows], HP17_PELVIS)[:, HP14_KEEP]
    pr = _centre(preds[rows], HP17_PELVIS)[:, HP14_KEEP]
    assert m["pck"] == pytest.approx(_pck(pr, gt).mean(), abs=1e-9)
    assert m["auc"] == pytest.approx(_auc(pr, gt).mean(), abs=1e-9)
    assert m["mpjpe"] == pytest.approx(_mpjpe(pr, gt).mean(), abs=1e-6)
    s = (pr * gt).sum((1, 2)) / (pr * pr).sum((1, 2))  # poses as scored, no centring
    assert m["n_mpjpe"] == pytest.approx(_mpjpe(s[:, None, None] * pr, gt).mean(), abs=1e-6)


def _3dhp_without_univ(tmp_path):
    """A toy 3DHP set without univ_poses_3d (mmpose layout) and tmp_path/p.npz: its
    3dhp-official ground truth, pelvis-relative, as predictions. Returns the dataset folder."""
    root = toy_3dhp(tmp_path / "hp", with_univ=False)
    ds = read_split(root, "test")
    rows = get_protocol("3dhp-official").select(ds)
    gt = ds.poses_3d[rows]
    np.savez(tmp_path / "p.npz", poses_3d=gt - gt[:, HP17_PELVIS:HP17_PELVIS + 1],
             index=np.arange(len(rows)))
    return root


def test_3dhp_official_refuses_without_universal_truth(tmp_path):
    """mmpose layout (no univ_annot3): refused with the fix named; an explicit --ground-truth
    poses_3d scores under a distinct protocol name and fingerprint."""
    from posebench.errors import InputError

    root = _3dhp_without_univ(tmp_path)
    with pytest.raises(InputError, match="univ_poses_3d.*--ground-truth poses_3d"):
        posebench.evaluate(tmp_path / "p.npz", dataset=root, protocol="3dhp-official")
    rep = posebench.evaluate(tmp_path / "p.npz", dataset=root, protocol="3dhp-official",
                             ground_truth="poses_3d", pss_k=())
    assert rep.summary["protocol"]["name"] == "3dhp-official+gt=poses_3d"
    assert rep.summary["ground_truth"] == "poses_3d"
    assert rep.metrics["pck"] == 100.0
    official = posebench.evaluate(tmp_path / "p.npz", dataset=toy_3dhp(tmp_path / "u"),
                                  protocol="3dhp-official", pss_k=())
    assert official.summary["protocol_fingerprint"] != rep.summary["protocol_fingerprint"]
    assert "ground_truth_fallback" not in get_protocol("3dhp-official").extra


def test_h36m_presets_refuse_a_sparser_source(tmp_path):
    """An mmpose fps10 folder (every 5th frame) is refused by every Human3.6M preset."""
    from posebench.data.dataset import write_dataset
    from posebench.errors import InputError

    root = toy_h36m(tmp_path / "h", seed=3)
    test = read_split(root, "test")
    train = read_split(root, "train")
    sparse = test.take(np.flatnonzero(test.keys.frame % 5 == 0))
    root10 = write_dataset(tmp_path / "h10", {"train": train, "test": sparse}, kind="h36m")
    preds = _centre(sparse.poses_3d, 0)
    for name in ("h36m-p1", "h36m-p2", "h36m-every64", "h36m-every64-mpii16", "h36m-mmpose"):
        with pytest.raises(InputError, match="every 5-th frame"):
            posebench.evaluate(preds, dataset=root10, protocol=name, pss_k=())
        with pytest.raises(InputError, match="every 5-th frame"):
            protocol_keys(root10, name)


def test_h36m_presets_refuse_missing_subjects(tmp_path):
    from posebench.data.dataset import write_dataset
    from posebench.errors import InputError

    root = toy_h36m(tmp_path / "h", seed=3)
    test = read_split(root, "test")
    only9 = test.take(np.flatnonzero(test.keys.subject == "S9"))
    root9 = write_dataset(tmp_path / "h9", {"test": only9}, kind="h36m")
    with pytest.raises(InputError, match="lacks S11"):
        posebench.evaluate(_centre(only9.poses_3d, 0), dataset=root9, protocol="h36m-p1")


def test_valid_only_refuses_data_without_flags(tmp_path):
    from dataclasses import replace

    from posebench.errors import InputError

    ds = read_split(toy_3dhp(tmp_path / "hp"), "test")
    no_flags = replace(ds, valid=None)
    with pytest.raises(InputError, match="no valid-frame flags"):
        get_protocol("3dhp-official").select(no_flags)


def test_as_given_protocols_refuse_camera_frame_predictions(h36m, tmp_path):
    from posebench.errors import InputError

    root, ds, preds = h36m
    with pytest.raises(InputError, match="root-relative"):
        _evaluate_protocol(root, ds, preds, "h36m-p1", tmp_path)


def test_anchor_options_and_exclusions_are_in_the_record(h36m, tmp_path):
    root, ds, preds = h36m
    rows = get_protocol("h36m-every64").select(ds)
    rep = posebench.evaluate(preds[rows], dataset=root, protocol="h36m-every64", pss_k=())
    prot = rep.summary["protocol"]
    for key in ("gt_root_zeroing", "p_mpjpe_reroot_after_alignment", "n_mpjpe_scale",
                "n_mpjpe_frame", "pck_joints", "source_frame_step", "exclusions"):
        assert key in prot, key
    assert prot["p_mpjpe_reroot_after_alignment"] is True and prot["exclusions"] == []
    for name in ("h36m-p1", "h36m-p2", "h36m-every64", "h36m-every64-mpii16", "h36m-mmpose"):
        p = get_protocol(name)
        assert p.exclusions == () and "keep them" in presets.__doc__
        assert ":" in p.source and ".py:" in p.source, name


def test_synth_and_all_frames_are_frame_wise_over_the_test_split(tmp_path):
    root = toy_synth(tmp_path / "s")
    ds = read_split(root, "test")
    rng = np.random.default_rng(0)
    preds = ds.poses_3d + rng.normal(0, 30, ds.poses_3d.shape)
    want = _mpjpe(_centre(preds, 0), _centre(ds.poses_3d, 0)).mean()
    for name in ("synth", "all-frames"):
        m, rows = _evaluate_protocol(root, ds, preds, name, tmp_path)
        assert len(rows) == len(ds)
        assert m["mpjpe"] == pytest.approx(want, abs=1e-6)


def test_every_preset_is_registered_with_a_source():
    names = {p.name for p in list_protocols()}
    assert {"all-frames", "synth", "h36m-p1", "h36m-p2", "h36m-every64", "h36m-every64-mpii16",
            "h36m-mmpose", "3dhp-official", "3dhp-14"} <= names
    for p in PROTOCOLS.values():
        assert len(p.source) > 20, p.name
    assert get_protocol("3dhp-official").extra["breakdowns"] == ("subject", "action", "scene")
    assert get_protocol("h36m-every64-mpii16").eval_skeleton == "mpii16"
    assert get_protocol("h36m-p1").subjects == ("S9", "S11")


def test_cli_ground_truth_option_names_the_protocol(tmp_path, capsys):
    import json

    from posebench.cli import main

    root = _3dhp_without_univ(tmp_path)
    assert main(["keys", "--dataset", str(root), "--out", str(tmp_path / "k.npz")]) == 2
    assert "--ground-truth poses_3d" in capsys.readouterr().err
    assert main(["keys", "--dataset", str(root), "--ground-truth", "poses_3d", "--out",
                 str(tmp_path / "k.npz")]) == 0
    assert str(np.load(tmp_path / "k.npz")["protocol_name"]) == "3dhp-official+gt=poses_3d"
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "p.npz"), "--dataset", str(root), "--ground-truth",
                 "poses_3d", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["protocol"]["name"] == "3dhp-official+gt=poses_3d"
    assert out["protocol"]["ground_truth"] == "poses_3d" and out["metrics"]["pck"] == 100.0

"""The frame of predictions is checked, never guessed: joint order, mirror, units, axes.

Wrong-frame files (built from honest noisy predictions of the toy synth set) must be refused
with the cause named, the corrected file must score what the honest file scores, and honest but
poor predictions (a constant mean pose, 100 mm Gaussian noise, nearly symmetric bodies) must
pass.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers_toy import TEMPLATE_H36M, toy_h36m, toy_synth

import posebench
from posebench.data.dataset import read_split
from posebench.data.protocols import get_protocol
from posebench.errors import InputError
from posebench.frame_check import (
    MAX_SAMPLES,
    RATIO,
    Reading,
    _axis_errors,
    check_frame,
    mirror_names,
    sample_rows,
    signed_permutations,
    units_factor,
)
from posebench.predictions import Predictions, match_to_ground_truth, resolve_joint_names
from posebench.skeletons import MPI3DHP_28_NAMES, MPI3DHP_28_TO_17, convert, get_skeleton

H36M = get_skeleton("h36m17")


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """(test split, protocol, ground truth (M, 17, 3), honest predictions = gt + 20 mm noise,
    training split)."""
    root = toy_synth(tmp_path_factory.mktemp("frames") / "toy")
    ds = read_split(root, "test")
    p = get_protocol("synth")
    gt = ds.poses_3d[p.select(ds)]
    honest = gt + np.random.default_rng(1).normal(0.0, 20.0, gt.shape)
    return ds, p, gt, honest, read_split(root, "train")


def _match(ds, p, poses, **kw):
    names = kw.pop("joint_names", None)
    preds = Predictions(np.asarray(poses, dtype=np.float64), index=np.arange(len(poses)),
                        joint_names=names)
    if names is not None:
        preds.joint_names, preds.names_as = resolve_joint_names(tuple(names))
    return match_to_ground_truth(preds, ds, p, **kw)


def _mpjpe(m, gt):
    """MPJPE of a Match against h36m17 ground truth, root-centred (independent of evaluate)."""
    pred = m.poses - m.root[:, None]
    g = gt - gt[:, :1]
    return float(np.linalg.norm(pred - g, axis=-1).mean())


# ----------------------------------------------------------------------------- unit level
def test_signed_permutations_are_the_48_orthogonal_axis_maps():
    ms = signed_permutations()
    assert ms.shape == (48, 3, 3)
    np.testing.assert_array_equal(ms[0], np.eye(3))
    assert len({m.tobytes() for m in ms}) == 48
    np.testing.assert_allclose(np.einsum("nij,nkj->nik", ms, ms), np.tile(np.eye(3), (48, 1, 1)))
    dets = np.round(np.linalg.det(ms)).astype(int)
    assert sorted(np.unique(dets, return_counts=True)[1].tolist()) == [24, 24]


def test_axis_errors_equal_a_direct_loop():
    rng = np.random.default_rng(0)
    p = rng.normal(size=(5, 6, 3)) * 100
    g = rng.normal(size=(5, 6, 3)) * 100
    got = _axis_errors(p, g, [1.0, 10.0])
    for a, m in enumerate(signed_permutations()):
        for si, s in enumerate((1.0, 10.0)):
            want = np.linalg.norm(s * p @ m - g, axis=-1).mean(axis=1)
            np.testing.assert_allclose(got[:, a, si], want, rtol=1e-9)


@pytest.mark.parametrize("factor, want", [(1.0, 1.0), (1.3, 1.0), (0.8, 1.0), (0.1, 10.0),
                                          (0.001, 1000.0), (1e6, 1e-6), (25.4, 0.1)])
def test_units_factor_is_the_nearest_power_of_ten(factor, want):
    g = np.random.default_rng(2).normal(size=(50, 17, 3)) * 200
    g -= g.mean(axis=1, keepdims=True)
    assert units_factor(g * factor, g) == pytest.approx(want)


def test_sample_rows_are_deterministic_and_bounded():
    a = sample_rows(1_000_000)
    assert len(a) == MAX_SAMPLES and a[0] == 0 and a[-1] == 999_999
    np.testing.assert_array_equal(a, sample_rows(1_000_000))
    np.testing.assert_array_equal(sample_rows(7), np.arange(7))


def test_mirror_names_swap_left_and_right_only():
    assert mirror_names(("pelvis", "l_hip", "r_wrist")) == ("pelvis", "r_hip", "l_wrist")


def _symmetric_frontal(n, rng, noise):
    """(n, 17, 3) nearly left/right-symmetric bodies facing the camera (x mirror plane)."""
    return TEMPLATE_H36M[None] + rng.normal(0.0, noise, (n, 17, 3)) + [0.0, 0.0, 4500.0]


def test_nearly_symmetric_honest_predictions_are_not_called_mirrored():
    rng = np.random.default_rng(3)
    gt = _symmetric_frontal(400, rng, 5.0)
    pred = gt + rng.normal(0.0, 60.0, gt.shape)
    declared = Reading("h36m17 order", H36M.names, "h36m17")
    out = check_frame(pred, gt, H36M.names, declared, [declared], "p")
    # the mirror image (swap + x reflection) fits about as well: no alarm
    assert out["declared_error_mm"] <= out["best_alternative_error_mm"] * 1.1
    with pytest.raises(InputError, match="left and right joints are swapped"):
        check_frame(pred[:, H36M.flip_permutation()], gt, H36M.names, declared, [declared], "p")


def test_many_poses_are_checked_on_a_deterministic_subsample():
    rng = np.random.default_rng(4)
    gt = _symmetric_frontal(100_000, rng, 30.0)
    declared = Reading("h36m17 order", H36M.names, "h36m17")
    out = check_frame(gt, gt, H36M.names, declared, [declared], "p")
    assert out["samples_checked"] == MAX_SAMPLES and out["declared_error_mm"] == 0.0


# ----------------------------------------------------------------------------- wrong frames
MIRROR = H36M.flip_permutation()
ZUP = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=float)  # (x, y, z) -> (x, -z, y)

#: name -> (make wrong file from honest h36m17 poses, cause in the message, undo the damage)
WRONG = {
    "3dhp order": (lambda x: convert(x, "h36m17", "3dhp17"), "3dhp17 order.*--joint-order 3dhp17",
                   lambda x: convert(x, "3dhp17", "h36m17")),
    "mirror": (lambda x: x[:, MIRROR], "left and right joints are swapped",
               lambda x: x[:, MIRROR]),
    "centimetres": (lambda x: x / 10.0, "10 times too small.*multiply poses_3d by 10",
                    lambda x: x * 10.0),
    "metres": (lambda x: x / 1000.0, "metres.*multiply poses_3d by 1000", lambda x: x * 1000.0),
    "scale 1e6": (lambda x: x * 1e6, "1e\\+06 times too large", lambda x: x / 1e6),
    "y up": (lambda x: x * [1.0, -1.0, 1.0], "axes.*\\(x, -y, z\\)", lambda x: x * [1, -1, 1]),
    "z up": (lambda x: x @ ZUP, "axes", lambda x: x @ ZUP.T),
}


@pytest.mark.parametrize("case", list(WRONG))
def test_wrong_frame_is_refused_with_its_cause_and_the_fix_scores_true(synth, case):
    ds, p, gt, honest, _ = synth
    damage, cause, undo = WRONG[case]
    with pytest.raises(InputError, match=cause):
        _match(ds, p, damage(honest))
    fixed = _match(ds, p, undo(damage(honest)))
    assert _mpjpe(fixed, gt) == pytest.approx(_mpjpe(_match(ds, p, honest), gt), abs=1e-6)
    assert 35.0 < _mpjpe(fixed, gt) < 50.0  # 20 mm per axis on pred and root: ~42 mm


def _rotation(yaw_deg, tilt_deg):
    a, b = np.radians(yaw_deg), np.radians(tilt_deg)
    yaw = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    tilt = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return yaw @ tilt


def test_a_world_frame_is_refused_as_a_fixed_rotation_per_camera(synth):
    """Each camera sees the world rotated differently: not one of the 48 axis maps."""
    ds, p, gt, honest, _ = synth
    cams = ds.keys.camera[p.select(ds)]
    world = honest.copy()
    for cam, (yaw, tilt) in zip(np.unique(cams), ((70.0, 15.0), (-110.0, 20.0))):
        world[cams == cam] = honest[cams == cam] @ _rotation(yaw, tilt)
    with pytest.raises(InputError, match="one fixed rotation.*extrinsics"):
        _match(ds, p, world)
    f = _match(ds, p, honest).frame
    assert f["rotation_deg"] < 5.0  # honest noise: the best fixed rotation is nearly identity


def test_the_messages_fix_for_axes_and_mirror_is_runnable(synth):
    ds, p, gt, honest, _ = synth
    import re

    for damaged, pattern in ((honest @ ZUP, r"use (poses_3d\[\.\.\., \[.*?\]\](?: \* \[.*?\])?)"),
                             (honest[:, MIRROR], r"\((poses_3d\[:, \[.*?\]\])\)")):
        with pytest.raises(InputError) as exc:
            _match(ds, p, damaged)
        expr = re.search(pattern, str(exc.value)).group(1)
        fixed = eval(expr, {"poses_3d": damaged, "np": np})  # noqa: S307 - our own message
        np.testing.assert_allclose(fixed, honest, atol=1e-9)


def test_joint_order_option_reads_a_3dhp_ordered_file(synth, tmp_path):
    ds, p, gt, honest, _ = synth
    as_3dhp = convert(honest, "h36m17", "3dhp17")
    m = _match(ds, p, as_3dhp, joint_order="3dhp17")
    assert m.skeleton == "3dhp17"
    np.testing.assert_allclose(m.poses, honest)
    # the same through evaluate and the CLI
    want = posebench.evaluate(honest, dataset=ds, protocol=p, pss_k=()).metrics["mpjpe"]
    got = posebench.evaluate(as_3dhp, dataset=ds, protocol=p, pss_k=(), joint_order="3dhp17")
    assert got.metrics["mpjpe"] == pytest.approx(want, abs=1e-9)
    with pytest.raises(InputError, match="--joint-order 3dhp17"):
        posebench.evaluate(as_3dhp, dataset=ds, protocol=p, pss_k=())


def test_joint_order_is_also_checked(synth):
    ds, p, _, honest, _ = synth
    with pytest.raises(InputError, match="h36m17 order.*--joint-order h36m17"):
        _match(ds, p, honest, joint_order="3dhp17")


@pytest.mark.parametrize("order, match", [("mpii16", "16 joints but poses_3d has 17"),
                                          ("nope", "not a skeleton posebench knows")])
def test_bad_joint_order_is_refused(synth, order, match):
    ds, p, _, honest, _ = synth
    with pytest.raises(InputError, match=match):
        _match(ds, p, honest, joint_order=order)


def test_joint_order_conflicting_with_joint_names_is_refused(synth):
    ds, p, _, honest, _ = synth
    with pytest.raises(InputError, match="disagree with --joint-order"):
        _match(ds, p, honest, joint_names=H36M.names, joint_order="3dhp17")


def test_wrong_joint_names_are_caught_too(synth):
    ds, p, _, honest, _ = synth
    with pytest.raises(InputError, match="3dhp17 order"):
        _match(ds, p, convert(honest, "h36m17", "3dhp17"), joint_names=H36M.names)


# ----------------------------------------------------------------------------- false alarms
def test_honest_poor_predictions_are_not_refused(synth):
    ds, p, gt, _, train = synth
    rng = np.random.default_rng(5)
    mean_pose = np.broadcast_to(train.poses_3d.mean(axis=0), gt.shape)
    cases = {"mean pose": mean_pose,
             "mean pose at the true root": mean_pose - mean_pose[:, :1] + gt[:, :1],
             "100 mm noise": gt + rng.normal(0.0, 100.0, gt.shape),
             "30% left/right confusions": None}
    confused = gt + rng.normal(0.0, 40.0, gt.shape)
    flip = rng.random(len(gt)) < 0.3
    confused[flip] = confused[flip][:, MIRROR]
    cases["30% left/right confusions"] = confused
    for name, poses in cases.items():
        m = _match(ds, p, poses)
        f = m.frame
        assert f["declared_error_mm"] < RATIO * f["best_alternative_error_mm"], name
        assert f["declared_error_mm"] > 50.0, name  # genuinely poor


# ----------------------------------------------------------------------------- joint names
def test_every_known_joint_name_set_is_accepted(synth):
    ds, p, _, honest, _ = synth
    want = _match(ds, p, honest).poses
    for sk in ("h36m17", "3dhp17"):
        s = get_skeleton(sk)
        poses = convert(honest, "h36m17", sk)
        for names in (s.names, s.official_names):
            m = _match(ds, p, poses, joint_names=names)
            np.testing.assert_allclose(m.poses, want)
    # MPI-INF-3DHP annot.mat's 28 names: the 11 extra joints are ignored
    hp17 = convert(honest, "h36m17", "3dhp17")
    poses28 = np.repeat(hp17[:, 14:15], 28, axis=1)
    poses28[:, list(MPI3DHP_28_TO_17)] = hp17
    m = _match(ds, p, poses28, joint_names=MPI3DHP_28_NAMES)
    np.testing.assert_allclose(m.poses, want)
    assert "3dhp28" in m.skeleton


def test_official_h36m_names_from_a_file(synth, tmp_path):
    ds, p, _, honest, _ = synth
    f = tmp_path / "official.npz"
    np.savez(f, poses_3d=honest, index=np.arange(len(honest)),
             joint_names=np.array(H36M.official_names))
    rep = posebench.evaluate(str(f), dataset=ds, protocol=p, pss_k=())
    want = posebench.evaluate(honest, dataset=ds, protocol=p, pss_k=())
    assert rep.metrics["mpjpe"] == pytest.approx(want.metrics["mpjpe"], abs=1e-9)
    assert rep.summary["predictions"]["read_as"]["joint_order"] == "joint_names (h36m17 official)"


def test_mpii_official_names_on_the_mpii16_protocol(tmp_path):
    ds = read_split(toy_h36m(tmp_path / "h"), "test")
    p = get_protocol("h36m-every64-mpii16")
    gt = ds.poses_3d[p.select(ds)]
    mpii = get_skeleton("mpii16")
    m = _match(ds, p, convert(gt, "h36m17", "mpii16"), joint_names=mpii.official_names)
    np.testing.assert_allclose(m.poses, convert(gt, "h36m17", "mpii16"))


def test_resolve_joint_names_reads_each_set_as_a_whole():
    # "neck" is canonical neck/nose but 3DHP's official "neck" is the thorax
    hp = get_skeleton("3dhp17")
    assert resolve_joint_names(hp.official_names) == (hp.names, "3dhp17 official")
    assert resolve_joint_names(H36M.names) == (H36M.names, "canonical")
    assert resolve_joint_names(("Hips", "pelvis")) is None  # mixed schemes
    assert resolve_joint_names(("nose",)) is None


@pytest.mark.parametrize("perm", list(itertools.islice(itertools.permutations(range(3)), 1, 6)))
def test_axis_permutations_are_refused(synth, perm):
    ds, p, _, honest, _ = synth
    with pytest.raises(InputError, match="axes"):
        _match(ds, p, honest[..., list(perm)])


# ----------------------------------------------------------------------------- real mocap
def test_real_mocap_wrong_frames_refused_honest_ones_pass(shared_fixtures):
    """Bandai-Namco mocap (31,914 real frames, H36M-17 order, z up) seen by a level camera."""
    d = np.load(shared_fixtures / "mocap" / "converted" / "bandai_ds1.npz")
    world = d["joints3d"].astype(np.float64)[::4]
    gt = np.stack([world[..., 0], -world[..., 2], world[..., 1] + 4500.0], axis=-1)
    rng = np.random.default_rng(6)
    declared = Reading("h36m17 order (assumed from 17 joints)", H36M.names, "h36m17")
    alts = [Reading(f"{s} order", get_skeleton(s).names, s) for s in ("h36m17", "3dhp17")]

    def check(pred):
        return check_frame(pred, gt, H36M.names, declared, alts, "mocap")

    honest = gt + rng.normal(0.0, 30.0, gt.shape)
    mean_pose = np.broadcast_to(gt.mean(axis=0), gt.shape)
    for poor in (honest, mean_pose, gt + rng.normal(0.0, 100.0, gt.shape)):
        out = check(poor)
        assert out["declared_error_mm"] < RATIO * out["best_alternative_error_mm"]
    for wrong, cause in ((convert(honest, "h36m17", "3dhp17"), "3dhp17 order"),
                         (honest[:, MIRROR], "swapped"), (honest / 10.0, "10 times too small"),
                         (world + rng.normal(0.0, 30.0, world.shape), "axes"),
                         (honest * [1.0, -1.0, 1.0], r"\(x, -y, z\)")):
        with pytest.raises(InputError, match=cause):
            check(wrong)


def test_group_rotation_errors_recover_one_rotation_per_group():
    from posebench.frame_check import group_rotation_errors

    rng = np.random.default_rng(7)
    g = rng.normal(size=(60, 17, 3)) * 200
    g -= g.mean(axis=1, keepdims=True)
    groups = np.repeat(["a", "b"], 30)
    p = g.copy()
    p[:30] = g[:30] @ _rotation(40.0, 0.0).T  # p @ R = g for R = _rotation(40)
    err, angle = group_rotation_errors(p, g, groups)
    np.testing.assert_allclose(err, 0.0, atol=1e-9)
    assert angle == pytest.approx(40.0)
    # groups too small for their own fit keep the identity
    err_small, _ = group_rotation_errors(p[25:35], g[25:35], groups[25:35])
    assert err_small[:5].min() > 10.0 and err_small[5:].max() < 1e-9


def test_cli_joint_order_scores_a_3dhp_ordered_file(tmp_path, capsys):
    import json

    from posebench.cli import main

    root = toy_synth(tmp_path / "toy")
    ds = read_split(root, "test")
    gt = ds.poses_3d[get_protocol("synth").select(ds)]
    f = tmp_path / "p.npz"
    np.savez(f, poses_3d=convert(gt, "h36m17", "3dhp17"), index=np.arange(len(gt)))
    out = tmp_path / "r.json"
    from posebench.metrics.pss import PoseStructureScore, normalize_poses

    pss = PoseStructureScore(k=5)  # nearest-centre model on 5 poses: no k-means fit needed
    pss.centres_, pss.num_joints = normalize_poses(gt[::60][:5]), 17
    args = ["eval", str(f), "--dataset", str(root), "--output", str(out), "--pss-model",
            str(pss.save(tmp_path / "pss5"))]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--joint-order 3dhp17" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert main([*args, "--joint-order", "3dhp17"]) == 0
    rec = json.loads(out.read_text())
    assert rec["metrics"]["mpjpe"] == pytest.approx(0.0, abs=1e-9)
    assert rec["predictions"]["read_as"]["joint_order"] == "3dhp17"
    assert rec["frame_check"]["declared"] == "3dhp17 order (--joint-order)"

"""Predictions schema: loading, validation and matching to a protocol's samples."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from helpers_toy import toy_3dhp, toy_h36m, toy_synth

from posebench.data.dataset import read_split
from posebench.data.protocols import get_protocol
from posebench.errors import InputError
from posebench.predictions import Predictions, load_predictions, match_to_ground_truth
from posebench.skeletons import convert


@pytest.fixture(scope="module")
def synth_test(tmp_path_factory):
    root = toy_synth(tmp_path_factory.mktemp("synth") / "toy")
    return read_split(root, "test")


@pytest.fixture(scope="module")
def h36m_test(tmp_path_factory):
    root = toy_h36m(tmp_path_factory.mktemp("h36m") / "toy")
    return read_split(root, "test")


def _save(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_index_file_round_trip(tmp_path, synth_test):
    p = get_protocol("synth")
    rows = p.select(synth_test)
    gt = synth_test.poses_3d[rows]
    f = _save(tmp_path / "p.npz", poses_3d=gt.astype(np.float32), index=np.arange(len(rows)))
    preds = load_predictions(f)
    assert preds.poses_3d.dtype == np.float32  # kept as stored: half the memory of float64
    assert preds.sha256 == hashlib.sha256(f.read_bytes()).hexdigest()  # hashed in chunks
    assert load_predictions(_save(tmp_path / "i.npz", poses_3d=np.ones((3, 17, 3), int),
                                  index=np.arange(3))).poses_3d.dtype == np.float64
    m = match_to_ground_truth(preds, synth_test, p)
    np.testing.assert_array_equal(m.rows, rows)
    np.testing.assert_allclose(m.poses, gt, atol=1e-3)  # float32 storage
    np.testing.assert_allclose(m.root, gt[:, 0], atol=1e-3)
    assert m.coverage == {"covered": len(rows), "expected": len(rows), "fraction": 1.0,
                          "partial": False}


def test_shuffled_keys_are_put_back_in_canonical_order(synth_test):
    p = get_protocol("synth")
    rows = p.select(synth_test)
    perm = np.random.default_rng(0).permutation(len(rows))
    k = synth_test.keys.take(rows[perm])
    preds = Predictions(synth_test.poses_3d[rows[perm]],
                        keys={"subject": k.subject, "action": k.action, "subaction": k.subaction,
                              "camera": k.camera, "frame": k.frame})
    m = match_to_ground_truth(preds, synth_test, p)
    np.testing.assert_array_equal(m.rows, rows)
    np.testing.assert_array_equal(m.poses, synth_test.poses_3d[rows])


def test_index_and_keys_must_agree(synth_test):
    p = get_protocol("synth")
    rows = p.select(synth_test)
    k = synth_test.keys.take(rows)
    keys = {"subject": k.subject, "action": k.action, "subaction": k.subaction,
            "camera": k.camera, "frame": k.frame}
    ok = Predictions(synth_test.poses_3d[rows], index=np.arange(len(rows)), keys=keys)
    assert len(match_to_ground_truth(ok, synth_test, p).rows) == len(rows)
    bad = Predictions(synth_test.poses_3d[rows], index=np.roll(np.arange(len(rows)), 1),
                      keys=keys)
    with pytest.raises(InputError, match="disagree"):
        match_to_ground_truth(bad, synth_test, p)


def test_keys_without_subaction_are_ambiguous_when_subactions_share_frames(synth_test):
    p = get_protocol("synth")
    rows = p.select(synth_test)
    k = synth_test.keys.take(rows)
    preds = Predictions(synth_test.poses_3d[rows],
                        keys={"subject": k.subject, "action": k.action, "camera": k.camera,
                              "frame": k.frame})
    with pytest.raises(InputError, match="subaction"):
        match_to_ground_truth(preds, synth_test, p)


def test_keys_without_subaction_work_when_unambiguous(tmp_path):
    ds = read_split(toy_3dhp(tmp_path / "hp"), "test")  # one subaction per sequence
    p = get_protocol("3dhp-official")
    rows = p.select(ds)
    k = ds.keys.take(rows)
    preds = Predictions(ds.poses_3d[rows][::-1],
                        keys={"subject": k.subject[::-1], "action": k.action[::-1],
                              "camera": k.camera[::-1], "frame": k.frame[::-1]})
    m = match_to_ground_truth(preds, ds, p)
    np.testing.assert_array_equal(m.rows, rows)
    # 3dhp17 dataset order -> 3dhp17 eval order, root = pelvis (index 14)
    np.testing.assert_array_equal(m.root, ds.poses_3d[rows][:, 14])


def test_joint_names_reorder_to_eval_skeleton(synth_test):
    p = get_protocol("synth")
    rows = p.select(synth_test)
    gt = synth_test.poses_3d[rows]
    as_3dhp = convert(gt, "h36m17", "3dhp17")
    from posebench.skeletons import get_skeleton

    preds = Predictions(as_3dhp, index=np.arange(len(rows)),
                        joint_names=get_skeleton("3dhp17").names)
    m = match_to_ground_truth(preds, synth_test, p)
    np.testing.assert_array_equal(m.poses, gt)
    assert m.skeleton == "joint_names"


def test_eval_skeleton_joint_count_is_accepted(h36m_test):
    p = get_protocol("h36m-every64-mpii16")
    rows = p.select(h36m_test)
    gt = h36m_test.poses_3d[rows]
    preds = Predictions(convert(gt, "h36m17", "mpii16"), index=np.arange(len(rows)))
    m = match_to_ground_truth(preds, h36m_test, p)
    assert m.skeleton == "mpii16" and m.poses.shape == (len(rows), 16, 3)
    np.testing.assert_array_equal(m.root, gt[:, 0])  # pelvis


def test_every64_selects_frames_divisible_by_64(h36m_test):
    rows = get_protocol("h36m-every64").select(h36m_test)
    assert set(np.unique(h36m_test.keys.frame[rows]).tolist()) == {0, 64, 128, 192}
    assert np.all(np.diff(rows) > 0)


def test_partial_is_allowed_only_on_request(synth_test):
    p = get_protocol("synth")
    rows = p.select(synth_test)
    keep = np.arange(0, len(rows), 2)
    preds = Predictions(synth_test.poses_3d[rows[keep]], index=keep)
    with pytest.raises(InputError, match="--allow-partial"):
        match_to_ground_truth(preds, synth_test, p)
    m = match_to_ground_truth(preds, synth_test, p, allow_partial=True)
    assert m.partial and m.coverage["covered"] == len(keep)
    assert m.notes and m.notes[0].startswith("PARTIAL")


def test_metres_are_detected_from_bone_lengths(synth_test):
    p = get_protocol("synth")
    rows = p.select(synth_test)
    preds = Predictions(synth_test.poses_3d[rows] / 1000.0, index=np.arange(len(rows)))
    with pytest.raises(InputError, match="metres"):
        match_to_ground_truth(preds, synth_test, p)


def test_from_array_builds_canonical_index():
    preds = Predictions.from_array(np.ones((5, 17, 3)))
    np.testing.assert_array_equal(preds.index, np.arange(5))
    with pytest.raises(InputError, match="shape"):
        Predictions.from_array(np.ones((5, 17)))


@pytest.mark.parametrize("arrays, match", [
    ({"index": np.arange(3)}, "no 'poses_3d'"),
    ({"poses_3d": np.zeros((3, 17, 3))}, "neither an 'index'"),
    ({"poses_3d": np.zeros((3, 17, 3)), "index": np.arange(4)}, "index has shape"),
    ({"poses_3d": np.zeros((3, 17, 3)), "index": np.array([0, 1, 1])}, "appears 2 times"),
    ({"poses_3d": np.zeros((3, 17, 3)), "index": np.array([0.0, 1.0, 2.0])}, "dtype float64"),
    ({"poses_3d": np.full((3, 17, 3), "a"), "index": np.arange(3)}, "dtype <U1"),
    ({"poses_3d": np.zeros((3, 17, 3)), "subject": np.array(["a"] * 3)}, "lacks action"),
])
def test_schema_errors(tmp_path, arrays, match):
    f = _save(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputError, match=match):
        load_predictions(f)


def test_nan_loads_and_the_nan_policy_decides_at_matching(tmp_path, synth_test):
    p = get_protocol("synth")
    rows = p.select(synth_test)
    gt = synth_test.poses_3d[rows].copy()
    gt[2, 4] = np.nan
    preds = load_predictions(_save(tmp_path / "nan.npz", poses_3d=gt, index=np.arange(len(gt))))
    assert np.isnan(preds.poses_3d).sum() == 3
    with pytest.raises(InputError, match="NaN or inf in 1 of .* --nan-policy miss"):
        match_to_ground_truth(preds, synth_test, p)
    m = match_to_ground_truth(preds, synth_test, p, nan_policy="miss")
    assert m.nonfinite.sum() == 1 and m.nonfinite[2] and m.nan_joints == 1


@pytest.mark.parametrize("skeleton, which", [("h36m17", "official_names"),
                                             ("3dhp17", "official_names"),
                                             ("mpii16", "official_names"),
                                             ("3dhp17", "names")])
def test_known_joint_name_sets_load_as_canonical_names(tmp_path, skeleton, which):
    from posebench.skeletons import get_skeleton

    sk = get_skeleton(skeleton)
    f = _save(tmp_path / "n.npz", poses_3d=np.zeros((2, sk.num_joints, 3)), index=np.arange(2),
              joint_names=np.array(getattr(sk, which)))
    preds = load_predictions(f)
    assert preds.joint_names == sk.names
    assert preds.names_as == ("canonical" if which == "names" else f"{skeleton} official")


def test_joint_names_mixing_two_schemes_are_refused(tmp_path):
    from posebench.skeletons import get_skeleton

    names = list(get_skeleton("h36m17").official_names)
    names[1] = "r_hip"  # canonical among official names
    f = _save(tmp_path / "mix.npz", poses_3d=np.zeros((2, 17, 3)), index=np.arange(2),
              joint_names=np.array(names))
    with pytest.raises(InputError, match="different naming schemes"):
        load_predictions(f)

"""Metrics against hand-derived values and independent formulas."""

from __future__ import annotations

import numpy as np
import pytest

import posebench.metrics as M
from posebench import parallel
from posebench.errors import InputError
from posebench.metrics import reference

# A 4-joint "pose": root at the origin and one joint 100 mm along each axis.
GT4 = np.array([[0.0, 0, 0], [100, 0, 0], [0, 100, 0], [0, 0, 100]])
RZ90 = np.array([[0.0, 1, 0], [-1, 0, 0], [0, 0, 1]])  # row convention: (x, y, z) -> (-y, x, z)


def rot_z(theta: float) -> np.ndarray:
    """Row-convention rotation about z: p @ rot_z(t) rotates p by t counter-clockwise."""
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


def rot_x(theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])


def test_rotated_scaled_shifted_prediction():
    # pred = 2 * gt rotated 90 deg about z: joints (0,0,0), (0,200,0), (-200,0,0), (0,0,200).
    pred = 2.0 * GT4 @ RZ90
    np.testing.assert_allclose(pred[1], [0, 200, 0])
    # per-joint errors: 0, |(-100, 200, 0)| = 100 sqrt5, |(-200, -100, 0)| = 100 sqrt5, 100
    expected = (0 + 2 * 100 * np.sqrt(5) + 100) / 4
    assert M.mpjpe(pred, GT4) == pytest.approx(expected, abs=1e-12)
    shifted = pred + np.array([10.0, -20.0, 30.0])
    assert M.mpjpe(shifted, GT4, root=0) == pytest.approx(expected, abs=1e-12)
    assert M.mpjpe(shifted, GT4) != pytest.approx(expected, abs=1e-3)
    assert M.p_mpjpe(shifted, GT4) == pytest.approx(0.0, abs=1e-9)


def test_rotation_about_z_closed_form():
    rng = np.random.default_rng(0)
    gt = rng.normal(scale=300, size=(5, 17, 3))
    theta, s, t = 0.7, 1.3, np.array([50.0, -20.0, 400.0])
    pred = s * gt @ rot_z(theta) + t
    # |s R g - g + t| with g.Rg = cos(theta)(gx^2 + gy^2) + gz^2 (independent of our code)
    g_rg = np.cos(theta) * (gt[..., 0] ** 2 + gt[..., 1] ** 2) + gt[..., 2] ** 2
    rg = gt @ rot_z(theta)
    sq = (s * s + 1) * (gt ** 2).sum(-1) - 2 * s * g_rg + (t @ t) + 2 * ((s * rg - gt) @ t)
    np.testing.assert_allclose(M.mpjpe(pred, gt), np.sqrt(sq).mean(-1), rtol=1e-12)
    np.testing.assert_allclose(M.p_mpjpe(pred, gt), 0.0, atol=1e-9)


def test_p_mpjpe_matches_reference_svd():
    rng = np.random.default_rng(1)
    gt = rng.normal(scale=250, size=(300, 17, 3)) + [0, 0, 5000]
    pred = gt @ rot_x(0.4) * 0.9 + rng.normal(scale=40, size=gt.shape)
    pred[::3] = pred[::3] * np.array([-1.0, 1, 1])  # mirrored: the reflection must be refused
    np.testing.assert_allclose(M.p_mpjpe(pred, gt), reference.p_mpjpe(pred, gt), atol=1e-9)


def test_batch_dims_and_float32():
    rng = np.random.default_rng(2)
    gt = rng.normal(scale=200, size=(2, 3, 17, 3))
    pred = gt + rng.normal(scale=20, size=gt.shape)
    out = M.p_mpjpe(pred, gt)
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out.ravel(), M.p_mpjpe(pred.reshape(6, 17, 3), gt.reshape(6, 17, 3)))
    np.testing.assert_allclose(M.mpjpe(pred.astype(np.float32), gt.astype(np.float32)),
                               M.mpjpe(pred.astype(np.float32).astype(np.float64),
                                     gt.astype(np.float32).astype(np.float64)))


def test_pck_threshold_is_strict():
    gt = np.zeros((1, 4, 3))
    pred = gt.copy()
    pred[0, 0, 0] = 150.0  # exactly on the threshold: a miss
    pred[0, 1, 1] = np.nextafter(150.0, 0)  # just below: a hit
    pred[0, 2, 2] = 90.0  # hit; joint 3 is perfect: hit
    assert M.pck(pred, gt)[0] == pytest.approx(75.0)
    assert M.pck(pred, gt, threshold=90.0)[0] == pytest.approx(25.0)


def test_auc_values():
    gt = np.random.default_rng(3).normal(size=(3, 17, 3)) * 100
    assert M.auc(gt, gt) == pytest.approx(np.full(3, 3000 / 31), abs=1e-12)
    assert round(float(M.auc(gt, gt)[0]), 2) == 96.77
    for err, passed in [(7.0, 29), (5.0, 29), (150.0, 0), (149.0, 1), (0.5, 30), (200.0, 0)]:
        pred = gt + np.array([err, 0, 0])
        assert M.auc(pred, gt)[0] == pytest.approx(passed * 100 / 31, abs=1e-12), err


def test_auc_general_thresholds_match_direct_count():
    rng = np.random.default_rng(4)
    gt = rng.normal(scale=100, size=(50, 17, 3))
    pred = gt + rng.normal(scale=60, size=gt.shape)
    pred[0, :5] = gt[0, :5] + [[5.0 * i, 0, 0] for i in range(5)]  # errors exactly on the grid
    e = np.linalg.norm(pred - gt, axis=-1)
    for thr in (np.arange(0, 151, 5), np.array([0.0, 10, 30, 150, 151.5])):
        direct = np.mean([(e < t).mean(-1) * 100 for t in thr], axis=0)
        np.testing.assert_allclose(M.auc(pred, gt, thresholds=thr), direct, atol=1e-12)


def test_least_squares_scale_closed_form():
    rng = np.random.default_rng(5)
    gt = rng.normal(scale=200, size=(20, 17, 3))
    pred = rng.normal(scale=200, size=(20, 17, 3))
    s = M.scale_least_squares(pred, gt, root=0)
    p0 = (pred - pred[:, :1]).reshape(20, -1)
    g0 = (gt - gt[:, :1]).reshape(20, -1)
    ref = [np.linalg.lstsq(a[:, None], b, rcond=None)[0][0] for a, b in zip(p0, g0)]
    np.testing.assert_allclose(s, ref, rtol=1e-12)
    # half-size root-centred prediction: s = 2 and N-MPJPE = 0
    half = 0.5 * (gt - gt[:, :1]) + 1000.0
    np.testing.assert_allclose(M.scale_least_squares(half, gt), 2.0, rtol=1e-12)
    np.testing.assert_allclose(M.n_mpjpe(half, gt, "least_squares"), 0.0, atol=1e-9)
    expected = np.linalg.norm((s[:, None] * p0 - g0).reshape(20, 17, 3), axis=-1).mean(-1)
    np.testing.assert_allclose(M.n_mpjpe(pred, gt), expected, rtol=1e-10)


def test_procrustes_scale_and_epipolarpose_n_mpjpe():
    rng = np.random.default_rng(6)
    gt = rng.normal(scale=200, size=(10, 17, 3))
    c, rot = 2.5, rot_z(0.3)
    pred = c * gt @ rot + 70.0
    np.testing.assert_allclose(M.procrustes_scale(pred, gt), 1 / c, rtol=1e-12)
    # N-MPJPE (procrustes): scale by 1/c, do NOT rotate: error of root-centred gt @ rot vs gt
    g0 = gt - gt[:, :1]
    expected = np.linalg.norm(g0 @ rot - g0, axis=-1).mean(-1)
    np.testing.assert_allclose(M.n_mpjpe(pred, gt, "procrustes"), expected, rtol=1e-10)
    # it equals sum of sign-corrected singular values / |P0|^2
    p0 = pred - pred.mean(1, keepdims=True)
    q0 = gt - gt.mean(1, keepdims=True)
    noisy = pred + rng.normal(scale=30, size=pred.shape)
    p0 = noisy - noisy.mean(1, keepdims=True)
    u, sig, vt = np.linalg.svd(np.einsum("nja,njb->nab", p0, q0))
    d = np.sign(np.linalg.det(u @ vt))
    ref = (sig[:, 0] + sig[:, 1] + d * sig[:, 2]) / (p0 ** 2).sum((1, 2))
    np.testing.assert_allclose(M.procrustes_scale(noisy, gt), ref, rtol=1e-10)


def test_per_joint_errors():
    rng = np.random.default_rng(7)
    gt = rng.normal(size=(4, 17, 3)) * 100
    pred = gt + rng.normal(size=gt.shape) * 10
    np.testing.assert_allclose(M.per_joint_errors(pred, gt), np.linalg.norm(pred - gt, axis=-1))
    rc = np.linalg.norm((pred - pred[:, 3:4]) - (gt - gt[:, 3:4]), axis=-1)
    np.testing.assert_allclose(M.per_joint_errors(pred, gt, root=3), rc, atol=1e-12)
    np.testing.assert_allclose(M.mpjpe(pred, gt), np.linalg.norm(pred - gt, axis=-1).mean(-1))


def test_mpjve_constant_drift():
    # prediction drifts by v per frame: velocity error |v| on every frame but the first
    n, v = 6, np.array([3.0, 4.0, 0.0])
    gt = np.random.default_rng(8).normal(size=(n, 17, 3)) * 100
    pred = gt + np.arange(n)[:, None, None] * v
    out = M.mpjve(pred, gt)
    assert np.isnan(out[0])
    np.testing.assert_allclose(out[1:], 5.0)


def test_mpjve_interleaved_sequences_and_frames():
    # two cameras interleaved (canonical order sorts camera last), frames 0, 2, 4 (stride 2)
    rng = np.random.default_rng(9)
    frames = np.repeat([0, 2, 4], 2)
    cams = np.tile(["c1", "c2"], 3)
    gt = rng.normal(size=(6, 17, 3)) * 100
    drift = np.where(cams == "c1", 1.0, 10.0)[:, None, None] * np.array([0.0, 0.0, 1.0])
    pred = gt + frames[:, None, None] * drift
    out = M.mpjve(pred, gt, sequence_ids=cams, frames=frames)
    assert np.isnan(out[:2]).all()
    np.testing.assert_allclose(out[2:], [1.0, 10.0, 1.0, 10.0])  # mm per frame, not per step
    per_step = M.mpjve(pred, gt, sequence_ids=cams)
    np.testing.assert_allclose(per_step[2:], [2.0, 20.0, 2.0, 20.0])
    with pytest.raises(InputError):
        M.mpjve(pred, gt, sequence_ids=cams, frames=np.zeros(6))


def test_degenerate_poses_do_not_crash():
    gt = np.random.default_rng(10).normal(size=(3, 17, 3))
    point = np.zeros((3, 17, 3))  # a prediction with no extent: aligned to the gt centroid
    out = M.p_mpjpe(point, gt)
    expected = np.linalg.norm(gt - gt.mean(1, keepdims=True), axis=-1).mean(-1)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    # no spread: scale 0, so N-MPJPE is the mean distance of the root-centred gt joints
    root_dist = np.linalg.norm(gt - gt[:, :1], axis=-1).mean(-1)
    np.testing.assert_allclose(M.n_mpjpe(point, gt), root_dist, rtol=1e-12)
    np.testing.assert_allclose(M.n_mpjpe(point, gt, "procrustes"), root_dist, rtol=1e-12)
    np.testing.assert_array_equal(M.procrustes_scale(point, gt), 0.0)
    np.testing.assert_array_equal(M.scale_least_squares(point, gt), 0.0)


def test_bad_inputs_raise_one_sentence_errors():
    with pytest.raises(InputError, match="shape"):
        M.mpjpe(np.zeros((2, 17, 3)), np.zeros((2, 16, 3)))
    with pytest.raises(InputError, match=r"\(\.\.\., J, 3\)"):
        M.mpjpe(np.zeros((2, 17, 2)), np.zeros((2, 17, 2)))
    with pytest.raises(InputError, match="root"):
        M.mpjpe(np.zeros((2, 17, 3)), np.zeros((2, 17, 3)), root=17)
    with pytest.raises(InputError, match="least_squares"):
        M.n_mpjpe(np.zeros((2, 17, 3)), np.zeros((2, 17, 3)), scale="lsq")


def test_pose_errors_equals_individual_metrics():
    rng = np.random.default_rng(11)
    gt = rng.normal(scale=250, size=(3000, 17, 3)) + [0, 0, 4000]
    pred = gt @ rot_z(0.2) * 1.05 + rng.normal(scale=40, size=gt.shape) + 30.0
    out = M.pose_errors(pred, gt, root=0)
    np.testing.assert_allclose(out["mpjpe"], M.mpjpe(pred, gt, root=0), rtol=1e-10)
    np.testing.assert_allclose(out["p_mpjpe"], M.p_mpjpe(pred, gt), rtol=1e-9)
    np.testing.assert_allclose(out["n_mpjpe"], M.n_mpjpe(pred, gt), rtol=1e-10)
    np.testing.assert_allclose(out["n_mpjpe_procrustes"], M.n_mpjpe(pred, gt, "procrustes"),
                               rtol=1e-10)
    np.testing.assert_allclose(out["pck"], M.pck(pred, gt, root=0))
    np.testing.assert_allclose(out["auc"], M.auc(pred, gt, root=0))
    assert set(M.pose_errors(pred, gt, ["pck"])) == {"pck"}
    with pytest.raises(InputError, match="unknown metric"):
        M.pose_errors(pred, gt, ["mpjpe", "pa_mpjpe"])


def test_chunking_and_threads_do_not_change_values(monkeypatch):
    rng = np.random.default_rng(12)
    gt = rng.normal(scale=250, size=(1000, 17, 3))
    pred = gt + rng.normal(scale=40, size=gt.shape)
    pred[::50] = gt[::50, :, :1] * np.array([1.0, 2.0, 3.0])  # collinear: the SVD fallback
    ref = M.p_mpjpe(pred, gt)
    ref_suite = M.pose_errors(pred, gt)
    monkeypatch.setattr(parallel, "CHUNK", 64)
    assert len(list(parallel.chunks(len(pred)))) == 16  # really chunked now
    before = parallel.num_threads()
    try:
        for threads in (2, 1):
            parallel.set_num_threads(threads)
            np.testing.assert_array_equal(M.p_mpjpe(pred, gt), ref)
            for name, values in M.pose_errors(pred, gt).items():
                np.testing.assert_array_equal(values, ref_suite[name])
    finally:
        parallel.set_num_threads(before)


def test_non_finite_poses_give_nan_not_exceptions():
    gt = np.random.default_rng(13).normal(size=(4, 17, 3)) * 100
    pred = gt.copy()
    pred[1, 3, 0] = np.nan
    pred[2, 0, 0] = np.inf
    out = M.p_mpjpe(pred, gt)
    assert np.isnan(out[1]) and np.isnan(out[2])
    np.testing.assert_allclose(out[[0, 3]], 0.0, atol=1e-9)
    res = M.pose_errors(pred, gt)
    assert np.isnan(res["n_mpjpe_procrustes"][1]) and res["mpjpe"][0] == 0.0
    assert res["pck"][1] == pytest.approx(1600 / 17)
    # AUC counts the NaN joint as a miss at every threshold (as PCK does), never NaN
    assert res["auc"][1] == pytest.approx(16 / 17 * 3000 / 31)
    assert res["auc"][2] == pytest.approx(0.0)  # inf root: every root-centred joint is a miss

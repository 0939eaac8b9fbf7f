"""The batched metrics (posebench.metrics.errors / .alignment) equal their definitions in
posebench.metrics.reference, over adversarial poses (property tests, derandomised).

Tolerance, one formula for every comparison: ``TOL = 1e-9 * size / 100 + 1e-13 / mm *
offset^2 / rms`` mm, where size is the largest spread or distance of the poses (~0.3 mm,
300 mm or 300 m here), rms the smallest RMS spread of a ground-truth pose and offset their
distance from the origin (0, 5 m, 1 km); dimensionless scales get TOL / rms(pred),
percentages (PCK, AUC) 1e-9. For human-sized poses within 10 m of the camera TOL is
~3e-9 mm (5 m: 1e-8 mm). The second term is the cancellation of the batched path's uncentred
sums (relative eps (offset / rms)^2, see posebench/metrics/alignment.py; measured up to ~10x
that, allowed ~500x): ~3e-4 mm for human-sized poses 1 km away.

Where the least-squares alignment is not unique (mirror image with two equal principal
spreads: "coincident"; collinear ground truth), the squared error, the scales and the per-joint
errors remain unique and are compared; the rotation (and, for "coincident", P-MPJPE) is not.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers_metrics import CASES, SETTINGS, adversarial_pairs
from hypothesis import given
from hypothesis import strategies as st

import posebench.metrics as M
from posebench.metrics import alignment
from posebench.metrics import reference as R

#: (pose size multiplier, offset mm): human-sized, tiny and huge poses near and far.
SCALES = [(1.0, 0.0), (1.0, 5000.0), (1.0, 1e6), (1e-3, 0.0), (1e-3, 5000.0), (1e3, 0.0),
          (1e3, 1e6)]
#: Cases whose optimal rotation is unique (for J >= 3 non-collinear joints).
UNIQUE_ROTATION = {"generic", "planar", "mirror", "mirror_planar", "near_coincident",
                   "duplicated", "unrelated"}


def spread(poses: np.ndarray) -> float:
    """Smallest RMS distance of a pose's joints from its centroid, mm (the size in TOL)."""
    return float(np.sqrt(((poses - poses.mean(1, keepdims=True)) ** 2).sum(-1).mean(-1)).min())


def tolerance(size: float, offset: float, rms: float) -> float:
    """The module docstring's TOL, mm."""
    return 1e-9 * size / 100.0 + 1e-13 * offset ** 2 / rms


def close(a, b, tol: float) -> None:
    np.testing.assert_allclose(a, b, rtol=0, atol=tol)


def make(case: str, seed: int, joints: int, unit: float, offset: float):
    pred, gt = adversarial_pairs(case, seed, joints)
    shift = np.random.default_rng(seed).normal(size=3)
    shift = offset * shift / np.linalg.norm(shift)
    size = max(spread(gt * unit), spread(pred * unit),
               float(np.abs(pred - gt).max()) * unit)  # (J = 1: the distance)
    rms = max(spread(gt * unit), 1e-3 * size)
    return pred * unit + shift, gt * unit + shift, tolerance(size, offset, rms)


def sse_after_alignment(pred, gt) -> np.ndarray:
    """Least-squares residual |s P R + t - G|^2 = |G0|^2 - s tr(R^T S) (unique even where R is
    not), from reference.procrustes."""
    s, _, _ = R.procrustes(pred, gt)
    g0 = gt - gt.mean(1, keepdims=True)
    p0 = pred - pred.mean(1, keepdims=True)
    return (g0 ** 2).sum((1, 2)) - s ** 2 * (p0 ** 2).sum((1, 2))


case_args = dict(case=st.sampled_from(CASES), seed=st.integers(0, 2**32 - 1),
                 joints=st.integers(1, 24), scale=st.sampled_from(SCALES))


@SETTINGS
@given(**case_args)
def test_joint_metrics_equal_reference(case, seed, joints, scale):
    unit, offset = scale
    pred, gt, tol = make(case, seed, joints, unit, offset)
    root = joints - 1
    for r in (None, 0, root):
        close(M.mpjpe(pred, gt, root=r), R.mpjpe(pred, gt, root=r), tol)
        close(M.per_joint_errors(pred, gt, root=r), R.joint_errors(pred, gt, root=r), tol)
    thr = float(np.random.default_rng(seed).uniform(0, 600)) * unit
    close(M.pck(pred, gt, thr, root=0), R.pck(pred, gt, thr, root=0), 1e-9)
    for thresholds in (R.AUC_THRESHOLDS * unit, np.array([0.0, 7.5, 40.0, 151.5]) * unit):
        close(M.auc(pred, gt, thresholds, root=root), R.auc(pred, gt, thresholds, root=root),
              1e-9)
    seq = np.arange(len(pred)) % 3
    frames = np.random.default_rng(seed).permutation(len(pred)) * 2
    close(M.mpjve(pred, gt, seq, frames), R.mpjve(pred, gt, seq, frames), tol)
    close(M.mpjve(pred, gt, root=0), R.mpjve(pred, gt, root=0), tol)


@SETTINGS
@given(**case_args)
def test_alignment_metrics_equal_reference(case, seed, joints, scale):
    unit, offset = scale
    pred, gt, tol = make(case, seed, joints, unit, offset)
    root = joints // 2
    suite = M.pose_errors(pred, gt, root=root, pck_threshold=100.0 * unit,
                          auc_thresholds=R.AUC_THRESHOLDS * unit)
    close(suite["mpjpe"], R.mpjpe(pred, gt, root=root), tol)
    close(suite["pck"], R.pck(pred, gt, 100.0 * unit, root=root), 1e-9)
    close(suite["auc"], R.auc(pred, gt, R.AUC_THRESHOLDS * unit, root=root), 1e-9)
    for scale_name, key in (("least_squares", "n_mpjpe"), ("procrustes", "n_mpjpe_procrustes")):
        expected = R.n_mpjpe(pred, gt, scale_name, root=root)
        close(M.n_mpjpe(pred, gt, scale_name, root=root), expected, tol)
        close(suite[key], expected, tol)
    # the squared residual of the fit is unique even where the rotation is not
    aligned = M.similarity_align(pred, gt)
    close(((aligned - gt) ** 2).sum((1, 2)), sse_after_alignment(pred, gt),
          tol * spread(gt) * joints)
    if case != "coincident" and not (case == "near_coincident" and offset > 1e4):
        tol_fit = tol * (1e3 if case == "near_coincident" else 1.0)
        expected = R.p_mpjpe(pred, gt)
        close(M.p_mpjpe(pred, gt), expected, tol_fit)
        close(suite["p_mpjpe"], expected, tol_fit)
        close(M.p_mpjpe_rerooted(pred, gt, root), R.p_mpjpe_rerooted(pred, gt, root), tol_fit)
    if case != "point_prediction" and joints > 1:  # no spread: the scale is 0/0
        size = spread(pred)
        close(M.procrustes_scale(pred, gt), R.procrustes_scale(pred, gt), tol / size)
        close(M.scale_least_squares(pred, gt, root), R.scale_least_squares(pred, gt, root),
              tol / size)
        close(M.scale_least_squares(pred, gt, None), R.scale_least_squares(pred, gt, None),
              tol / size)


@SETTINGS
@given(**case_args)
def test_procrustes_transform_equals_reference(case, seed, joints, scale):
    unit, offset = scale
    pred, gt, tol = make(case, seed, joints, unit, offset)
    s, rot, t = alignment.procrustes(pred, gt)
    # every rotation is proper, whatever the input (mirror images, planar, degenerate poses)
    close(np.linalg.det(rot), 1.0, 1e-9)
    close(np.matmul(rot, rot.transpose(0, 2, 1)), np.broadcast_to(np.eye(3), rot.shape), 1e-9)
    near = case == "near_coincident"
    if case in UNIQUE_ROTATION and joints >= 3 and not (case == "duplicated" and joints < 6) \
            and not (near and offset > 1e4):
        s_ref, rot_ref, t_ref = R.procrustes(pred, gt)
        size = spread(pred)
        close(s, s_ref, tol / size)
        close(rot, rot_ref, tol / size * (1e3 if near else 1.0))
        close(M.similarity_align(pred, gt), R.similarity_align(pred, gt),
              tol * (1e3 if near else 1.0))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_poses_equal_reference(value):
    """NaN / inf never raise: both paths give the same NaN / inf pattern and values."""
    pred, gt = adversarial_pairs("generic", 0, 17, n=6)
    pred[1, 3, 0] = value  # a non-root joint of the prediction
    pred[2, 0, 1] = value  # the root joint
    gt[3, 5, 2] = value  # the ground truth
    with np.errstate(all="ignore"):
        pairs = [(M.mpjpe(pred, gt), R.mpjpe(pred, gt)),
                 (M.mpjpe(pred, gt, root=0), R.mpjpe(pred, gt, root=0)),
                 (M.p_mpjpe(pred, gt), R.p_mpjpe(pred, gt)),
                 (M.p_mpjpe_rerooted(pred, gt, 0), R.p_mpjpe_rerooted(pred, gt, 0)),
                 (M.n_mpjpe(pred, gt), R.n_mpjpe(pred, gt)),
                 (M.n_mpjpe(pred, gt, "procrustes"), R.n_mpjpe(pred, gt, "procrustes")),
                 (M.pck(pred, gt), R.pck(pred, gt)), (M.pck(pred, gt, root=0),
                                                      R.pck(pred, gt, root=0)),
                 (M.auc(pred, gt), R.auc(pred, gt)), (M.auc(pred, gt, root=0),
                                                      R.auc(pred, gt, root=0)),
                 (M.similarity_align(pred, gt), R.similarity_align(pred, gt)),
                 (M.mpjve(pred, gt), R.mpjve(pred, gt))]
        suite = M.pose_errors(pred, gt)
    for fast, ref in pairs:
        np.testing.assert_array_equal(np.isnan(fast), np.isnan(ref))
        np.testing.assert_array_equal(np.isinf(fast), np.isinf(ref))
        close(fast, ref, 1e-9)
    assert np.isnan(pairs[2][0][[1, 2, 3]]).all() and np.isfinite(pairs[2][0][[0, 4, 5]]).all()
    finite = [0, 4, 5]  # the scales of a non-finite pose are unspecified (0, NaN or inf)
    close(M.procrustes_scale(pred, gt)[finite], R.procrustes_scale(pred, gt)[finite], 1e-12)
    close(M.scale_least_squares(pred, gt)[finite], R.scale_least_squares(pred, gt)[finite],
          1e-12)
    # PCK and AUC count a non-finite joint as a miss, never NaN
    assert np.isfinite(suite["pck"]).all() and np.isfinite(suite["auc"]).all()
    close(suite["auc"], R.auc(pred, gt, root=0), 1e-9)
    close(suite["pck"], R.pck(pred, gt, root=0), 1e-9)


def test_single_joint_skeleton():
    """One joint: nothing to align, P-MPJPE and N-MPJPE are 0, MPJPE is the distance."""
    pred = np.array([[[10.0, 20.0, 30.0]], [[0.0, 0.0, 0.0]]])
    gt = np.array([[[13.0, 24.0, 30.0]], [[1.0, 0.0, 0.0]]])
    for impl in (M, R):
        close(impl.mpjpe(pred, gt), [5.0, 1.0], 1e-12)
        close(impl.p_mpjpe(pred, gt), [0.0, 0.0], 1e-12)
        close(impl.n_mpjpe(pred, gt), [0.0, 0.0], 1e-12)
        close(impl.pck(pred, gt, 3.0), [0.0, 100.0], 1e-12)

"""Alignment: closed-form quaternion solver vs SVD, reflections, planar poses, properties."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_metrics import SETTINGS, pose_pair, random_rotation, random_rotations
from hypothesis import assume, given
from hypothesis import strategies as st

from posebench.metrics import alignment as al
from posebench.metrics import (
    mpjpe,
    n_mpjpe,
    p_mpjpe,
    procrustes_scale,
    reference,
    rigid_align,
    root_centre,
    similarity_align,
)


def fit_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 3x3 linear part M of dst = src @ M + t, by least squares (independent of al)."""
    a = np.hstack([src, np.ones((src.shape[0], 1))])
    return np.linalg.lstsq(a, dst, rcond=None)[0][:3]


def test_quaternion_solver_matches_svd_rotation():
    rng = np.random.default_rng(0)
    p = rng.normal(size=(5000, 17, 3))
    g = rng.normal(size=(5000, 17, 3))  # unrelated poses: det(S) < 0 for about half of them
    st = al.centred_stats(p, g)
    s = st.s.T.reshape(-1, 3, 3)
    assert 0.3 < (np.linalg.det(s) < 0).mean() < 0.7
    r_q, tr_q = al.rotation_and_trace(st)
    r_q = r_q.T.reshape(-1, 3, 3)
    r_s, tr_s = al.svd_rotation(s)
    np.testing.assert_allclose(tr_q, tr_s, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(r_q, r_s, atol=1e-7)
    np.testing.assert_allclose(np.linalg.det(r_q), 1.0, atol=1e-12)


def test_similarity_align_recovers_known_transform():
    rng = np.random.default_rng(1)
    gt = rng.normal(scale=200, size=(8, 17, 3))
    rots = random_rotations(rng, 8)
    s = rng.uniform(0.2, 3, size=8)
    t = rng.normal(scale=500, size=(8, 1, 3))
    pred = (np.matmul(gt, rots) * s[:, None, None] + t)
    np.testing.assert_allclose(similarity_align(pred, gt), gt, atol=1e-9)
    rigid = np.matmul(gt, rots) + t
    np.testing.assert_allclose(rigid_align(rigid, gt), gt, atol=1e-9)


def test_alignment_never_reflects():
    rng = np.random.default_rng(2)
    gt = rng.normal(scale=200, size=(20, 17, 3))
    mirrored = gt * np.array([-1.0, 1.0, 1.0])  # a reflection of gt: not reachable by rotation
    aligned = similarity_align(mirrored, gt)
    s, rot, _ = al.procrustes(mirrored, gt)
    assert (s > 0.1).all()
    for src, dst, scale in zip(mirrored, aligned, s):  # det(s R) = s^3 det R = +s^3
        np.testing.assert_allclose(np.linalg.det(fit_affine(src, dst)), scale ** 3, rtol=1e-9)
    assert (p_mpjpe(mirrored, gt) > 1.0).all()  # the mirror image is NOT a perfect match
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-9)
    rig = rigid_align(mirrored, gt)
    for src, dst in zip(mirrored, rig):
        np.testing.assert_allclose(np.linalg.det(fit_affine(src, dst)), 1.0, atol=1e-9)


def test_planar_poses_reflection_pitfall():
    """Coplanar poses make det(S) ~ 0 with a random sign: deciding the reflection from it picks a
    wrong rotation. Exactly rotated planar poses must align to ~0 error, with det R = +1."""
    rng = np.random.default_rng(3)
    n = 400
    gt = rng.normal(scale=300, size=(n, 17, 3))
    gt[..., 2] = 0.0  # planar
    rots = random_rotations(rng, n)
    pred = np.matmul(gt, rots) * 1.7 + rng.normal(scale=100, size=(n, 1, 3))
    assert np.abs(p_mpjpe(pred, gt)).max() < 1e-8
    # the pitfall is real here: S is singular, so sign(det S) carries no information (0 or
    # rounding noise) and cannot decide the reflection fix
    p0, g0 = pred - pred.mean(1, keepdims=True), gt - gt.mean(1, keepdims=True)
    cov = np.einsum("nja,njb->nab", p0, g0)
    sig = np.linalg.svd(cov, compute_uv=False)
    assert (np.abs(np.linalg.det(cov)) <= 1e-9 * sig[:, 0] ** 3).all()
    assert (sig[:, 2] <= 1e-9 * sig[:, 0]).all() and (sig[:, 1] > 1e-3 * sig[:, 0]).all()
    _, rot, _ = al.procrustes(pred, gt)  # (the affine fit is rank-deficient here)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-12)
    # planar + det R = +1 makes the rotation unique: the inverse of the applied one
    np.testing.assert_allclose(np.matmul(rots, rot), np.broadcast_to(np.eye(3), (n, 3, 3)),
                               atol=1e-9)
    # planar and mirrored in its own plane: a rotation by 180 deg about an in-plane axis undoes it
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    assert np.abs(p_mpjpe(mirrored, gt)).max() < 1e-8


def test_ill_conditioned_subset_falls_back_to_svd(monkeypatch):
    calls = []
    original = al.svd_rotation

    def spy(s):
        calls.append(s.shape[0])
        return original(s)

    monkeypatch.setattr(al, "svd_rotation", spy)
    rng = np.random.default_rng(4)
    line = rng.normal(size=(30, 17, 1)) * np.array([100.0, 200.0, 300.0])  # collinear poses
    pred = line + rng.normal(scale=1e-3, size=line.shape)
    line[:3] = rng.normal(size=(3, 17, 3)) * 100  # well-conditioned: no fallback for these
    pred[:3] = line[:3] + rng.normal(size=(3, 17, 3)) * 10
    np.testing.assert_allclose(p_mpjpe(pred, line), reference.p_mpjpe(pred, line), atol=1e-9)
    assert calls == [27]  # the rotation path: exactly the 27 collinear poses
    # the scale-only path (no eigenvector) falls back too: Newton's root is inaccurate there
    np.testing.assert_allclose(procrustes_scale(pred, line),
                               reference.procrustes_scale(pred, line), rtol=1e-12)
    assert calls == [27, 27]


def test_reflected_input_closed_form():
    """Joints +-x e1, +-y e2, +-z e3 (x > y > z) against their mirror image in x: the best
    proper rotation turns by 180 degrees about y (R = diag(-1, 1, -1)), flipping the smallest
    axis instead; s = (a + b - c) / (a + b + c) with a, b, c = 2x^2, 2y^2, 2z^2, errors
    (1 - s) x, (1 - s) y, (1 + s) z on the pairs of joints."""
    x, y, z = 300.0, 200.0, 50.0
    gt = np.array([[x, 0, 0], [-x, 0, 0], [0, y, 0], [0, -y, 0], [0, 0, z], [0, 0, -z]])
    gt = gt[None] + np.array([100.0, -50.0, 4000.0])
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    a, b, c = 2 * x * x, 2 * y * y, 2 * z * z
    s_expected = (a + b - c) / (a + b + c)
    expected = 2 * ((1 - s_expected) * (x + y) + (1 + s_expected) * z) / 6
    for solver in (al.procrustes, reference.procrustes):
        s, rot, _ = solver(mirrored, gt)
        np.testing.assert_allclose(s, s_expected, rtol=1e-12)
        np.testing.assert_allclose(rot[0], np.diag([-1.0, 1.0, -1.0]), atol=1e-12)
        np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-12)
    for impl in (p_mpjpe, reference.p_mpjpe):
        np.testing.assert_allclose(impl(mirrored, gt), expected, rtol=1e-12)


def test_root_centre():
    p = np.arange(2 * 4 * 3, dtype=float).reshape(2, 4, 3)
    out = root_centre(p, root=1)
    np.testing.assert_allclose(out[:, 1], 0.0)
    np.testing.assert_allclose(out[0, 0], [-3.0, -3.0, -3.0])


# ------------------------------------------------------------------------------------ properties

@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), joints=st.integers(3, 20),
       noise=st.floats(0.0, 500.0))
def test_similarity_sse_never_exceeds_root_centred_sse(seed, joints, noise):
    pred, gt = pose_pair(seed, joints, noise)
    sse_sim = ((similarity_align(pred, gt) - gt) ** 2).sum()
    sse_root = ((root_centre(pred) - root_centre(gt)) ** 2).sum()
    sse_rigid = ((rigid_align(pred, gt) - gt) ** 2).sum()
    tol = 1e-9 * (1.0 + sse_root)
    assert sse_sim <= sse_root + tol
    assert sse_sim <= sse_rigid + tol


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), factor=st.floats(1e-2, 1e2),
       scale=st.sampled_from(["least_squares", "procrustes"]))
def test_n_mpjpe_invariant_to_prediction_scale(seed, factor, scale):
    pred, gt = pose_pair(seed)
    a = n_mpjpe(pred[None], gt[None], scale)
    b = n_mpjpe(factor * pred[None], gt[None], scale)
    np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), factor=st.floats(1e-2, 1e2),
       shift=st.tuples(*[st.floats(-1e4, 1e4)] * 3))
def test_p_mpjpe_invariant_to_similarity_of_prediction(seed, factor, shift):
    pred, gt = pose_pair(seed, noise=50.0)
    rng = np.random.default_rng(seed)
    moved = factor * pred @ random_rotation(rng) + np.array(shift)
    a = p_mpjpe(pred[None], gt[None])
    b = p_mpjpe(moved[None], gt[None])
    np.testing.assert_allclose(b, a, rtol=1e-8, atol=1e-8)
    # and never above the root-centred MPJPE's similarity-free counterpart's SSE bound
    assert a[0] <= mpjpe(pred[None], gt[None], root=0)[0] * np.sqrt(17) + 1e-9


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_mirrored_prediction_is_not_undone(seed):
    pred, gt = pose_pair(seed, noise=0.0)
    # non-planar pose: a reflection cannot be expressed by s, R (det +1), t
    sv = np.linalg.svd(gt - gt.mean(0), compute_uv=False)
    assume(sv[2] > 0.05 * sv[0])
    mirrored = pred * np.array([1.0, -1.0, 1.0])
    aligned = similarity_align(mirrored[None], gt[None])[0]
    scale = al.procrustes(mirrored[None], gt[None])[0][0]
    np.testing.assert_allclose(np.linalg.det(fit_affine(mirrored, aligned)), scale ** 3,
                               rtol=1e-9)
    assert p_mpjpe(mirrored[None], gt[None])[0] > 1e-3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes(dtype):
    pred, gt = pose_pair(5)
    out = p_mpjpe(pred[None].astype(dtype), gt[None].astype(dtype))
    assert out.dtype == np.float64
    ref = p_mpjpe(pred[None].astype(dtype).astype(np.float64),
                  gt[None].astype(dtype).astype(np.float64))
    np.testing.assert_allclose(out, ref)

"""Fast per-frame paths equal their reference implementations: batched inverse-iteration eigen
solver vs eigh, the closed-form essential decomposition vs the SVD one, the 2-hypothesis
cheirality vs brute force, the moment-matrix LM vs a finite-difference Gauss-Newton check,
and the iterated-linearisation correction vs Hartley-Sturm."""

import numpy as np
import pytest
from geometry_scenes import KM, svd_essential_hypotheses, two_view_scene

from posebench.geometry.rotations import rodrigues, rotation_angle_deg
from posebench.geometry.small_linalg import (
    smallest_eigval_sym2,
    smallest_eigvec_inverse_iteration,
    smallest_eigvec_psd,
    spd_solve,
)
from posebench.geometry.triangulation import (
    correct_matches,
    correct_matches_iterative,
    triangulate_two_view_optimal,
)
from posebench.geometry.two_view import (
    essential_decomposition,
    fundamental_8point,
    fundamental_from_pose,
    pose_hypotheses,
    refine_relative_pose,
    sampson_residual,
    select_pose_by_cheirality,
    two_ray_depths,
)


def scene(B, seed, noise):
    R, t, _, x1, x2, K = two_view_scene(B, seed, noise)
    return R, t, x1, x2, K


def test_smallest_eigvec_equals_eigh():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(500, 17, 9))
    M = np.swapaxes(A, -1, -2) @ A
    w, V = np.linalg.eigh(M)
    v = smallest_eigvec_psd(M)
    ok = w[:, 0] / w[:, 1] < 0.5  # well separated: both are the same unit vector up to sign
    err = np.minimum(np.abs(v - V[..., 0]).max(-1), np.abs(v + V[..., 0]).max(-1))
    assert err[ok].max() < 1e-10
    # always a unit vector whose Rayleigh quotient is within 1% of the smallest eigenvalue
    ray = np.einsum("bi,bij,bj->b", v, M, v)
    np.testing.assert_allclose(np.linalg.norm(v, axis=-1), 1.0, atol=1e-12)
    assert (ray <= w[:, 0] * 1.01 + 1e-12).all()


def test_smallest_eigvec_singular_and_rank_deficient():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(50, 17, 9))
    v0 = rng.normal(size=(50, 9))
    v0 /= np.linalg.norm(v0, axis=-1, keepdims=True)
    A -= (A @ v0[..., None]) * v0[:, None, :]  # exact null vector v0
    v = smallest_eigvec_psd(np.swapaxes(A, -1, -2) @ A)
    assert (np.abs(np.abs((v * v0).sum(-1)) - 1) < 1e-12).all()
    # all-zero matrices (no valid point) give a finite unit vector, never NaN or an exception
    z = smallest_eigvec_psd(np.zeros((3, 9, 9)))
    np.testing.assert_allclose(np.linalg.norm(z, axis=-1), 1.0)


def test_ldl_solve_and_inverse_iteration_equal_lapack():
    rng = np.random.default_rng(5)
    A = rng.normal(size=(300, 17, 9))
    M = np.swapaxes(A, -1, -2) @ A
    b = rng.normal(size=(300, 9))
    np.testing.assert_allclose(spd_solve(M, b), np.linalg.solve(M, b[..., None])[..., 0],
                               rtol=1e-8, atol=1e-10)
    w, V = np.linalg.eigh(M)
    v = smallest_eigvec_inverse_iteration(M, iters=64)
    sep = w[:, 0] / w[:, 1] < 0.5
    err = np.minimum(np.abs(v - V[..., 0]).max(-1), np.abs(v + V[..., 0]).max(-1))
    assert err[sep].max() < 1e-8


def test_smallest_eigval_sym2_closed_form():
    rng = np.random.default_rng(2)
    a, b, c = rng.normal(size=(3, 200))
    a, c = a * a, c * c
    ref = np.linalg.eigvalsh(np.stack([np.stack([a, b], -1), np.stack([b, c], -1)], -2))[:, 0]
    np.testing.assert_allclose(smallest_eigval_sym2(a, b, c), ref, atol=1e-12)


def test_eight_point_inverse_equals_eigh():
    _, _, x1, x2, _ = scene(200, 3, 1.0)
    Fa = fundamental_8point(x1, x2, eig_method="inverse")
    Fb = fundamental_8point(x1, x2, eig_method="eigh")
    sign = np.sign((Fa * Fb).sum((-2, -1)))[:, None, None]
    assert np.abs(Fa - sign * Fb).max() < 1e-8


def test_essential_decomposition_equals_the_svd_one():
    R, t, x1, x2, K = scene(100, 4, 0.5)
    F = fundamental_8point(x1, x2)
    E, R2, t2 = essential_decomposition(np.swapaxes(K, -1, -2) @ F @ K)
    Rs, ts = pose_hypotheses(R2, t2)
    E_ref, Rr, tr = svd_essential_hypotheses(np.swapaxes(K, -1, -2) @ F @ K)
    sign = np.sign((E * E_ref).sum((-2, -1)))[:, None, None]
    np.testing.assert_allclose(E, sign * E_ref, atol=1e-9)
    # same set of four hypotheses (order may differ by the sign of t)
    for k in range(4):
        d = (rotation_angle_deg(Rs[:, k:k + 1], Rr)
             + 1e3 * np.linalg.norm(ts[:, k:k + 1] - tr, axis=-1)).min(1)
        assert d.max() < 1e-6


def test_two_hypothesis_cheirality_equals_brute_force():
    R, t, x1, x2, K = scene(200, 5, 1.0)
    Ki = np.linalg.inv(KM)
    x1n, x2n = x1 @ Ki[:2, :2].T + Ki[:2, 2], x2 @ Ki[:2, :2].T + Ki[:2, 2]
    E = essential_decomposition(np.swapaxes(K, -1, -2) @ fundamental_8point(x1, x2) @ K)[0]
    valid = np.ones(x1.shape[:2], bool)
    Rb, tb, frac = select_pose_by_cheirality(E, x1n, x2n, valid)
    Rs, ts = pose_hypotheses(*essential_decomposition(E)[1:])
    l1, l2 = two_ray_depths(x1n[:, None], x2n[:, None], Rs, ts)
    front = ((l1 > 0) & (l2 > 0)).sum(-1)
    best = np.argmax(front, 1)
    np.testing.assert_array_equal(Rb, Rs[np.arange(200), best])
    np.testing.assert_allclose(frac, front.max(1) / 17)


def test_refine_reaches_a_stationary_point_of_the_sampson_cost():
    R, t, x1, x2, K = scene(50, 6, 2.0)
    R0 = rodrigues(np.random.default_rng(7).normal(size=(50, 3)) * 0.01) @ R
    valid = np.ones(x1.shape[:2], bool)
    Rr, tr = refine_relative_pose(R0, t, x1, x2, K, K, valid, iters=30)

    def cost(Rc, tc):
        r = sampson_residual(fundamental_from_pose(Rc, tc, K, K), x1, x2)
        return (r * r).sum(-1)

    c0 = cost(Rr, tr)
    assert (c0 <= cost(R0, t) + 1e-12).all()
    # no small rotation perturbation lowers the cost (finite differences, 1e-5 rad)
    for k in range(3):
        for s in (-1e-5, 1e-5):
            d = np.zeros((50, 3))
            d[:, k] = s
            assert (cost(rodrigues(d) @ Rr, tr) >= c0 - 1e-9 * (1 + c0)).all()


@pytest.mark.parametrize("noise", [0.0, 1.0, 5.0])
def test_iterative_correction_equals_hartley_sturm(noise):
    R, t, x1, x2, K = scene(200, 8, noise)
    F = fundamental_from_pose(R, t, K, K)
    F /= np.linalg.norm(F, axis=(-2, -1), keepdims=True)
    y1, y2 = correct_matches(F, x1, x2)
    z1, z2 = correct_matches_iterative(F, x1, x2)
    assert np.abs(y1 - z1).max() < 1e-6 and np.abs(y2 - z2).max() < 1e-6
    X1 = triangulate_two_view_optimal(R, t, x1, x2, K, K)
    X2 = triangulate_two_view_optimal(R, t, x1, x2, K, K, method="iterative")
    assert np.abs(X1 - X2).max() < 1e-8


def test_iterative_correction_missing_points_and_fallback():
    R, t, x1, x2, K = scene(4, 9, 1.0)
    x1 = x1.copy()
    x1[0, 3] = np.nan
    F = fundamental_from_pose(R, t, K, K)
    # iters=1 leaves points unconverged: they must come from the Hartley-Sturm fallback
    z1, z2 = correct_matches_iterative(F, x1, x2, iters=1)
    y1, y2 = correct_matches(F, x1, x2)
    assert np.isnan(z1[0, 3]).all() and np.isnan(z2[0, 3]).all()
    fin = np.isfinite(y1).all(-1)
    assert np.abs(z1[fin] - y1[fin]).max() < 1e-6

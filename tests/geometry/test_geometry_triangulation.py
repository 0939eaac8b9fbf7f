"""Triangulation: Hartley-Sturm vs OpenCV, DLT exactness, vector median."""

import numpy as np
import pytest
from geometry_scenes import KM, two_view_scene

from posebench.geometry.rotations import rodrigues
from posebench.geometry.triangulation import (
    correct_matches,
    triangulate_dlt,
    triangulate_two_view_linear,
    triangulate_two_view_optimal,
    vector_median,
)
from posebench.geometry.two_view import fundamental_from_pose

scene = two_view_scene


def test_correct_matches_agrees_with_opencv():
    cv2 = pytest.importorskip("cv2")
    R, t, _, x1, x2, K = scene(40, 0, 0.05)
    F = fundamental_from_pose(R, t, K, K)
    y1, y2 = correct_matches(F, x1, x2)
    diffs, worse, refused = [], 0, 0
    for b in range(len(F)):
        try:
            c1, c2 = cv2.correctMatches(F[b], x1[b][None], x2[b][None])
        except cv2.error:
            # OpenCV 5.1's solvePoly asserts on a vanishing leading coefficient (a degenerate
            # but valid polynomial); our solver handles it, checked below for every pair
            refused += 1
            continue
        d = np.maximum(np.abs(c1[0] - y1[b]).max(-1), np.abs(c2[0] - y2[b]).max(-1))
        ours = ((y1[b] - x1[b]) ** 2 + (y2[b] - x2[b]) ** 2).sum(-1)
        theirs = ((c1[0] - x1[b]) ** 2 + (c2[0] - x2[b]) ** 2).sum(-1)
        worse += int((ours > theirs + 1e-12).sum())
        diffs.append(d)
    diffs = np.concatenate(diffs)
    # agreement to 1e-6 px on the well-posed majority; where OpenCV's iterative root finder
    # stops early our correction is never worse (lower or equal squared displacement)
    assert refused <= len(F) // 4, f"OpenCV refused {refused} of {len(F)} pairs"
    assert np.mean(diffs < 1e-6) > 0.9
    assert worse == 0
    # corrected points satisfy the epipolar constraint exactly
    h1 = np.concatenate([y1, np.ones(y1.shape[:-1] + (1,))], -1)
    h2 = np.concatenate([y2, np.ones(y2.shape[:-1] + (1,))], -1)
    assert np.abs(np.einsum("bni,bij,bnj->bn", h2, F, h1)).max() < 1e-12


def test_correct_matches_is_the_global_optimum():
    # independent check: brute-force search over the pencil of epipolar lines
    R, t, _, x1, x2, K = scene(3, 1, 3.0)
    F = fundamental_from_pose(R, t, K, K)
    y1, y2 = correct_matches(F, x1, x2)
    ours = ((y1 - x1) ** 2 + (y2 - x2) ** 2).sum(-1)
    for b in range(3):
        e1 = np.linalg.svd(F[b])[2][-1]
        e1 = e1[:2] / e1[2]
        for j in range(0, 17, 4):
            def cost(ang, b=b, j=j, e1=e1):
                d = np.stack([np.cos(ang), np.sin(ang)], -1)
                # the point of the line through e1 (direction d) closest to x1 ...
                p1 = e1 + ((x1[b, j] - e1) @ d.T)[..., None] * d
                h = np.concatenate([p1, np.ones(p1.shape[:-1] + (1,))], -1)
                l2 = h @ F[b].T  # ... and the distance of x2 to the matching epipolar line
                return ((p1 - x1[b, j]) ** 2).sum(-1) + (l2[..., :2] @ x2[b, j] + l2[..., 2]) ** 2 \
                    / (l2[..., 0] ** 2 + l2[..., 1] ** 2)

            grid = np.linspace(0, np.pi, 20001)
            k = np.argmin(cost(grid))
            fine = np.linspace(grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)], 20001)
            assert ours[b, j] <= cost(fine).min() + 1e-9


def test_optimal_and_linear_exact_on_exact_data():
    R, t, X, x1, x2, K = scene(30, 2, 0.0)
    np.testing.assert_allclose(triangulate_two_view_optimal(R, t, x1, x2, K, K), X, atol=1e-9)
    np.testing.assert_allclose(triangulate_two_view_linear(R, t, x1, x2, K, K), X, atol=1e-9)


def test_dlt_exact_and_weighted_and_missing():
    rng = np.random.default_rng(3)
    V, J = 4, 17
    R = rodrigues(rng.normal(size=(V, 3)) * 0.4)
    t = rng.normal(size=(V, 3)) * 300 + [0, 0, 5000]
    P = KM @ np.concatenate([R, t[..., None]], -1)
    X = rng.normal(size=(J, 3)) * 400
    xh = np.einsum("vij,nj->vni", P, np.concatenate([X, np.ones((J, 1))], -1))
    x = xh[..., :2] / xh[..., 2:]
    np.testing.assert_allclose(triangulate_dlt(P, x), X, atol=1e-7)
    # a wrong view with zero weight or NaN does not matter; one view alone gives NaN
    xb = x.copy()
    xb[3] += 50.0
    np.testing.assert_allclose(triangulate_dlt(P, xb, weights=np.array([1, 1, 1, 0.0])), X,
                               atol=1e-7)
    xb[3] = np.nan
    np.testing.assert_allclose(triangulate_dlt(P, xb), X, atol=1e-7)
    xs = np.full_like(x, np.nan)
    xs[0] = x[0]
    assert np.isnan(triangulate_dlt(P, xs)).all()


def test_dlt_matches_least_squares_on_noisy_data():
    rng = np.random.default_rng(4)
    R = rodrigues(rng.normal(size=(2, 3)) * 0.4)
    t = rng.normal(size=(2, 3)) * 300 + [0, 0, 5000]
    P = KM @ np.concatenate([R, t[..., None]], -1)
    X = rng.normal(size=(1, 3)) * 400
    xh = np.einsum("vij,nj->vni", P, np.concatenate([X, np.ones((1, 1))], -1))
    x = xh[..., :2] / xh[..., 2:] + rng.normal(size=(2, 1, 2)) * 2
    # independent: the same two passes with np.linalg.lstsq on explicit rows
    def ls(scale):
        rows = []
        for v in range(2):
            for r in (x[v, 0, 0] * P[v, 2] - P[v, 0], x[v, 0, 1] * P[v, 2] - P[v, 1]):
                rows.append(r * scale[v])
        A = np.array(rows)
        return np.linalg.lstsq(A[:, :3], -A[:, 3], rcond=None)[0]

    X1 = ls([1 / np.linalg.norm(x[v, 0, 0] * P[v, 2, :3] - P[v, 0, :3]) for v in range(2)])
    X2 = ls([1 / abs(P[v, 2] @ np.append(X1, 1.0)) for v in range(2)])
    np.testing.assert_allclose(triangulate_dlt(P, x)[0], X2, atol=1e-6)
    # and the weighting makes residuals image distances: reprojection error ~ noise level
    proj = np.einsum("vij,j->vi", P, np.append(X2, 1.0))
    assert np.abs(proj[:, :2] / proj[:, 2:] - x[:, 0]).max() < 6.0


def test_vector_median():
    # three collinear candidates: the median is the middle one (not the mean)
    X = np.array([[[0.0, 0, 0]], [[1.0, 0, 0]], [[10.0, 0, 0]]])
    np.testing.assert_allclose(vector_median(X, iters=500, tol=1e-12)[0], [1, 0, 0], atol=1e-6)
    # equilateral triangle: the centroid; an outlier moves it much less than the mean
    tri = np.array([[[1.0, 0, 0]], [[-0.5, np.sqrt(3) / 2, 0]], [[-0.5, -np.sqrt(3) / 2, 0]]])
    np.testing.assert_allclose(vector_median(tri)[0], [0, 0, 0], atol=1e-9)
    four = np.concatenate([tri, [[[1000.0, 0, 0]]]])
    assert np.linalg.norm(vector_median(four, iters=200)[0]) < 2.0
    # NaN candidates are ignored; all-NaN gives NaN
    nan = np.concatenate([tri, np.full((1, 1, 3), np.nan)])
    np.testing.assert_allclose(vector_median(nan)[0], [0, 0, 0], atol=1e-9)
    assert np.isnan(vector_median(np.full((2, 1, 3), np.nan))).all()


@pytest.mark.parametrize("noise", [0.5, 5.0, 30.0])
def test_certified_roots_equal_eigenvalue_roots(noise):
    # the fast Newton + proof path and the companion-eigenvalue path find the same optimum
    R, t, _, x1, x2, K = scene(60, 5, noise)
    F = fundamental_from_pose(R, t, K, K)
    a1, a2 = correct_matches(F, x1, x2, method="certified")
    b1, b2 = correct_matches(F, x1, x2, method="eigvals")
    ca = ((a1 - x1) ** 2 + (a2 - x2) ** 2).sum(-1)
    cb = ((b1 - x1) ** 2 + (b2 - x2) ** 2).sum(-1)
    np.testing.assert_allclose(ca, cb, rtol=1e-9, atol=1e-9)
    assert np.abs(a1 - b1).max() < 1e-3 * max(noise, 1.0)

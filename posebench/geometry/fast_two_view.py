"""Fast per-frame two-view geometry: relative pose and 3D points for many frame pairs at once.

`fast_relative_pose` is the throughput path of per-frame mode (``estimator="fast"``): one
normalised 8-point solve on all valid joints per pair (no RANSAC, no iterative refinement),
rank-2 projection, E with singular values (1, 1, 0), the two rotation hypotheses, the
cheirality test, and midpoint triangulation; everything batched over pairs in float64, with
the degeneracy checks of `two_view.relative_pose` (same reason codes) computed from the same
moments. Conventions as in `posebench.geometry.two_view` (``X_2 = R X_1 + t``, ``||t|| = 1``,
x1, x2 undistorted pixels, NaN = missing).

Where the time goes, and what replaces the generic code:
- the 8-point and the homography (coplanarity check) normal matrices are both assembled from
  one (B, 6, 6) matrix of second-order moments (one batched matmul) instead of two (B, 2N, 9)
  design matrices; F's null vector comes from batched inverse iteration on an LDL^T factor
  written over the batch (`small_linalg`), H from an 8x8 least-squares solve (H_33 = 1);
- no 3x3 SVD: the rank-2 projection of F uses the smallest right singular vector from the
  adjugate (``adj(F^T F)`` is dominated by it, sharpened by squaring); E is projected onto the
  essential manifold and decomposed in closed form (`two_view.essential_decomposition`, the
  decomposition the accurate path uses too);
- the depths computed for the cheirality test are reused for the midpoint triangulation;
- large batches are split over threads (`posebench.parallel`; numpy releases the GIL in its
  loops).
"""

from __future__ import annotations

import numpy as np

from posebench.geometry.small_linalg import (
    cofactor3,
    smallest_eigval_sym2,
    smallest_eigvec_inverse_iteration,
    spd_solve,
)
from posebench.geometry.two_view import (
    OK,
    PARALLEL_MIN_PAIRS,
    RelativePose,
    epipolar_terms,
    essential_decomposition,
    failure_reason,
    hartley_matrix,
)
from posebench.parallel import num_threads, parallel_map, split_batch

# monomial index of (p_i p_j) for homogeneous p = (p0, p1, 1): order p0^2, p0 p1, p1^2, p0, p1, 1
_MONO = np.array([[0, 1, 3], [1, 2, 4], [3, 4, 5]])
_ZERO = 36  # index of an appended zero in the flattened (B, 6, 6) moments


def _gather_indices():
    """Flat indices into the (B, 37) moments for the 8-point (F) and homography (H) normal
    matrices; H also needs a second index (sum of two moments) and a sign."""
    f_idx = np.empty((9, 9), np.int64)
    h_idx = np.full((9, 9), _ZERO, np.int64)
    h_idx2 = np.full((9, 9), _ZERO, np.int64)
    h_sign = np.ones((9, 9))
    for r in range(9):
        for c in range(9):
            i, j, k, m = r // 3, r % 3, c // 3, c % 3
            f_idx[r, c] = 6 * _MONO[i, k] + _MONO[j, m]
            # H rows: r1 = [0, -a, b1 a], r2 = [a, 0, -b0 a] (a = x1 normalised, homogeneous)
            am = _MONO[j, m]
            if i == k < 2:
                h_idx[r, c] = 6 * 5 + am  # sum of a a^T
            elif {i, k} == {0, 2} or {i, k} == {1, 2}:
                h_idx[r, c] = 6 * _MONO[min(i, k), 2] + am  # sum of b_i a a^T
                h_sign[r, c] = -1.0
            elif i == k == 2:
                h_idx[r, c] = 6 * _MONO[0, 0] + am  # sum of (b0^2 + b1^2) a a^T
                h_idx2[r, c] = 6 * _MONO[1, 1] + am
    return f_idx.ravel(), h_idx.ravel(), h_idx2.ravel(), h_sign.ravel()


_F_IDX, _H_IDX, _H_IDX2, _H_SIGN = _gather_indices()


def _view_stats(x: np.ndarray, w: np.ndarray, n: np.ndarray):
    """Hartley normalisation and line spread of one view: x (B, N, 2) with invalid points 0,
    w (B, N) 0/1, n (B,) valid count. Returns (normalised x (B, N, 2) (0 where invalid),
    mean (B, 2), scale (B,), line spread (B,) px)."""
    mean = (x * w[..., None]).sum(-2) / n[:, None]
    d = (x - mean[:, None]) * w[..., None]
    dx, dy = d[..., 0], d[..., 1]
    cxx, cxy, cyy = (dx * dx).sum(-1) / n, (dx * dy).sum(-1) / n, (dy * dy).sum(-1) / n
    s = np.sqrt(2.0 / np.maximum(cxx + cyy, 1e-300))
    spread = np.sqrt(np.maximum(smallest_eigval_sym2(cxx, cxy, cyy), 0.0))
    return d * s[:, None, None], mean, s, spread


def _monomials(p: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """(B, N, 6): p0^2, p0 p1, p1^2, p0, p1, 1 of points p (B, N, 2) (0 at missing points);
    the last column is w (0/1 validity) when given, so the moments skip missing points."""
    p0, p1 = p[..., 0], p[..., 1]
    one = np.ones_like(p0) if w is None else w
    return np.stack([p0 * p0, p0 * p1, p1 * p1, p0, p1, one], axis=-1)


def _smallest_right_singular(F: np.ndarray, squarings: int = 3) -> np.ndarray:
    """Unit right singular vector (B, 3) of the smallest singular value of F (B, 3, 3), without
    an SVD: ``adj(F^T F) = adj(F) adj(F)^T`` has that vector as its dominant eigenvector
    (eigenvalue ratio (s3 / s2)^2), sharpened by repeated squaring."""
    cof = cofactor3(F)
    A = np.swapaxes(cof, -1, -2)  # adj(F)
    Y = A @ cof  # adj(F) adj(F)^T
    for _ in range(squarings):
        Y = Y / np.maximum(np.trace(Y, axis1=-2, axis2=-1), 1e-300)[:, None, None]
        Y = Y @ Y
    norms = (Y * Y).sum(-2)
    k = np.argmax(norms, axis=-1)
    v = np.take_along_axis(Y, k[:, None, None], axis=-1)[..., 0]
    return v / np.sqrt(np.maximum(np.take_along_axis(norms, k[:, None], -1), 1e-300))


def fast_relative_pose(x1: np.ndarray, x2: np.ndarray, K1: np.ndarray, K2: np.ndarray,
                       valid: np.ndarray | None = None, *, min_points: int = 8,
                       min_front_fraction: float = 0.9, identical_tol_px: float = 1e-3,
                       collinear_tol_px: float = 0.5, planar_tol_px: float = 1.5,
                       planar_ratio: float = 1.5, n_threads: int | None = None
                       ) -> tuple[RelativePose, np.ndarray]:
    """Relative pose and midpoint-triangulated points for B pairs (the fast per-frame path).

    x1, x2 (B, N, 2) undistorted px (NaN = missing); K1, K2 (B, 3, 3) or (3, 3); valid
    (B, N) optional. Returns (`RelativePose` (same fields and reason codes as
    `two_view.relative_pose`), X (B, N, 3) points in camera 1's frame, ``||t|| = 1`` units,
    NaN where a point is missing). The degeneracy tests and their tolerances are those of
    `two_view.relative_pose` (8-point Sampson RMS, homography transfer RMS, line spread,
    identical views, front fraction). Batches of >= `PARALLEL_MIN_PAIRS` pairs are split over
    `n_threads` threads (default `posebench.parallel.num_threads()`); the result does not
    depend on the split.
    """
    x1 = np.asarray(x1, dtype=np.float64)
    x2 = np.asarray(x2, dtype=np.float64)
    B = x1.shape[0]
    K1 = np.broadcast_to(np.asarray(K1, dtype=np.float64), (B, 3, 3))
    K2 = np.broadcast_to(np.asarray(K2, dtype=np.float64), (B, 3, 3))
    valid = None if valid is None else np.broadcast_to(np.asarray(valid, bool), x1.shape[:2])
    tol = (min_points, min_front_fraction, identical_tol_px, collinear_tol_px, planar_tol_px,
           planar_ratio)
    n_threads = n_threads or num_threads()
    if n_threads <= 1 or B < PARALLEL_MIN_PAIRS:
        with np.errstate(all="ignore"):
            return _fast(x1, x2, K1, K2, valid, *tol)

    def run(ch):
        with np.errstate(all="ignore"):
            return _fast(x1[ch], x2[ch], K1[ch], K2[ch], None if valid is None else valid[ch],
                         *tol)

    outs = parallel_map(run, split_batch(B, n_threads), threads=n_threads)
    return RelativePose.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])


def _normalised(x: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pixels (B, N, 2) -> normalised image coordinates for upper-triangular K (B, 3, 3)."""
    fx, sk, cx = K[:, 0, 0, None], K[:, 0, 1, None], K[:, 0, 2, None]
    fy, cy = K[:, 1, 1, None], K[:, 1, 2, None]
    y = (x[..., 1] - cy) / fy
    return np.stack([(x[..., 0] - cx - sk * y) / fx, y], axis=-1)


def _fit_moments(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 8-point F and the homography H (H_33 = 1), both (B, 3, 3) in the Hartley-normalised
    frames, from one (B, 6, 6) moment matrix of normalised points a, b (B, N, 2) (0 where
    w (B, N) is 0)."""
    B = len(a)
    mom = np.matmul(np.swapaxes(_monomials(b, None), -1, -2), _monomials(a, w))
    # normal matrices built batch-last, (81, B): the layout of the batched LDL^T
    mom = np.concatenate([mom.reshape(B, 36).T, np.zeros((1, B))])  # (37, B)
    MF = mom[_F_IDX].reshape(9, 9, B)
    MH = ((mom[_H_IDX] + mom[_H_IDX2]) * _H_SIGN[:, None]).reshape(9, 9, B)
    Fn = smallest_eigvec_inverse_iteration(MF, batch_last=True).reshape(B, 3, 3)
    # H with H_33 = 1 (linear least squares, no eigen-solver): in Hartley-normalised frames
    # the centroid maps to a finite point, so H_33 is far from 0 for any joints seen in both
    # views (the coplanarity test needs a good H, not the algebraic minimiser of ||h|| = 1)
    MH8 = MH[:8, :8] + 1e-12 * np.trace(MH) * np.eye(8)[..., None]
    h = spd_solve(MH8, -MH[:8, 8], batch_last=True)
    return Fn, np.concatenate([h, np.ones((B, 1))], axis=1).reshape(B, 3, 3)


def _rank2_pixels(Fn: np.ndarray, T1: np.ndarray, T2: np.ndarray) -> np.ndarray:
    """Frobenius-nearest rank-2 matrix of Fn (B, 3, 3) in the normalised frames, taken back to
    pixels by the Hartley matrices T1, T2 (B, 3, 3) and scaled to unit Frobenius norm."""
    v3 = _smallest_right_singular(Fn)
    Fn = Fn - (Fn @ v3[..., None]) * v3[:, None, :]
    F = np.swapaxes(T2, -1, -2) @ Fn @ T1
    F /= np.linalg.norm(F, axis=(-2, -1), keepdims=True)
    return F


def _cheirality(Rs: np.ndarray, t: np.ndarray, x1n: np.ndarray, x2n: np.ndarray,
                m: np.ndarray, n: np.ndarray):
    """The hypothesis (R_h, +-t) with most valid points in front of both cameras.

    Rs (B, 2, 3, 3), t (B, 3); x1n, x2n (B, N, 2) normalised; m (B, N) valid; n (B,) valid
    count (>= 1). Returns R (B, 3, 3), t (B, 3), front fraction (B,), and the two-ray depths
    lam1, lam2 (B, N) of the chosen pose. Depths for (R_h, t) by two-ray least squares
    ``min ||l2 x2h - l1 R x1h - t||``; (R, -t) has them negated. |R x1h| = |x1h| and t is
    shared, so only (R x1h).x2h and (R x1h).t = x1h.(R^T t) depend on the hypothesis."""
    u1, v1, u2, v2 = x1n[..., 0], x1n[..., 1], x2n[..., 0], x2n[..., 1]
    aa = (u1 * u1 + v1 * v1 + 1.0)[:, None]
    bb = (u2 * u2 + v2 * v2 + 1.0)[:, None]
    tt = t[:, None, :, None]
    bt = (u2[:, None] * tt[..., 0, :] + v2[:, None] * tt[..., 1, :] + tt[..., 2, :])
    Rr = Rs[..., None]  # (B, 2, 3, 3, 1)
    Rx1 = [Rr[:, :, i, 0] * u1[:, None] + Rr[:, :, i, 1] * v1[:, None] + Rr[:, :, i, 2]
           for i in range(3)]  # R x1h, each (B, 2, N)
    ab = Rx1[0] * u2[:, None] + Rx1[1] * v2[:, None] + Rx1[2]
    c = np.einsum("bhji,bj->bhi", Rs, t)[..., None]  # R^T t (B, 2, 3, 1)
    at = c[:, :, 0] * u1[:, None] + c[:, :, 1] * v1[:, None] + c[:, :, 2]
    det = aa * bb - ab * ab
    det = np.where(np.abs(det) < 1e-300, 1e-300, det)
    l1 = (ab * bt - at * bb) / det  # (B, 2, N)
    l2 = (aa * bt - ab * at) / det
    pos = ((l1 > 0) & (l2 > 0) & m[:, None]).sum(-1)
    neg = ((l1 < 0) & (l2 < 0) & m[:, None]).sum(-1)
    front = np.stack([pos[:, 0], neg[:, 0], pos[:, 1], neg[:, 1]], axis=-1)  # (B, 4)
    best = np.argmax(front, axis=1)
    rows = np.arange(len(Rs))
    hyp = best // 2
    sign = np.where(best % 2 == 1, -1.0, 1.0)
    return (Rs[rows, hyp], t * sign[:, None], front[rows, best] / n,
            l1[rows, hyp] * sign[:, None], l2[rows, hyp] * sign[:, None])


def _midpoints(lam1, lam2, x1n, x2n, R, t, m):
    """Midpoints (B, N, 3) of the two closest ray points in camera 1's frame,
    ``(l1 x1h + R^T (l2 x2h - t)) / 2``; NaN where m (B, N) is False."""
    u1, v1, u2, v2 = x1n[..., 0], x1n[..., 1], x2n[..., 0], x2n[..., 1]
    q = (lam2 * u2 - t[:, 0:1], lam2 * v2 - t[:, 1:2], lam2 - t[:, 2:3])
    X = np.stack([0.5 * ((lam1 * (u1, v1, 1.0)[k]) + R[:, 0, k, None] * q[0]
                         + R[:, 1, k, None] * q[1] + R[:, 2, k, None] * q[2])
                  for k in range(3)], axis=-1)
    return np.where(m[..., None], X, np.nan)


def _homography_rms(Hn: np.ndarray, a: np.ndarray, b: np.ndarray, m: np.ndarray,
                    n: np.ndarray, s2: np.ndarray) -> np.ndarray:
    """RMS transfer error (B,) px of Hn (B, 3, 3) from normalised a to b (B, N, 2) over the
    valid points m (B, N) (n (B,) of them), in view 2's pixels (Hartley scale s2 (B,))."""
    h = Hn[:, :, :, None]
    hz = h[:, 2, 0] * a[..., 0] + h[:, 2, 1] * a[..., 1] + h[:, 2, 2]
    e0 = b[..., 0] - (h[:, 0, 0] * a[..., 0] + h[:, 0, 1] * a[..., 1] + h[:, 0, 2]) / hz
    e1 = b[..., 1] - (h[:, 1, 0] * a[..., 0] + h[:, 1, 1] * a[..., 1] + h[:, 1, 2]) / hz
    e2 = np.where(m, np.nan_to_num(e0 * e0 + e1 * e1, nan=1e30, posinf=1e30), 0.0)
    return np.sqrt(e2.sum(-1) / n) / s2


def _fast(x1, x2, K1, K2, valid, min_points, min_front_fraction, identical_tol_px,
          collinear_tol_px, planar_tol_px, planar_ratio):
    """`fast_relative_pose` on one part of the batch (the same arguments, positional)."""
    m = np.isfinite(x1).all(-1) & np.isfinite(x2).all(-1)
    if valid is not None:
        m &= valid
    w = m.astype(np.float64)
    x1z = np.where(m[..., None], x1, 0.0)
    x2z = np.where(m[..., None], x2, 0.0)
    n_valid = m.sum(-1)
    n = np.maximum(n_valid, 1).astype(np.float64)
    a, mean1, s1, spread1 = _view_stats(x1z, w, n)
    b, mean2, s2, spread2 = _view_stats(x2z, w, n)
    Fn, Hn = _fit_moments(a, b, w)
    F = _rank2_pixels(Fn, hartley_matrix(mean1, s1), hartley_matrix(mean2, s2))
    E, Rs, t = essential_decomposition(np.swapaxes(K2, -1, -2) @ F @ K1)
    x1n, x2n = _normalised(x1z, K1), _normalised(x2z, K2)
    R, t, frac, lam1, lam2 = _cheirality(Rs, t, x1n, x2n, m, n)
    X = _midpoints(lam1, lam2, x1n, x2n, R, t, m)

    # degeneracy checks (those of two_view.relative_pose)
    a0, a1, _, b0, b1, num = epipolar_terms(F, x1z, x2z)
    d2 = num * num / np.maximum(a0 * a0 + a1 * a1 + b0 * b0 + b1 * b1, 1e-300)
    s_rms = np.sqrt((d2 * w).sum(-1) / n)
    h_rms = _homography_rms(Hn, a, b, m, n, s2)
    same = np.abs(x1z - x2z).max(axis=(-2, -1)) < identical_tol_px
    reason = failure_reason(R, t, n_valid, same, np.minimum(spread1, spread2), h_rms, s_rms,
                            frac, min_points=min_points, min_front_fraction=min_front_fraction,
                            collinear_tol_px=collinear_tol_px, planar_tol_px=planar_tol_px,
                            planar_ratio=planar_ratio)
    rp = RelativePose(R, t, F, E, m, reason == OK, reason, frac, s_rms, h_rms)
    return rp, X

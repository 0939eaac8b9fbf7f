"""Two-view epipolar geometry, batched over B view pairs (no Python loop over pairs).

Conventions:
- points ``x1, x2`` (B, N, 2) are *undistorted pinhole pixels* of views 1 and 2 (run
  `camera.undistort_points` first); NaN (or ``valid=False``) marks a missing correspondence;
- ``x2h^T F x1h = 0`` for homogeneous pixels; ``E = K2^T F K1`` relates normalised coordinates;
- relative pose (R, t): a point in camera 1's frame maps to camera 2's frame by
  ``X_2 = R X_1 + t`` (so camera 1 is the origin), ``E = [t]_x R``; with unknown scale
  ``||t|| = 1``.

Pipeline of `relative_pose`: degeneracy checks -> F (normalised 8-point on all valid points,
trimmed 8-point, or RANSAC on the Sampson distance) -> E with singular values (1, 1, 0) and
the four (R, t) (`essential_decomposition`, closed form, shared with the fast per-frame path)
-> cheirality by triangulated depth signs -> optional
Levenberg-Marquardt on the Sampson distance (pixels) over (R, t) -> final checks.

Numerics: the 8-point null vector is the smallest eigenvector of the 9x9 normal matrix of the
Hartley-normalised system, by batched inverse iteration (`small_linalg.smallest_eigvec_psd`:
one batched LU solve and a few matmuls, ~4x faster than `eigh`, itself 3-4x faster than an SVD
of the N x 9 system; squares the condition number, which the Sampson refinement then removes:
exact data is recovered to ~1e-12). E is decomposed in closed form (no SVD); the Sampson
Levenberg-Marquardt builds its 5-parameter normal equations from 9x9 per-pair moment matrices
(`refine_relative_pose`), and stops once every pair's step is below 1e-12.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from posebench.geometry.rotations import rodrigues, skew
from posebench.geometry.small_linalg import (
    cofactor3,
    null_vector_rank2,
    smallest_eigval_sym2,
    smallest_eigvec_psd,
)
from posebench.parallel import num_threads, parallel_map, split_batch

#: Batches of at least this many pairs are split over threads (smaller ones run serially).
PARALLEL_MIN_PAIRS = 2000

#: Reason codes shared by two-view and pseudo-label results (index = code).
REASONS: tuple[str, ...] = (
    "ok",                   # 0
    "too_few_points",       # 1 fewer than 8 valid correspondences (or a view missing)
    "identical_views",      # 2 both views see the same image: no baseline
    "collinear_points",     # 3 the 2D joints lie on a line in a view: F is undetermined
    "no_parallax",          # 4 a homography explains the data (coplanar joints, pure rotation)
    "cheirality",           # 5 no (R, t) puts enough points in front of both cameras
    "non_finite",           # 6 numerical failure (NaN/inf in the estimate)
    "root_missing",         # 7 the root joint could not be reconstructed (scale undefined)
    "not_enough_views",     # 8 pseudo-label view: no successful pair contains this view
    "parallel_rays",        # 9 triangulation undetermined: rays (near) parallel / singular
    "behind_camera",        # 10 the point lies behind (or on the plane of) a camera seeing it
    "few_visible",          # 11 rig calibration: too few frames with >= 8 joints in both views
    "little_motion",        # 12 rig calibration: too little motion for a confident pose
    "ill_conditioned",      # 13 rig calibration: pose uncertainty above the limit
    "not_visible",          # 14 the view does not see the person (its root joint has no 2D)
    "inconsistent",         # 15 rig calibration: the bundle fits worse than the pairwise fits
)
OK, TOO_FEW, IDENTICAL, COLLINEAR, NO_PARALLAX, CHEIRALITY, NON_FINITE, ROOT_MISSING, \
    NOT_ENOUGH_VIEWS, PARALLEL_RAYS, BEHIND_CAMERA, FEW_VISIBLE, LITTLE_MOTION, \
    ILL_CONDITIONED, NOT_VISIBLE, INCONSISTENT = range(len(REASONS))


def _valid_mask(x1: np.ndarray, x2: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    m = np.isfinite(x1).all(-1) & np.isfinite(x2).all(-1)
    if valid is not None:
        m &= np.asarray(valid, dtype=bool)
    return m


def hartley_matrix(mean: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Similarity T (..., 3, 3): ``T x_h = (s (x - mean), 1)`` for centroids mean (..., 2) and
    scales s (...)."""
    T = np.zeros(s.shape + (3, 3))
    T[..., 0, 0] = T[..., 1, 1] = s
    T[..., :2, 2] = -s[..., None] * mean
    T[..., 2, 2] = 1.0
    return T


def hartley_normalisation(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Similarity T (B, 3, 3) moving the weighted centroid of x (B, N, 2) to 0 and its RMS
    distance to sqrt(2); returns (T, normalised x (B, N, 2) with missing points set to 0)."""
    w = np.asarray(w, dtype=np.float64)
    xs = np.where(w[..., None] > 0, x, 0.0)
    tot = np.maximum(w.sum(-1), 1e-300)
    mean = (w[..., None] * xs).sum(-2) / tot[..., None]
    d2 = (w * ((xs - mean[..., None, :]) ** 2).sum(-1)).sum(-1) / tot
    s = np.sqrt(2.0) / np.sqrt(np.maximum(d2, 1e-300))
    T = hartley_matrix(mean, s)
    xn = np.where(w[..., None] > 0, (xs - mean[..., None, :]) * s[..., None, None], 0.0)
    return T, xn


def _smallest_eigvec(A: np.ndarray, w: np.ndarray, method: str = "inverse") -> np.ndarray:
    """Unit vector minimising ||diag(w) A v|| for A (B, N, 9): smallest eigenvector of the
    normal matrix, by batched inverse iteration (``"inverse"``) or ``np.linalg.eigh``."""
    Aw = A * w[..., None]
    M = np.matmul(np.swapaxes(Aw, -1, -2), A)
    if method == "eigh":
        return np.linalg.eigh(M)[1][..., 0]
    return smallest_eigvec_psd(M)


def _enforce_rank2(F: np.ndarray) -> np.ndarray:
    U, s, Vt = np.linalg.svd(F)
    s[..., 2] = 0.0
    return (U * s[..., None, :]) @ Vt


def fundamental_8point(x1: np.ndarray, x2: np.ndarray,
                       weights: np.ndarray | None = None, *, rank2: bool = True,
                       eig_method: str = "inverse") -> np.ndarray:
    """Normalised (Hartley) 8-point fundamental matrices, batched.

    x1, x2 (B, N, 2) px; weights (B, N) >= 0 (0 or NaN point = ignored; default 1). Returns F
    (B, 3, 3) with ``||F||_F = 1`` and ``x2h^T F x1h ~ 0``, of rank 2 when `rank2` (SVD; skip
    it when E is projected onto the essential manifold next anyway). Needs >= 8 points with
    non-zero weight per pair (fewer give an arbitrary member of the null space). eig_method:
    "inverse" (batched inverse iteration, default) or "eigh" (LAPACK per pair, reference).
    """
    x1 = np.asarray(x1, dtype=np.float64)
    x2 = np.asarray(x2, dtype=np.float64)
    m = _valid_mask(x1, x2, None)
    w = m.astype(np.float64) if weights is None else np.where(m, np.asarray(weights, float), 0.0)
    w = np.nan_to_num(w)
    T1, a = hartley_normalisation(x1, w)
    T2, b = hartley_normalisation(x2, w)
    A = np.stack([b[..., 0] * a[..., 0], b[..., 0] * a[..., 1], b[..., 0],
                  b[..., 1] * a[..., 0], b[..., 1] * a[..., 1], b[..., 1],
                  a[..., 0], a[..., 1], np.ones_like(a[..., 0])], axis=-1)
    Fn = _smallest_eigvec(A, w, eig_method).reshape(-1, 3, 3)
    if rank2:
        Fn = _enforce_rank2(Fn)
    F = np.swapaxes(T2, -1, -2) @ Fn @ T1
    return F / np.linalg.norm(F, axis=(-2, -1), keepdims=True)


def epipolar_terms(F: np.ndarray, x1: np.ndarray, x2: np.ndarray):
    """(F x1h) rows 0..2, (F^T x2h) rows 0..1 and x2h^T F x1h, each (B, N), for F (B, 3, 3)
    and x1, x2 (B, N, 2) px, by plain
    broadcasting (much faster than einsum for 3x3 times many points)."""
    u1, v1, u2, v2 = x1[..., 0], x1[..., 1], x2[..., 0], x2[..., 1]
    f = F[..., None, :, :]
    a0 = f[..., 0, 0] * u1 + f[..., 0, 1] * v1 + f[..., 0, 2]
    a1 = f[..., 1, 0] * u1 + f[..., 1, 1] * v1 + f[..., 1, 2]
    a2 = f[..., 2, 0] * u1 + f[..., 2, 1] * v1 + f[..., 2, 2]
    b0 = f[..., 0, 0] * u2 + f[..., 1, 0] * v2 + f[..., 2, 0]
    b1 = f[..., 0, 1] * u2 + f[..., 1, 1] * v2 + f[..., 2, 1]
    num = u2 * a0 + v2 * a1 + a2
    return a0, a1, a2, b0, b1, num


def sampson_residual(F: np.ndarray, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """Signed Sampson residual (B, N) px: ``x2h^T F x1h / sqrt((F x1h)_1^2 + (F x1h)_2^2 +
    (F^T x2h)_1^2 + (F^T x2h)_2^2)``. Its absolute value is the Sampson distance."""
    a0, a1, _, b0, b1, num = epipolar_terms(F, x1, x2)
    den = a0 * a0 + a1 * a1 + b0 * b0 + b1 * b1
    return num / np.sqrt(np.maximum(den, 1e-300))


def sampson_distance(F: np.ndarray, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """Sampson distance (B, N) px (first-order geometric error of a correspondence)."""
    return np.abs(sampson_residual(F, x1, x2))


def fundamental_ransac(x1: np.ndarray, x2: np.ndarray, valid: np.ndarray | None = None, *,
                       threshold_px: float = 1.0, iters: int = 100,
                       seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """RANSAC (MSAC scoring) over 8-point minimal samples, batched over B pairs.

    Each iteration draws 8 distinct valid points per pair, solves all B samples at once and
    scores every point by its Sampson distance (px); the best model's inliers
    (distance < threshold_px) are re-fitted with the 8-point algorithm. Returns (F (B, 3, 3),
    inliers (B, N) bool). The loop runs over iterations, never over pairs.
    """
    rng = np.random.default_rng(seed)
    x1 = np.asarray(x1, dtype=np.float64)
    x2 = np.asarray(x2, dtype=np.float64)
    m = _valid_mask(x1, x2, valid)
    B, N = m.shape
    x1f, x2f = np.where(m[..., None], x1, 0.0), np.where(m[..., None], x2, 0.0)
    k = min(8, N)
    best_cost = np.full(B, np.inf)
    best_in = m.copy()
    thr2 = threshold_px**2
    rows = np.arange(B)[:, None]
    for _ in range(iters):
        keys = np.where(m, rng.random((B, N)), 2.0)
        idx = np.argpartition(keys, k - 1, axis=1)[:, :k]
        F = fundamental_8point(x1f[rows, idx], x2f[rows, idx], m[rows, idx].astype(float))
        d2 = sampson_residual(F, x1f, x2f) ** 2
        cost = np.where(m, np.minimum(d2, thr2), 0.0).sum(-1)
        better = cost < best_cost
        best_cost = np.where(better, cost, best_cost)
        best_in = np.where(better[:, None], m & (d2 < thr2), best_in)
    F = fundamental_8point(x1f, x2f, best_in.astype(float))
    return F, best_in


def fundamental_from_pose(R: np.ndarray, t: np.ndarray, K1: np.ndarray,
                          K2: np.ndarray) -> np.ndarray:
    """``F = K2^-T [t]_x R K1^-1`` for the relative pose ``X_2 = R X_1 + t``."""
    E = skew(t) @ R
    return np.swapaxes(np.linalg.inv(K2), -1, -2) @ E @ np.linalg.inv(K1)


def essential_decomposition(E: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Essential projection and rotation pair of rank-2 matrices E (B, 3, 3) (any scale), in
    closed form: the one decomposition of E, shared by `relative_pose` and
    `fast_two_view.fast_relative_pose` (no 3x3 SVD: ~4x faster than ``np.linalg.svd``).

    Returns (E_hat (B, 3, 3) with singular values (1, 1, 0) and the singular vectors of E,
    R (B, 2, 3, 3) the two proper rotations with ``E_hat = +-[t]_x R``, t (B, 3) unit left null
    vector of E). The four relative-pose hypotheses are (R_0, +-t), (R_1, +-t)
    (`pose_hypotheses`). E is first scaled to unit Frobenius norm; with sigma_1, sigma_2 its
    non-zero singular values, ``p = sigma_1 sigma_2 = sqrt((tr(S)^2 - tr(S^2)) / 2)`` and
    ``s = sigma_1 + sigma_2 = sqrt(tr(S) + 2 p)`` (``S = E^T E``), and
    ``E_hat = ((s^2 - p) E - E S) / (s p)`` maps each singular value to 1. Horn (1990): for
    ``E_hat = [t]_x R``, ``R = cof(E_hat) - [t]_x E_hat``; the other sign of E_hat gives
    ``cof(E_hat) + [t]_x E_hat`` (the twisted pair). A (near) rank-1 E has no essential
    projection: its outputs are not finite (the fast path flags them ``non_finite``;
    `relative_pose` gives such pairs a finite stand-in that fails its checks).
    """
    E = E / np.linalg.norm(E, axis=(-2, -1), keepdims=True)
    S = np.swapaxes(E, -1, -2) @ E
    trS = np.trace(S, axis1=-2, axis2=-1)
    trS2 = (S * S).sum((-2, -1))
    p = np.sqrt(np.maximum(0.5 * (trS * trS - trS2), 1e-300))
    s = np.sqrt(trS + 2.0 * p)
    Eh = (((s * s - p)[:, None, None] * E) - E @ S) / (s * p)[:, None, None]
    t = null_vector_rank2(np.swapaxes(Eh, -1, -2))  # left null vector
    t = t / np.sqrt(np.maximum((t * t).sum(-1), 1e-300))[:, None]
    cof = cofactor3(Eh)
    tE = np.swapaxes(np.cross(t[:, None, :], np.swapaxes(Eh, -1, -2)), -1, -2)  # [t]_x E_hat
    return Eh, np.stack([cof - tE, cof + tE], axis=1), t


def pose_hypotheses(R: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The four (R, t) hypotheses of an essential matrix from `essential_decomposition`'s
    R (B, 2, 3, 3) and t (B, 3): R (B, 4, 3, 3), t (B, 4, 3) ordered (R_0, t), (R_0, -t),
    (R_1, t), (R_1, -t)."""
    return (np.stack([R[:, 0], R[:, 0], R[:, 1], R[:, 1]], axis=1),
            np.stack([t, -t, t, -t], axis=1))


def two_ray_depths(x1n: np.ndarray, x2n: np.ndarray, R: np.ndarray,
                   t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares depths (lambda1, lambda2) (..., N) of the rays through normalised points
    x1n, x2n (..., N, 2) for the pose ``X_2 = R X_1 + t``: minimises
    ``||lambda2 x2h - lambda1 R x1h - t||``. Depth z in camera 1 is lambda1 (x1h has z = 1)."""
    R = np.asarray(R)[..., None, :, :]
    u, v = x1n[..., 0], x1n[..., 1]
    a = [R[..., i, 0] * u + R[..., i, 1] * v + R[..., i, 2] for i in range(3)]
    b = [x2n[..., 0], x2n[..., 1], np.ones_like(x2n[..., 0])]
    tt = np.asarray(t)[..., None, :]
    tv = [tt[..., i] for i in range(3)]
    aa = a[0] * a[0] + a[1] * a[1] + a[2] * a[2]
    bb = b[0] * b[0] + b[1] * b[1] + 1.0
    ab = a[0] * b[0] + a[1] * b[1] + a[2]
    at = a[0] * tv[0] + a[1] * tv[1] + a[2] * tv[2]
    bt = b[0] * tv[0] + b[1] * tv[1] + tv[2]
    det = aa * bb - ab * ab
    det = np.where(np.abs(det) < 1e-300, 1e-300, det)
    lam1 = (-at * bb + ab * bt) / det
    lam2 = (aa * bt - ab * at) / det
    return lam1, lam2


def select_pose_by_cheirality(E: np.ndarray, x1n: np.ndarray, x2n: np.ndarray,
                              valid: np.ndarray, hypotheses=None):
    """Pick, among E's four (R, t), the one putting most valid points in front of both cameras.

    Returns R (B, 3, 3), t (B, 3), front_fraction (B,) of valid points with positive depth in
    both cameras for the chosen hypothesis. Depths are linear in t, so only (R1, t) and (R2, t)
    are triangulated: (R, -t) puts in front exactly the points that (R, t) puts behind both.
    hypotheses: optional precomputed ``pose_hypotheses(*essential_decomposition(E)[1:])``.
    """
    Rs, ts = pose_hypotheses(*essential_decomposition(E)[1:]) if hypotheses is None \
        else hypotheses
    x1z, x2z = np.where(valid[..., None], x1n, 0.0), np.where(valid[..., None], x2n, 0.0)
    l1, l2 = two_ray_depths(x1z[:, None], x2z[:, None], Rs[:, ::2], ts[:, ::2])  # (B, 2, N)
    pos = ((l1 > 0) & (l2 > 0) & valid[:, None]).sum(-1)
    neg = ((l1 < 0) & (l2 < 0) & valid[:, None]).sum(-1)
    front = np.stack([pos[:, 0], neg[:, 0], pos[:, 1], neg[:, 1]], axis=-1)  # (B, 4)
    best = np.argmax(front, axis=1)
    rows = np.arange(len(best))
    frac = front[rows, best] / np.maximum(valid.sum(-1), 1)
    return Rs[rows, best], ts[rows, best], frac


def _tangent_basis(t: np.ndarray) -> np.ndarray:
    """(B, 2, 3) orthonormal basis of the plane orthogonal to unit vectors t (B, 3)."""
    axis = np.eye(3)[np.argmin(np.abs(t), axis=-1)]
    b1 = np.cross(t, axis)
    b1 /= np.linalg.norm(b1, axis=-1, keepdims=True)
    b2 = np.cross(t, b1)
    return np.stack([b1, b2], axis=-2)


#: (3, 3, 3) generators [e_k]_x of rotation increments
_GENERATORS = skew(np.eye(3))


def _sampson_terms(F: np.ndarray, x1: np.ndarray, x2: np.ndarray, w: np.ndarray):
    """Epipolar terms (a0, a1, b0, b1, num, D) (each (B, N)) of F (B, 3, 3) at x1, x2 and the
    weighted Sampson residual ``r = w num / sqrt(D)`` (B, N) px."""
    a0, a1, _, b0, b1, num = epipolar_terms(F, x1, x2)
    D = np.maximum(a0 * a0 + a1 * a1 + b0 * b0 + b1 * b1, 1e-300)
    return (a0, a1, b0, b1, num, D), w * num / np.sqrt(D)


def _pose_generators(R: np.ndarray, t: np.ndarray, Ki1: np.ndarray, Ki2T: np.ndarray):
    """(B, 5, 9): dF/d(rotation increment, tangent step of t) at (R, t), row-major F; and the
    tangent basis (B, 2, 3) of t."""
    basis = _tangent_basis(t)
    S = np.concatenate([skew(t)[:, None] @ _GENERATORS, skew(basis)], axis=1)  # (B, 5, 3, 3)
    G = Ki2T[:, None] @ S @ (R @ Ki1)[:, None]
    return G.reshape(len(R), 5, 9), basis


def _sampson_normal_equations(terms, r, G, w, phi, x1, x2):
    """Gauss-Newton normal equations J^T J (B, 5, 5) and J^T r (B, 5) of the Sampson residual
    from 9x9 moments (see `refine_relative_pose`); phi: the 8 non-constant entries of
    ``x2h x1h^T`` (each (B, N))."""
    a0, a1, b0, b1, num, D = terms
    u1, v1, u2, v2 = x1[..., 0], x1[..., 1], x2[..., 0], x2[..., 1]
    s = w / np.sqrt(D)
    sk = s * num / D
    C = (a0 * u1 + u2 * b0, a0 * v1 + u2 * b1, a0, a1 * u1 + v2 * b0, a1 * v1 + v2 * b1,
         a1, b0, b1)
    Qt = np.stack([s * p - sk * c for p, c in zip(phi, C)] + [s], axis=1)  # (B, 9, N)
    QtQ = Qt @ np.swapaxes(Qt, -1, -2)  # (B, 9, 9)
    Qtr = Qt @ r[..., None]  # (B, 9, 1)
    JtJ = G @ QtQ @ np.swapaxes(G, -1, -2)  # (B, 5, 5)
    return JtJ, (G @ Qtr)[..., 0]


def refine_relative_pose(R: np.ndarray, t: np.ndarray, x1: np.ndarray, x2: np.ndarray,
                         K1: np.ndarray, K2: np.ndarray, valid: np.ndarray, *, iters: int = 6,
                         weights: np.ndarray | None = None, step_tol: float = 1e-12
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Levenberg-Marquardt on the Sampson distance in pixels over (R, t), ``||t|| = 1``.

    R (B, 3, 3), t (B, 3) initial pose; x1, x2 (B, N, 2) undistorted px; valid (B, N); optional
    per-point weights (B, N) (e.g. 0 for outliers). 5 parameters per pair (rotation increment
    and a tangent step of t); per-pair damping; a step is kept only where it lowers that pair's
    cost; stops early once every pair's step is below `step_tol`. Returns refined (R, t).

    The analytic Jacobian is formed without per-point 9x5 products: with the Sampson residual
    ``r = w num / sqrt(D)`` (``num = x2h^T F x1h``), ``dr/dp_k = <Q, G_k>`` where ``G_k = dF/dp_k``
    (3x3) and Q (B, N, 9) = ``w / sqrt(D) (x2h x1h^T - num / D C)`` with
    ``C = [a_0, a_1, 0] x1h^T + x2h [b_0, b_1, 0]`` (``a = F x1h``, ``b = F^T x2h``); so the
    normal equations are ``J^T J = G (Q^T Q) G^T`` and ``J^T r = G (Q^T r)`` from 9x9 moments
    (Q built column by column from (B, N) arrays: no per-point outer products).
    """
    m = valid if weights is None else valid & (np.asarray(weights) > 0)
    w = np.sqrt(np.where(m, 1.0 if weights is None else np.asarray(weights, float), 0.0))
    x1 = np.where(valid[..., None], x1, 0.0)
    x2 = np.where(valid[..., None], x2, 0.0)
    u1, v1, u2, v2 = x1[..., 0], x1[..., 1], x2[..., 0], x2[..., 1]
    phi = (u2 * u1, u2 * v1, u2, v2 * u1, v2 * v1, v2, u1, v1)  # x2h x1h^T, row-major
    Ki1, Ki2T = np.linalg.inv(K1), np.swapaxes(np.linalg.inv(K2), -1, -2)
    lam = np.full(len(m), 1e-3)
    terms, r = _sampson_terms(Ki2T @ skew(t) @ R @ Ki1, x1, x2, w)
    cost = (r * r).sum(-1)
    for _ in range(iters):
        G, basis = _pose_generators(R, t, Ki1, Ki2T)
        JtJ, Jtr = _sampson_normal_equations(terms, r, G, w, phi, x1, x2)
        diag = np.einsum("bkk->bk", JtJ)
        A = JtJ + (lam[:, None] * np.maximum(diag, 1e-12))[..., None] * np.eye(5)
        try:
            d = -np.linalg.solve(A, Jtr[..., None])[..., 0]
        except np.linalg.LinAlgError:
            break
        d = np.nan_to_num(d)
        Rn = rodrigues(d[..., :3]) @ R
        tn = t + np.einsum("bk,bki->bi", d[..., 3:], basis)
        tn = tn / np.linalg.norm(tn, axis=-1, keepdims=True)
        terms_n, rn = _sampson_terms(Ki2T @ skew(tn) @ Rn @ Ki1, x1, x2, w)
        cn = (rn * rn).sum(-1)
        better = np.isfinite(cn) & (cn < cost)  # keep a step only where it lowers the cost
        keep = better[:, None]
        R = np.where(better[:, None, None], Rn, R)
        t = np.where(keep, tn, t)
        terms = tuple(np.where(keep, new, old) for new, old in zip(terms_n, terms))
        r = np.where(keep, rn, r)
        cost = np.where(better, cn, cost)
        lam = np.where(better, lam * 0.3, lam * 10.0)
        if not np.abs(d).max(initial=0.0) > step_tol:
            break
    return R, t


def homography_rms(x1: np.ndarray, x2: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """RMS transfer error (B,) px of the best (DLT, Hartley-normalised) homography x1 -> x2
    over valid points: small when the joints are coplanar or the views differ by a rotation."""
    w = valid.astype(np.float64)
    T1, a = hartley_normalisation(x1, w)
    T2, b = hartley_normalisation(x2, w)
    z, o = np.zeros_like(a[..., 0]), np.ones_like(a[..., 0])
    r1 = np.stack([z, z, z, -a[..., 0], -a[..., 1], -o,
                   b[..., 1] * a[..., 0], b[..., 1] * a[..., 1], b[..., 1]], -1)
    r2 = np.stack([a[..., 0], a[..., 1], o, z, z, z,
                   -b[..., 0] * a[..., 0], -b[..., 0] * a[..., 1], -b[..., 0]], -1)
    A = np.concatenate([r1, r2], axis=-2)
    Hn = _smallest_eigvec(A, np.concatenate([w, w], -1)).reshape(-1, 3, 3)
    H = np.linalg.solve(T2, Hn @ T1)
    h1 = np.concatenate([np.where(valid[..., None], x1, 0.0), np.ones(x1.shape[:-1] + (1,))], -1)
    p = np.einsum("bij,bnj->bni", H, h1)
    with np.errstate(divide="ignore", invalid="ignore"):
        e2 = ((p[..., :2] / p[..., 2:3] - np.where(valid[..., None], x2, 0.0)) ** 2).sum(-1)
    e2 = np.where(valid, np.nan_to_num(e2, nan=1e12, posinf=1e12), 0.0)
    return np.sqrt(e2.sum(-1) / np.maximum(w.sum(-1), 1))


def line_spread_px(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """RMS distance (B,) px of valid points x (B, N, 2) from their best-fitting line."""
    w = valid.astype(np.float64)
    n = np.maximum(w.sum(-1), 1)
    xs = np.where(valid[..., None], x, 0.0)
    mean = xs.sum(-2) / n[..., None]
    d = np.where(valid[..., None], xs - mean[..., None, :], 0.0)
    cxx, cxy, cyy = ((d[..., i] * d[..., j]).sum(-1) / n for i, j in ((0, 0), (0, 1), (1, 1)))
    return np.sqrt(np.maximum(smallest_eigval_sym2(cxx, cxy, cyy), 0.0))


@dataclass
class RelativePose:
    """Result of `relative_pose` for B view pairs.

    R (B, 3, 3), t (B, 3) unit: ``X_2 = R X_1 + t``; F (B, 3, 3) px; E (B, 3, 3);
    inliers (B, N) bool; ok (B,) bool; reason (B,) int code into `REASONS`;
    front_fraction (B,); sampson_rms_px (B,); homography_rms_px (B,).
    """

    R: np.ndarray
    t: np.ndarray
    F: np.ndarray
    E: np.ndarray
    inliers: np.ndarray
    ok: np.ndarray
    reason: np.ndarray
    front_fraction: np.ndarray
    sampson_rms_px: np.ndarray
    homography_rms_px: np.ndarray

    @property
    def reason_names(self) -> np.ndarray:
        return np.asarray(REASONS)[self.reason]

    @classmethod
    def concatenate(cls, parts: list[RelativePose]) -> RelativePose:
        """The results of consecutive parts of a batch as one result."""
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))


def failure_reason(R: np.ndarray, t: np.ndarray, n_valid: np.ndarray, same: np.ndarray,
                   spread_px: np.ndarray, h_rms: np.ndarray, s_rms: np.ndarray,
                   front: np.ndarray, *, min_points: int, min_front_fraction: float,
                   collinear_tol_px: float, planar_tol_px: float, planar_ratio: float
                   ) -> np.ndarray:
    """Reason code (B,) into `REASONS` of each pair (0 = ok): the first of too few points,
    identical views (`same` (B,) bool), collinear joints (line spread px (B,) below
    `collinear_tol_px`), no parallax (homography RMS px below max(planar_tol_px, ratio *
    Sampson RMS px)), a non-finite pose (R (B, 3, 3), t (B, 3)), cheirality (front fraction
    (B,) below `min_front_fraction`). Shared by `relative_pose` and the fast per-frame path."""
    # noise alone gives h_rms / s_rms ~ 1.4 for many points, more (and more variable) for few
    ratio = planar_ratio + 6.0 / np.sqrt(np.maximum(n_valid, 1))
    finite = np.isfinite(R).all((-2, -1)) & np.isfinite(t).all(-1)
    # later checks apply only where no earlier (more basic) reason applies
    checks = [
        (n_valid < min_points, TOO_FEW),
        (same, IDENTICAL),
        (spread_px < collinear_tol_px, COLLINEAR),
        (h_rms < np.maximum(planar_tol_px, ratio * s_rms), NO_PARALLAX),
        (~finite, NON_FINITE),
        (front < min_front_fraction, CHEIRALITY),
    ]
    reason = np.zeros(len(n_valid), dtype=np.int64)
    for cond, code in checks:
        reason = np.where((reason == OK) & cond, code, reason)
    return reason


def relative_pose(x1: np.ndarray, x2: np.ndarray, K1: np.ndarray, K2: np.ndarray,
                  valid: np.ndarray | None = None, *, estimator: str = "8point",
                  refine: bool = True, refine_iters: int = 6, threshold_px: float = 1.0,
                  ransac_iters: int = 100, seed: int = 0, min_points: int = 8,
                  min_front_fraction: float = 0.9, identical_tol_px: float = 1e-3,
                  collinear_tol_px: float = 0.5, planar_tol_px: float = 1.5,
                  planar_ratio: float = 1.5, n_threads: int | None = None) -> RelativePose:
    """Relative pose of view 2 w.r.t. view 1 from point correspondences, batched over B pairs.

    x1, x2 (B, N, 2) undistorted px (NaN = missing); K1, K2 (B, 3, 3) (or (3, 3), broadcast);
    valid (B, N) optional extra mask. ``estimator``: ``"8point"`` (normalised 8-point on all
    valid points: best for few, clean points such as 17 joints), ``"trimmed"`` (8-point, then
    twice re-fitted on points with Sampson distance below max(threshold_px, 3 robust sigmas):
    for pooled correspondences of many frames) or ``"ransac"`` (see `fundamental_ransac`).
    ``refine``: Levenberg-Marquardt on the Sampson distance over the inliers.

    A pair fails (``ok=False``, reason code) when: fewer than `min_points` valid points;
    identical views (all points within identical_tol_px); the joints are collinear in a view
    (line spread < collinear_tol_px); a homography explains the data (RMS transfer error
    < max(planar_tol_px, (planar_ratio + 6 / sqrt(n_valid)) * Sampson RMS of F): coplanar
    joints or no baseline; noise alone makes the ratio ~1.4 for many points);
    fewer than `min_front_fraction` of the points lie in front of both cameras; NaN/inf.
    Failed pairs still carry finite (meaningless) R, t: never use them without `ok`.
    Batches of >= `PARALLEL_MIN_PAIRS` pairs are split over `n_threads` threads (default
    `posebench.parallel.num_threads()`); results do not depend on the split except for RANSAC,
    whose samples are drawn per part k from ``np.random.default_rng([seed, k])``.
    """
    x1 = np.asarray(x1, dtype=np.float64)
    x2 = np.asarray(x2, dtype=np.float64)
    B = x1.shape[0]
    K1 = np.broadcast_to(np.asarray(K1, dtype=np.float64), (B, 3, 3))
    K2 = np.broadcast_to(np.asarray(K2, dtype=np.float64), (B, 3, 3))
    args = (estimator, refine, refine_iters, threshold_px, ransac_iters, seed, min_points,
            min_front_fraction, identical_tol_px, collinear_tol_px, planar_tol_px, planar_ratio)
    n_threads = n_threads or num_threads()
    if n_threads <= 1 or B < PARALLEL_MIN_PAIRS:
        with np.errstate(all="ignore"):
            return _relative_pose(x1, x2, K1, K2, valid, *args)
    parts = split_batch(B, n_threads)

    def run(k):
        ch = parts[k]
        v = None if valid is None else np.asarray(valid)[ch]
        a = list(args)
        a[5] = np.random.default_rng([seed, k]) if estimator == "ransac" else seed
        with np.errstate(all="ignore"):
            return _relative_pose(x1[ch], x2[ch], K1[ch], K2[ch], v, *a)

    return RelativePose.concatenate(parallel_map(run, range(len(parts)), threads=n_threads))


def _fundamental(x1z, x2z, m, estimator, threshold_px, ransac_iters, seed, min_points):
    """F (B, 3, 3) and inliers (B, N) by `relative_pose`'s `estimator` from x1z, x2z (B, N, 2)
    px (0 where invalid) and the valid mask m (B, N)."""
    if estimator == "ransac":
        return fundamental_ransac(x1z, x2z, m, threshold_px=threshold_px, iters=ransac_iters,
                                  seed=seed)
    if estimator not in ("8point", "trimmed"):
        raise ValueError(f"estimator must be '8point', 'trimmed' or 'ransac', got {estimator!r}")
    inl = m.copy()
    # rank 2 matters even before the essential projection (median initial rotation
    # error 13.5 vs 23.6 deg at 2 px on the H36M rig)
    F = fundamental_8point(x1z, x2z, inl.astype(float))
    if estimator == "trimmed":
        B, N = m.shape
        for _ in range(2):
            d = np.where(m, sampson_distance(F, x1z, x2z), np.nan)
            sigma = 1.4826 * np.nanmedian(d, axis=-1) if N else np.zeros(B)
            thr = np.maximum(threshold_px, 3.0 * np.nan_to_num(sigma))
            inl = m & (np.nan_to_num(d, nan=np.inf) < thr[:, None])
            inl = np.where((inl.sum(-1) >= min_points)[:, None], inl, m)
            F = fundamental_8point(x1z, x2z, inl.astype(float))
    return F, inl


def _pose_from_fundamental(F, K1, K2, x1z, x2z, x1n, x2n, inl, refine, refine_iters):
    """(R, t, E, F) from F (B, 3, 3): essential decomposition, cheirality, and (`refine`) the
    Sampson Levenberg-Marquardt, after which E and F are those of the refined pose."""
    E, Rs, t = essential_decomposition(np.swapaxes(K2, -1, -2) @ F @ K1)
    # a (near) rank-1 E has no decomposition: a finite stand-in keeps the refinement running
    # (such a pair fails a check; failed pairs carry finite, meaningless poses)
    good = np.isfinite(Rs).all((-3, -2, -1)) & np.isfinite(t).all(-1) & np.isfinite(E).all(
        (-2, -1))
    Rs = np.where(good[:, None, None, None], Rs, np.eye(3))
    t = np.where(good[:, None], t, np.array([0.0, 0.0, 1.0]))
    E = np.where(good[:, None, None], E, skew(t) @ Rs[:, 0])
    R, t, _ = select_pose_by_cheirality(E, x1n, x2n, inl, pose_hypotheses(Rs, t))
    if refine:
        R, t = refine_relative_pose(R, t, x1z, x2z, K1, K2, inl, iters=refine_iters)
        E = skew(t) @ R
        F = fundamental_from_pose(R, t, K1, K2)
        F /= np.linalg.norm(F, axis=(-2, -1), keepdims=True)
    return R, t, E, F


def _relative_pose(x1, x2, K1, K2, valid, estimator, refine, refine_iters, threshold_px,
                   ransac_iters, seed, min_points, min_front_fraction, identical_tol_px,
                   collinear_tol_px, planar_tol_px, planar_ratio) -> RelativePose:
    """`relative_pose` on one part of the batch (the same arguments, positional)."""
    x1 = np.asarray(x1, dtype=np.float64)
    x2 = np.asarray(x2, dtype=np.float64)
    B = x1.shape[0]
    K1 = np.broadcast_to(np.asarray(K1, dtype=np.float64), (B, 3, 3))
    K2 = np.broadcast_to(np.asarray(K2, dtype=np.float64), (B, 3, 3))
    m = _valid_mask(x1, x2, valid)
    x1z, x2z = np.where(m[..., None], x1, 0.0), np.where(m[..., None], x2, 0.0)
    n_valid = m.sum(-1)
    F, inl = _fundamental(x1z, x2z, m, estimator, threshold_px, ransac_iters, seed, min_points)

    Kinv1, Kinv2 = np.linalg.inv(K1), np.linalg.inv(K2)
    x1n = np.einsum("bij,bnj->bni", Kinv1[..., :2, :2], x1z) + Kinv1[:, None, :2, 2]
    x2n = np.einsum("bij,bnj->bni", Kinv2[..., :2, :2], x2z) + Kinv2[:, None, :2, 2]
    R, t, E, F = _pose_from_fundamental(np.nan_to_num(F), K1, K2, x1z, x2z, x1n, x2n, inl,
                                        refine, refine_iters)
    # share of valid points in front of both cameras for the final (R, t)
    l1, l2 = two_ray_depths(x1n, x2n, R, t)
    front = ((l1 > 0) & (l2 > 0) & m).sum(-1) / np.maximum(n_valid, 1)

    d = np.where(inl, sampson_distance(F, x1z, x2z), 0.0)
    s_rms = np.sqrt((d * d).sum(-1) / np.maximum(inl.sum(-1), 1))
    h_rms = homography_rms(x1z, x2z, m)
    spread = np.minimum(line_spread_px(x1z, m), line_spread_px(x2z, m))
    same = np.where(m, np.abs(x1z - x2z).max(-1), 0.0).max(-1) < identical_tol_px
    reason = failure_reason(R, t, n_valid, same, spread, h_rms, s_rms, front,
                            min_points=min_points, min_front_fraction=min_front_fraction,
                            collinear_tol_px=collinear_tol_px, planar_tol_px=planar_tol_px,
                            planar_ratio=planar_ratio)
    return RelativePose(R, t, F, E, inl, reason == OK, reason, front, s_rms, h_rms)

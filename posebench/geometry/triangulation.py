"""Triangulation, batched: weighted DLT over N views, the optimal two-view method of Hartley and
Sturm (exact degree-6 polynomial), and the vector (geometric) median of several estimates.

Conventions: projection matrices ``P (..., V, 3, 4)`` map homogeneous points of the output
frame to homogeneous image points of the same units as ``x`` (pixels with ``P = K [R | t]``,
normalised coordinates with ``P = [R | t]``); NaN in x or weight 0 marks a missing view.

Numerics: Hartley-Sturm roots come from `np.linalg.eigvals` of (M, 6, 6) companion matrices
(LAPACK, ~4 us per point). It is exact, and the dominant cost of two-view triangulation: the
batch is split over `n_threads` threads (numpy releases the GIL inside LAPACK). The global
minimum is searched over the real parts of all six roots plus t = infinity: the cost is
evaluated at real t only, so complex roots cannot produce a wrong minimum, only extra
candidates.
"""

from __future__ import annotations

import numpy as np

from posebench.geometry.small_linalg import null_vector_rank2
from posebench.geometry.two_view import PARALLEL_MIN_PAIRS, fundamental_from_pose, two_ray_depths
from posebench.parallel import num_threads, parallel_map, split_batch

#: Polynomials per batch from which the companion eigenvalues are split over threads.
PARALLEL_MIN_POLYNOMIALS = 20000


def _safe_solve3(A: np.ndarray, b: np.ndarray, usable: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Solve 3x3 systems A (..., 3, 3) x = b (..., 3) where `usable` (...,) and the system is
    finite and well conditioned (reciprocal condition estimate > 1e-13); returns
    (x (..., 3) NaN elsewhere, solved (...,) bool). Never raises: singular, overflowing or NaN
    systems are replaced by the identity before LAPACK sees them."""
    scale = np.abs(A).max((-2, -1))
    with np.errstate(all="ignore"):
        An = A / np.where(scale > 0, scale, 1.0)[..., None, None]
        bn = b / np.where(scale > 0, scale, 1.0)[..., None]
        good = usable & np.isfinite(An).all((-2, -1)) & np.isfinite(bn).all(-1) & (scale > 0)
        An = np.where(good[..., None, None], An, np.eye(3))
        bn = np.where(good[..., None], bn, 0.0)
        # |det| against the product of row norms: 0 for singular, 1 for orthogonal rows
        det = np.abs(np.linalg.det(An))
        rn = np.prod(np.linalg.norm(An, axis=-1), axis=-1)
        good &= det > 1e-13 * np.maximum(rn, 1e-300)
        An = np.where(good[..., None, None], An, np.eye(3))
        try:
            x = np.linalg.solve(An, bn[..., None])[..., 0]
        except np.linalg.LinAlgError:  # cannot happen after the guards; fail closed anyway
            x = np.full(bn.shape, np.nan)
            good = np.zeros_like(good)
    good &= np.isfinite(x).all(-1)
    return np.where(good[..., None], x, np.nan), good


#: Reasons of `triangulate_dlt_checked` (index = code).
DLT_REASONS = ("ok", "not_enough_views", "parallel_rays", "behind_camera")


def triangulate_dlt(P: np.ndarray, x: np.ndarray, weights: np.ndarray | None = None
                    ) -> np.ndarray:
    """Weighted linear (DLT) triangulation over V views.

    P (..., V, 3, 4); x (..., V, J, 2); weights (..., V, J) or (..., V) >= 0 (default 1; NaN
    points are ignored). Returns X (..., J, 3) in P's source frame; NaN where fewer than two
    views have a point, where the rays are (near) parallel or the system is not finite. Each
    view contributes the rows ``w (x p3 - p1)``, ``w (y p3 - p2)``; the solution is the linear
    least-squares point with the homogeneous coordinate fixed to 1 (HZ's inhomogeneous DLT,
    3x3 normal equations), computed twice: rows scaled by the norm of their 3D part, then by
    1 / the projective depth of the first solution, so that residuals are image distances
    (unweighted algebraic rows measured ~2x the error at 2 px on the H36M rig). Exact data
    gives the exact point. Never raises on data: see `triangulate_dlt_checked` for the reasons.
    """
    return triangulate_dlt_checked(P, x, weights, cheirality=False)[0]


def triangulate_dlt_checked(P: np.ndarray, x: np.ndarray, weights: np.ndarray | None = None,
                            *, cheirality: bool = True, min_depth: float = 0.0
                            ) -> tuple[np.ndarray, np.ndarray]:
    """`triangulate_dlt` with a reason per point, and (``cheirality``) views that see the
    solution at depth <= `min_depth` (behind or on the camera plane: such a 2D label cannot be
    an image of the point) dropped and the point solved again from the remaining views.

    Same arguments; returns (X (..., J, 3), reason (..., J) int code into `DLT_REASONS`: 0 ok,
    1 fewer than two views, 2 rays (near) parallel / singular or non-finite system, 3 fewer
    than two views see the point in front of them). Depth is the third row of P applied to X
    (for ``P = K [R | t]`` with K's last row (0, 0, 1): the camera-frame z, P's units).
    """
    P = np.asarray(P, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    V = x.shape[-3]
    if weights is None:
        w = np.ones(x.shape[:-1])
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape == x.shape[:-2]:
            w = np.broadcast_to(w[..., None], x.shape[:-1])
    with np.errstate(all="ignore"):
        ok = np.isfinite(x).all(-1) & (np.nan_to_num(w) > 0)
        ok &= np.isfinite(P).all((-2, -1))[..., None] if P.ndim == x.ndim + 1 else True
    w = np.where(ok, w, 0.0)
    P = np.nan_to_num(np.broadcast_to(P, x.shape[:-3] + (V, 3, 4)))[..., None, :, :]
    rows, nrm, ok = _dlt_rows(P, np.where(ok[..., None], x, 0.0), ok)
    depth_row = np.broadcast_to(P[..., 2, :], rows.shape[:-2] + (4,))  # (..., V, J, 4)

    # pass 1: rows of unit 3D part; pass 2: by 1 / projective depth, so the residual is the
    # image distance (the iterative linear method of Hartley & Sturm)
    use = ok
    with np.errstate(all="ignore"):
        for _ in range(2 if cheirality else 1):
            X, solved, enough = _dlt_solve(rows, w, 1.0, use)
            ad = np.abs(_depths(depth_row, X))
            X, solved, enough = _dlt_solve(
                rows, w, nrm / np.maximum(ad, 1e-12 * ad.max(-2, keepdims=True) + 1e-300), use)
            if not cheirality:
                break
            front = _depths(depth_row, X) > min_depth
            dropped = use & ~front & solved[..., None, :]
            if not dropped.any():
                break
            use = use & ~dropped
    reason = np.zeros(X.shape[:-1], dtype=np.int64)
    if cheirality:
        behind = (use & ~(_depths(depth_row, X) > min_depth)).any(-2) & solved
        reason = np.where(behind, 3, reason)
        X = np.where(behind[..., None], np.nan, X)
        few = (ok.sum(-2) >= 2) & ~enough
        reason = np.where(few, 3, reason)
    reason = np.where(~solved & enough, 2, reason)
    reason = np.where(ok.sum(-2) < 2, 1, reason)
    return np.where((reason == 0)[..., None], X, np.nan), reason


def _dlt_rows(P: np.ndarray, xz: np.ndarray, ok: np.ndarray):
    """The two DLT rows (..., V, J, 2, 4) of every view and point (P (..., V, 1, 3, 4), xz
    (..., V, J, 2) with missing points 0), scaled by the norm n (..., V, J) of the first row's
    3D part (huge pixels of points near the camera plane cannot overflow the normal
    equations); returns (rows, n, ok) with non-finite rows zeroed and dropped from ok."""
    with np.errstate(all="ignore"):
        r1 = xz[..., 0:1] * P[..., 2, :] - P[..., 0, :]  # (..., V, J, 4)
        r2 = xz[..., 1:2] * P[..., 2, :] - P[..., 1, :]
        rows = np.stack([r1, r2], axis=-2)  # (..., V, J, 2, 4)
        nrm = np.maximum(np.linalg.norm(rows[..., 0, :3], axis=-1), 1e-300)  # (..., V, J)
        rows = rows / nrm[..., None, None]
        bad = ~np.isfinite(rows).all((-2, -1)) | ~np.isfinite(nrm)
    return (np.where(bad[..., None, None], 0.0, rows), np.where(bad, 1.0, nrm), ok & ~bad)


def _dlt_solve(rows: np.ndarray, w: np.ndarray, scale, use: np.ndarray):
    """Weighted inhomogeneous DLT: rows (..., V, J, 2, 4), weights w (..., V, J), per-view row
    scale (scalar or (..., V, J)), views used (..., V, J). Returns (X (..., J, 3) NaN where
    unsolved, solved (..., J), enough (..., J): at least two views used)."""
    sw = np.nan_to_num(np.where(use, scale * w, 0.0), posinf=1e300)
    sw = sw / np.maximum(sw.max(-2, keepdims=True), 1e-300)  # relative weights only
    rw = rows * sw[..., None, None]
    M = np.einsum("...vjri,...vjrk->...jik", rw, rw)
    enough = use.sum(-2) >= 2
    X, solved = _safe_solve3(M[..., :3, :3], -M[..., :3, 3], enough)
    return X, solved, enough


def _depths(depth_row: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Projective depths (..., V, J) of points X (..., J, 3) (NaN read as 0) for the third
    rows of the projection matrices, depth_row (..., V, J, 4)."""
    Xh = np.concatenate([np.nan_to_num(X), np.ones(X.shape[:-1] + (1,))], -1)
    return np.einsum("...vji,...ji->...vj", depth_row, Xh)


def _poly_real_candidates(coef: np.ndarray, n_threads: int | None = None) -> np.ndarray:
    """Real parts (M, 6) of the roots of degree-6 polynomials coef (M, 7) (highest first).

    A vanishing leading coefficient (the polynomial has lower degree) is replaced by a tiny
    one, which adds a root near infinity: harmless, since t = infinity is a candidate anyway.
    """
    coef = np.asarray(coef, dtype=np.float64)
    scale = np.maximum(np.abs(coef).max(-1, keepdims=True), 1e-300)
    c = coef / scale
    lead = c[:, 0]
    c[:, 0] = np.where(np.abs(lead) < 1e-12, np.where(lead < 0, -1e-12, 1e-12), lead)
    M = len(c)
    comp = np.zeros((M, 6, 6))
    comp[:, 0, :] = -c[:, 1:] / c[:, :1]
    comp[:, np.arange(1, 6), np.arange(5)] = 1.0
    comp = np.nan_to_num(comp)
    n_threads = n_threads or num_threads()
    if n_threads > 1 and M >= PARALLEL_MIN_POLYNOMIALS:
        roots = np.concatenate(parallel_map(lambda idx: np.linalg.eigvals(comp[idx]),
                                            split_batch(M, n_threads), threads=n_threads))
    else:
        roots = np.linalg.eigvals(comp)
    return roots.real


def correct_matches(F: np.ndarray, x1: np.ndarray, x2: np.ndarray,
                    n_threads: int | None = None, method: str = "certified"
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Optimal correction (Hartley & Sturm 1997): the points x1c, x2c closest to x1, x2 (sum of
    squared image distances) that satisfy ``x2c^T F x1c = 0`` exactly.

    F (..., 3, 3); x1, x2 (..., J, 2) in F's units (px) -> (x1c, x2c) (..., J, 2). Missing
    (NaN) points stay NaN. Solves the degree-6 polynomial of the epipolar-line parameter per
    point (HZ, Multiple View Geometry, algorithm 12.1).

    Root finding (``method``): ``"eigvals"`` takes all six roots from companion-matrix
    eigenvalues; ``"certified"`` (default, ~10x faster, same result) runs Newton on the
    polynomial from the observed point's own epipolar line, then *proves* the root is the
    global minimiser: the cost is at least the first image's term t^2 / (1 + f1^2 t^2), so the
    optimum lies in |t| <= tau with tau^2 / (1 + f1^2 tau^2) = cost(root); deflating the
    polynomial by the root and bounding the quotient's Taylor series on that interval shows it
    has no other root there. Points without such a proof go through ``"eigvals"``.
    """
    x1 = np.asarray(x1, dtype=np.float64)
    x2 = np.asarray(x2, dtype=np.float64)
    shape = np.broadcast_shapes(x1.shape, x2.shape)
    F = np.broadcast_to(np.asarray(F, dtype=np.float64), shape[:-2] + (3, 3))
    J = shape[-2]
    Fm = np.broadcast_to(F[..., None, :, :], shape[:-1] + (3, 3)).reshape(-1, 3, 3)
    a1 = np.broadcast_to(x1, shape).reshape(-1, 2)
    a2 = np.broadcast_to(x2, shape).reshape(-1, 2)
    bad = ~(np.isfinite(a1).all(-1) & np.isfinite(a2).all(-1) & np.isfinite(Fm).all((-2, -1)))
    a1, a2 = np.where(bad[:, None], 0.0, a1), np.where(bad[:, None], 0.0, a2)
    Fm = np.where(bad[:, None, None], np.eye(3)[[1, 2, 0]] - np.eye(3)[[2, 0, 1]], Fm)
    M = len(a1)

    T1i, T2i, R1, R2, f1, f2, (a, b, c, d) = _canonical_frames(Fm, a1, a2)
    g = _sextic(f1, f2, a, b, c, d)

    def cost(tv):  # the cost of HZ 12.5 at t (M,) or (M, k)
        return _epipolar_line_cost(tv, f1, f2, a, b, c, d)

    tbest, use_inf = _global_minimum(g, cost, (f1, f2, a, b, c, d), method, n_threads)
    l1 = np.stack([tbest * f1, np.ones(M), -tbest], -1)
    l2 = np.stack([-f2 * (c * tbest + d), a * tbest + b, c * tbest + d], -1)
    l1 = np.where(use_inf[:, None], np.stack([f1, np.zeros(M), -np.ones(M)], -1), l1)
    l2 = np.where(use_inf[:, None], np.stack([-f2 * c, a, c], -1), l2)
    y1 = _closest_point_in_image(T1i, R1, l1)
    y2 = _closest_point_in_image(T2i, R2, l2)
    y1[bad], y2[bad] = np.nan, np.nan
    return y1.reshape(shape[:-2] + (J, 2)), y2.reshape(shape[:-2] + (J, 2))


def _global_minimum(g, cost, params, method, n_threads):
    """The epipolar-line parameter t (M,) minimising the cost among the real roots of the
    sextic g (M, 7) and t = infinity (use_inf (M,) bool), by `correct_matches`' `method`;
    params: (f1, f2, a, b, c, d), each (M,)."""
    f1, f2, a, b, c, d = params
    M = len(g)
    s_inf = 1.0 / np.maximum(f1**2, 1e-300) + c**2 / np.maximum(a**2 + f2**2 * c**2, 1e-300)
    tbest = np.zeros(M)
    use_inf = np.zeros(M, dtype=bool)
    todo = np.ones(M, dtype=bool)
    if method == "certified":
        tbest, todo = _certified_root(g, cost, f1)
    elif method != "eigvals":
        raise ValueError(f"method must be 'certified' or 'eigvals', got {method!r}")
    if todo.any():
        idx = np.flatnonzero(todo)
        roots = _polish(g[idx], _poly_real_candidates(g[idx, ::-1], n_threads))  # (m, 6)
        s_roots = cost(roots) if len(idx) == M else _epipolar_line_cost(
            roots, *(v[idx] for v in params))
        k = np.argmin(s_roots, axis=-1)
        rows = np.arange(len(idx))
        tbest[idx] = roots[rows, k]
        use_inf[idx] = s_inf[idx] < s_roots[rows, k]
    return tbest, use_inf


def _canonical_frames(F: np.ndarray, x1: np.ndarray, x2: np.ndarray):
    """HZ algorithm 12.1's change of frames: each image translated so that its point x1, x2
    (M, 2) is the origin, then rotated so that its epipole is (1, 0, f). Returns the inverse
    translations T1i, T2i (M, 3, 3), the rotations R1, R2 (M, 3, 3), f1, f2 (M,) and the
    entries (a, b, c, d) = (F11, F12, F21, F22) (each (M,)) of F in the new frames."""
    T1i, T2i = _translation(x1), _translation(x2)
    Fp = np.swapaxes(T2i, -1, -2) @ F @ T1i
    # epipoles: right null vector e1 (F e1 = 0), left null vector e2 (e2^T F = 0)
    e1 = null_vector_rank2(Fp)
    e2 = null_vector_rank2(np.swapaxes(Fp, -1, -2))
    e1 = e1 / np.maximum(np.hypot(e1[:, 0], e1[:, 1]), 1e-300)[:, None]
    e2 = e2 / np.maximum(np.hypot(e2[:, 0], e2[:, 1]), 1e-300)[:, None]
    R1, R2 = _epipole_rotation(e1), _epipole_rotation(e2)
    Fq = R2 @ Fp @ np.swapaxes(R1, -1, -2)
    return (T1i, T2i, R1, R2, e1[:, 2], e2[:, 2],
            (Fq[:, 1, 1], Fq[:, 1, 2], Fq[:, 2, 1], Fq[:, 2, 2]))


def _translation(p: np.ndarray) -> np.ndarray:
    """(M, 3, 3) translations by +p (M, 2): the inverse of the one moving p to the origin."""
    T = np.zeros((len(p), 3, 3))
    T[:, 0, 0] = T[:, 1, 1] = T[:, 2, 2] = 1.0
    T[:, :2, 2] = p
    return T


def _epipole_rotation(e: np.ndarray) -> np.ndarray:
    """(M, 3, 3) rotations about the origin taking epipoles e (M, 3) (unit (e0, e1)) to
    (1, 0, e2)."""
    R = np.zeros((len(e), 3, 3))
    R[:, 0, 0], R[:, 0, 1] = e[:, 0], e[:, 1]
    R[:, 1, 0], R[:, 1, 1] = -e[:, 1], e[:, 0]
    R[:, 2, 2] = 1.0
    return R


def _sextic(f1, f2, a, b, c, d) -> np.ndarray:
    """Coefficients (M, 7), low degree first, of HZ's degree-6 polynomial in the epipolar-line
    parameter t: ``g(t) = t ((a t + b)^2 + f2^2 (c t + d)^2)^2
    - (a d - b c) (1 + f1^2 t^2)^2 (a t + b) (c t + d)``."""
    M = len(a)
    lin_ab = np.stack([b, a], -1)  # low -> high
    lin_cd = np.stack([d, c], -1)
    q = _pmul(lin_ab, lin_ab) + (f2**2)[:, None] * _pmul(lin_cd, lin_cd)  # degree 2
    term1 = _pmul(np.stack([np.zeros(M), np.ones(M)], -1), _pmul(q, q))  # degree 5
    s1 = np.stack([np.ones(M), np.zeros(M), f1**2], -1)
    term2 = (a * d - b * c)[:, None] * _pmul(_pmul(s1, s1), _pmul(lin_ab, lin_cd))  # degree 6
    g = np.zeros((M, 7))
    g[:, :6] += term1
    g -= term2
    return g


def _epipolar_line_cost(tv, f1, f2, a, b, c, d) -> np.ndarray:
    """Sum of squared distances of the two (origin) points to the epipolar lines of parameter
    tv (M,) or (M, k) (HZ 12.5); the other arguments (M,)."""
    if tv.ndim == 2:
        f1, f2, a, b, c, d = (v[:, None] for v in (f1, f2, a, b, c, d))
    return (tv**2 / (1 + f1**2 * tv**2)
            + (c * tv + d) ** 2 / np.maximum((a * tv + b) ** 2 + f2**2 * (c * tv + d) ** 2,
                                             1e-300))


def _closest_point_in_image(Ti: np.ndarray, R: np.ndarray, line: np.ndarray) -> np.ndarray:
    """The point (M, 2) of `line` (M, 3) (canonical frame) closest to the origin, taken back
    to the image by the inverse rotation R^T and the translation Ti (M, 3, 3)."""
    lam, mu, nu = line[:, 0], line[:, 1], line[:, 2]
    p = np.stack([-lam * nu, -mu * nu, lam**2 + mu**2], -1)
    h = np.einsum("bij,bj->bi", Ti @ np.swapaxes(R, -1, -2), p)
    return h[:, :2] / h[:, 2:3]


def correct_matches_iterative(F: np.ndarray, x1: np.ndarray, x2: np.ndarray, *,
                              iters: int = 12, tol_px: float = 1e-8,
                              n_threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Optimal correction by repeated linearisation of the epipolar constraint (iterated
    Sampson correction, as in Kanatani's and Lindstrom's fast optimal triangulation), with the
    Hartley-Sturm polynomial as fallback.

    Same arguments and result as `correct_matches` (F (B, 3, 3), x1, x2 (B, J, 2) px). Each
    iteration linearises ``g(y) = y2h^T F y1h`` at the current estimate y and moves to the point
    closest to the *observations* on that linearised constraint: ``y = x - lambda n`` with
    ``n = grad g(y)`` (4-vector) and ``lambda = (g(y) + n . (x - y)) / (n . n)``. A fixed point
    satisfies the constraint and the Lagrange condition of the optimal problem; convergence is
    linear and fast (at 2 px noise on the H36M rig all but ~0.3% of points move < 1e-9 px
    after 6 iterations); iterations stop once every point moved < `tol_px`. Points that moved
    by more than `tol_px` in the last iteration (not converged) are recomputed with
    `correct_matches`
    (certified global optimum); converged points are the stationary point nearest to the
    observations, the global optimum whenever the noise is small against the scene (it agrees
    with `correct_matches` to < 1e-7 px on the benchmark scenes). ~40 elementwise ops per
    iteration, no eigen-solver: ~10x faster than `correct_matches`.
    """
    x1 = np.asarray(x1, dtype=np.float64)
    x2 = np.asarray(x2, dtype=np.float64)
    F = np.asarray(F, dtype=np.float64)
    f = [[F[..., i, j][..., None] for j in range(3)] for i in range(3)]
    u1, v1, u2, v2 = x1[..., 0], x1[..., 1], x2[..., 0], x2[..., 1]
    y = (u1, v1, u2, v2)
    moved = np.zeros(u1.shape)
    with np.errstate(all="ignore"):
        for _ in range(iters):
            p1, q1, p2, q2 = y
            a0 = f[0][0] * p1 + f[0][1] * q1 + f[0][2]  # F y1h
            a1 = f[1][0] * p1 + f[1][1] * q1 + f[1][2]
            a2 = f[2][0] * p1 + f[2][1] * q1 + f[2][2]
            b0 = f[0][0] * p2 + f[1][0] * q2 + f[2][0]  # F^T y2h
            b1 = f[0][1] * p2 + f[1][1] * q2 + f[2][1]
            g = p2 * a0 + q2 * a1 + a2
            nn = b0 * b0 + b1 * b1 + a0 * a0 + a1 * a1
            lam = (g + b0 * (u1 - p1) + b1 * (v1 - q1) + a0 * (u2 - p2) + a1 * (v2 - q2)) / nn
            new = (u1 - lam * b0, v1 - lam * b1, u2 - lam * a0, v2 - lam * a1)
            moved = np.maximum(np.abs(new[0] - p1) + np.abs(new[1] - q1),
                               np.abs(new[2] - p2) + np.abs(new[3] - q2))
            y = new
            if not moved.max(initial=0.0) > tol_px:  # every point converged (NaN-safe)
                break
    y1 = np.stack(y[:2], -1)
    y2 = np.stack(y[2:], -1)
    finite_in = np.isfinite(x1).all(-1) & np.isfinite(x2).all(-1)
    redo = finite_in & ~(moved <= tol_px)
    if redo.any():
        b, j = np.nonzero(redo)
        c1, c2 = correct_matches(F[b], x1[b, j][:, None], x2[b, j][:, None],
                                 n_threads=n_threads)
        y1[b, j], y2[b, j] = c1[:, 0], c2[:, 0]
    y1[~finite_in] = np.nan
    y2[~finite_in] = np.nan
    return y1, y2


def _horner(coef: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Values of the polynomials coef (M, n) (low degree first) at t (M,) or (M, k)."""
    c = coef.reshape(coef.shape + (1,) * (t.ndim - 1))  # (M, n) or (M, n, 1)
    out = np.broadcast_to(c[:, -1], t.shape).copy()
    for k in range(coef.shape[1] - 2, -1, -1):
        out = out * t + c[:, k]
    return out


def _polish(g: np.ndarray, roots: np.ndarray, iters: int = 3) -> np.ndarray:
    """A few Newton steps on g (m, 7) (low degree first) from each candidate (m, 6): companion
    eigenvalues of badly scaled polynomials can be off by far more than rounding. A step is
    kept only where it lowers |g|."""
    gd = g[:, 1:] * np.arange(1, 7)
    with np.errstate(all="ignore"):
        for _ in range(iters):
            gv = _horner(g, roots)
            new = roots - gv / _horner(gd, roots)
            better = np.isfinite(new) & (np.abs(_horner(g, new)) < np.abs(gv))
            roots = np.where(better, new, roots)
    return roots


def _certified_root(g: np.ndarray, cost, f1: np.ndarray, iters: int = 12):
    """Newton root of g (M, 7) (low degree first) from t = 0 and a proof that it minimises
    the cost globally (see `correct_matches`). Returns (t (M,), not_proven (M,) bool)."""
    M = len(g)
    gd = g[:, 1:] * np.arange(1, 7)  # derivative, low degree first
    t = np.zeros(M)
    with np.errstate(all="ignore"):
        for _ in range(iters):
            step = _horner(g, t) / _horner(gd, t)
            t = np.where(np.isfinite(step), t - step, t)
        sc = cost(t)
        denom = 1.0 - f1**2 * sc
        tau = np.sqrt(sc / denom)
        # deflate: g(t) = (t - r) h(t) + g(r); h low degree first (M, 6), synthetic division
        h = np.zeros((M, 6))
        h[:, 5] = g[:, 6]
        for k in range(4, -1, -1):
            h[:, k] = g[:, k + 1] + t * h[:, k + 1]
        powers = tau[:, None] ** np.arange(1, 6)
        bound = (np.abs(h[:, 1:]) * powers).sum(-1)
        proven = (np.isfinite(sc) & (denom > 0) & np.isfinite(bound)
                  & (np.abs(h[:, 0]) > bound * (1 + 1e-9) + 1e-300))
    return t, ~proven


def _pmul(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Batched product of polynomials (M, n) x (M, m) -> (M, n + m - 1), low degree first."""
    out = np.zeros((p.shape[0], p.shape[1] + q.shape[1] - 1))
    for i in range(p.shape[1]):
        out[:, i:i + q.shape[1]] += p[:, i:i + 1] * q
    return out


def triangulate_two_view_optimal(R: np.ndarray, t: np.ndarray, x1: np.ndarray, x2: np.ndarray,
                                 K1: np.ndarray, K2: np.ndarray, n_threads: int | None = None,
                                 method: str = "certified") -> np.ndarray:
    """Optimal two-view triangulation in camera 1's frame.

    R (B, 3, 3), t (B, 3): ``X_2 = R X_1 + t``; x1, x2 (B, J, 2) undistorted px; K1, K2
    (B, 3, 3). The observations are first corrected (minimal pixel displacement onto the
    epipolar geometry), then the now intersecting rays are intersected (closed-form two-ray
    least squares). Returns X_1 (B, J, 3) in t's units; NaN where a point is missing.
    method: "certified" / "eigvals": Hartley-Sturm degree-6 polynomial (`correct_matches`, the
    paper-literal path); "iterative": `correct_matches_iterative` (same optimum, ~10x faster;
    non-converged points fall back to Hartley-Sturm).
    """
    n_threads = n_threads or num_threads()
    if method == "iterative" and n_threads > 1 and len(x1) >= PARALLEL_MIN_PAIRS:
        # parts of the batch on threads (numpy releases the GIL in its array loops)
        return np.concatenate(parallel_map(lambda ch: triangulate_two_view_optimal(
            R[ch], t[ch], x1[ch], x2[ch], K1[ch], K2[ch], 1, method),
            split_batch(len(x1), n_threads), threads=n_threads))
    F = fundamental_from_pose(R, t, K1, K2)
    F = F / np.linalg.norm(F, axis=(-2, -1), keepdims=True)
    if method == "iterative":
        y1, y2 = correct_matches_iterative(F, x1, x2, n_threads=n_threads)
    else:
        y1, y2 = correct_matches(F, x1, x2, n_threads=n_threads, method=method)
    Ki1, Ki2 = np.linalg.inv(K1), np.linalg.inv(K2)
    n1 = np.einsum("bij,bnj->bni", Ki1[:, :2, :2], y1) + Ki1[:, None, :2, 2]
    n2 = np.einsum("bij,bnj->bni", Ki2[:, :2, :2], y2) + Ki2[:, None, :2, 2]
    lam1, _ = two_ray_depths(n1, n2, R, t)
    return np.concatenate([n1, np.ones(n1.shape[:-1] + (1,))], -1) * lam1[..., None]


def vector_median(X: np.ndarray, valid: np.ndarray | None = None, *, iters: int = 50,
                  tol: float = 1e-9) -> np.ndarray:
    """Geometric (vector) median over K candidates by Weiszfeld's algorithm, batched.

    X (..., K, J, 3); valid (..., K, J) optional (NaN candidates are ignored). Returns
    (..., J, 3): the point minimising the sum of Euclidean distances to the valid candidates
    (NaN where none is valid). Starts at the mean; a candidate coinciding with the iterate is
    handled by clamping distances at `tol` (so it stays a fixed point).
    """
    X = np.asarray(X, dtype=np.float64)
    m = np.isfinite(X).all(-1)
    if valid is not None:
        m &= np.asarray(valid, dtype=bool)
    w0 = m.astype(np.float64)
    Xz = np.where(m[..., None], X, 0.0)
    n = w0.sum(-2)
    y = Xz.sum(-3) / np.maximum(n, 1)[..., None]
    for _ in range(iters):
        d = np.linalg.norm(Xz - y[..., None, :, :], axis=-1)
        w = w0 / np.maximum(d, tol)
        y_new = (w[..., None] * Xz).sum(-3) / np.maximum(w.sum(-2), 1e-300)[..., None]
        step = np.abs(y_new - y).max() if y.size else 0.0
        y = y_new
        if step < tol:
            break
    return np.where((n > 0)[..., None], y, np.nan)


def triangulate_two_view_linear(R: np.ndarray, t: np.ndarray, x1: np.ndarray, x2: np.ndarray,
                                K1: np.ndarray, K2: np.ndarray) -> np.ndarray:
    """Fast linear two-view triangulation in camera 1's frame (no correction step): the point
    on ray 1 at the least-squares depth of the two rays (closed form, no eigen-solver).

    Same arguments and output as `triangulate_two_view_optimal`; exact on exact data, slightly
    less accurate than the optimal method under noise, ~10x faster.
    """
    Ki1, Ki2 = np.linalg.inv(K1), np.linalg.inv(K2)
    n1 = np.einsum("bij,bnj->bni", Ki1[:, :2, :2], x1) + Ki1[:, None, :2, 2]
    n2 = np.einsum("bij,bnj->bni", Ki2[:, :2, :2], x2) + Ki2[:, None, :2, 2]
    lam1, _ = two_ray_depths(n1, n2, R, t)
    return np.concatenate([n1, np.ones(n1.shape[:-1] + (1,))], -1) * lam1[..., None]

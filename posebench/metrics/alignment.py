"""The batched Procrustes solver: least-squares scale, rigid and similarity alignment, fast.

The definitions are `posebench.metrics.reference` (`procrustes`, `scale_least_squares`, ...);
this module computes the same transforms several times faster and is tested equal to them
(tests/metrics/test_metrics_reference.py). All functions take poses ``(..., J, 3)`` mm,
accumulate in float64 and work in chunks on the `posebench.parallel` pool (results do not
depend on the thread count or chunk size). Row-vector convention: an aligned pose is
``s * pred @ R + t`` with ``R`` a proper rotation (det R = +1).

How the 3x3 Procrustes problems are solved (no Python loop over poses, no batched SVD):
the optimal rotation maximises ``tr(R^T S)`` for the cross-covariance ``S = P0^T G0`` of the
centred poses. Horn's (1987) 4x4 symmetric matrix ``K(S)`` has the maximal trace as its largest
eigenvalue and the optimal rotation's unit quaternion as its eigenvector. The eigenvalue is the
largest root of a quartic with closed-form coefficients (Theobald's QCP, 2005), found by Newton
iterations started above it (Cauchy-Schwarz bound), and the eigenvector is the largest row of the
adjugate of ``K - lambda I``. A quaternion is always a proper rotation, so reflections cannot
occur (the SVD route must instead flip the last singular vector when ``det(U V^T) < 0``; deciding
that from ``det(S)`` instead fails for planar poses). Numerical trade-off: when the two largest
eigenvalues nearly coincide the eigenvalue and eigenvector are ill-conditioned; those poses
(rare: near-collinear poses or near-reflections) are detected from the adjugate (or the
quartic's slope) and solved with ``np.linalg.svd`` (`svd_rotation`), which is about 5x slower per
pose but stable there. Measured (benchmarks/metrics.py, 550k poses, 2 shared cores): ~5-10x
faster than the VideoPose3D-style batched SVD, values equal to ~1e-11 mm.

Cancellation note: centroids and ``S`` are formed from uncentred sums (``P^T G - J mu_P mu_G^T``),
which loses ``eps * |offset|^2 / |spread|^2`` relative precision: ~1e-13 for camera-frame poses
5 m from the camera, still ~1e-9 at 1 km.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from posebench.metrics.inputs import check_pair
from posebench.metrics.kernels import (
    add_per_pose,
    as_f64,
    map_chunks,
    pose_dots,
    pose_sq_norms,
    pose_sums,
    safe_ratio,
)
from posebench.parallel import for_each_chunk

#: Poses whose quaternion eigen-problem has a relative adjugate norm below this use the SVD.
_ILL_CONDITIONED = 1e-2
_NEWTON_MAX_ITER = 100


# ----------------------------------------------------------------------------- scale only

def least_squares_scale_chunk(p: np.ndarray, g: np.ndarray, root: int | None) -> np.ndarray:
    """Least-squares scale ``<P, G> / <P, P>`` (C,) of float64 chunks p, g ``(C, J, 3)`` mm
    centred on joint `root` (None: as given), from sums (no centred copies); 0 where P = 0."""
    pg = pose_dots(p, g)
    pp = pose_sq_norms(p)
    if root is not None:
        j = p.shape[1]
        pr, gr = p[:, root], g[:, root]
        sp, sg = pose_sums(p), pose_sums(g)
        pg = pg - np.einsum("ij,ij->i", pr, sg) - np.einsum("ij,ij->i", gr, sp) \
            + j * np.einsum("ij,ij->i", pr, gr)
        pp = pp - 2 * np.einsum("ij,ij->i", pr, sp) + j * np.einsum("ij,ij->i", pr, pr)
    with np.errstate(divide="ignore", invalid="ignore"):
        return safe_ratio(pg, pp)


def scale_least_squares(pred: np.ndarray, gt: np.ndarray, root: int | None = 0) -> np.ndarray:
    """Scale ``s = <P, G> / <P, P>`` minimising ``|s P - G|^2`` (Rhodin et al. 2018; VideoPose3D
    ``n_mpjpe``), with P, G the poses centred on joint `root` (``None``: as given).

    Args: pred, gt ``(..., J, 3)`` mm. Returns ``(...)`` dimensionless; 0 where P is all zeros.
    """
    p, g, lead = check_pair(pred, gt)
    return map_chunks(lambda a, b: least_squares_scale_chunk(a, b, root), p, g, ()).reshape(lead)


# ----------------------------------------------------------------------------- Procrustes core
# Per-pose 3x3 quantities are kept "structure of arrays": a 3x3 matrix is 9 contiguous (C,) rows
# (row-major: index 3a + b), so every step is a long vector operation instead of a tiny one.

class Stats(NamedTuple):
    """Centred second moments of a chunk: centroids (3, C) mm, cross-covariance
    ``S = P0^T G0`` as 9 rows (9, C) mm^2, squared norms |P0|^2, |G0|^2 (C,) mm^2."""

    mu_p: np.ndarray
    mu_g: np.ndarray
    s: np.ndarray
    ssp: np.ndarray
    ssg: np.ndarray


def centred_stats(p: np.ndarray, g: np.ndarray) -> Stats:
    """`Stats` of float64 chunks p, g (C, J, 3), from uncentred sums (one batched matmul)."""
    j = p.shape[1]
    sp = pose_sums(p).T.copy()  # (3, C)
    sg = pose_sums(g).T.copy()
    s = np.matmul(p.transpose(0, 2, 1), g).reshape(-1, 9).T.copy()  # (9, C)
    for a in range(3):
        for b in range(3):
            s[3 * a + b] -= sp[a] * sg[b] / j
    ssp = np.maximum(pose_sq_norms(p) - np.einsum("ij,ij->j", sp, sp) / j, 0.0)
    ssg = np.maximum(pose_sq_norms(g) - np.einsum("ij,ij->j", sg, sg) / j, 0.0)
    return Stats(sp / j, sg / j, s, ssp, ssg)


def _normalised(st: Stats) -> tuple[np.ndarray, np.ndarray]:
    """S / sqrt(|P0|^2 |G0|^2) (9, C) and the normaliser (zeros replaced by 1)."""
    norm = np.sqrt(st.ssp * st.ssg)
    norm = np.where(norm > 0, norm, 1.0)
    return st.s / norm, norm


def _horn_matrix(sn: np.ndarray) -> list[list[np.ndarray]]:
    """Horn's symmetric traceless 4x4 matrix K(S) as nested lists of (C,) arrays."""
    sxx, sxy, sxz, syx, syy, syz, szx, szy, szz = sn
    k01 = syz - szy
    k02 = szx - sxz
    k03 = sxy - syx
    k12 = sxy + syx
    k13 = szx + sxz
    k23 = syz + szy
    return [[sxx + syy + szz, k01, k02, k03], [k01, sxx - syy - szz, k12, k13],
            [k02, k12, syy - sxx - szz, k23], [k03, k13, k23, szz - sxx - syy]]


def _minors(r0: list, r1: list) -> dict[tuple[int, int], np.ndarray]:
    """The six 2x2 minors of two rows of a 4x4 matrix, keyed by column pair."""
    return {(i, k): r0[i] * r1[k] - r0[k] * r1[i]
            for i in range(4) for k in range(i + 1, 4)}


def _quartic(sn: np.ndarray, kmat: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coefficients (c2, c1, c0) of ``det(K - l I) = l^4 + c2 l^2 + c1 l + c0`` (each (C,))."""
    sxx, sxy, sxz, syx, syy, syz, szx, szy, szz = sn
    c2 = -2.0 * np.einsum("ij,ij->j", sn, sn)
    det_s = (sxx * (syy * szz - syz * szy) - sxy * (syx * szz - syz * szx)
             + sxz * (syx * szy - syy * szx))
    c1 = -8.0 * det_s
    m01 = _minors(kmat[0], kmat[1])
    m23 = _minors(kmat[2], kmat[3])
    c0 = (m01[0, 1] * m23[2, 3] - m01[0, 2] * m23[1, 3] + m01[0, 3] * m23[1, 2]
          + m01[1, 2] * m23[0, 3] - m01[1, 3] * m23[0, 2] + m01[2, 3] * m23[0, 1])
    return c2, c1, c0


def _newton_step(x, a2, a1, a0):
    """One Newton step on the quartic, never moving up (returns the smaller of old and new)."""
    x2 = x * x
    f = (x2 + a2) * x2 + a1 * x + a0
    df = (4.0 * x2 + 2.0 * a2) * x + a1
    with np.errstate(divide="ignore", invalid="ignore"):
        new = x - np.where(df > 0, f / df, 0.0)
    return np.where(new < x, new, x)


def _max_eigenvalue(c2: np.ndarray, c1: np.ndarray, c0: np.ndarray) -> np.ndarray:
    """Largest eigenvalue of K(S) (= max over proper rotations of tr(R^T S); <= 1 here since
    S is normalised): the largest root of the `_quartic`, by Newton's method.

    Started at an upper bound, Newton decreases monotonically to the largest root (the quartic
    is convex right of it); a pose stops when its estimate stops decreasing."""
    # Upper bounds: Cauchy-Schwarz gives 1 (normalised; padded for rounding in the uncentred
    # sums) and the nuclear norm is <= sqrt(3) |S|_F (always valid).
    lam = np.minimum(1.0 + 1e-6, np.sqrt(-1.5 * c2) * (1.0 + 1e-12))
    for _ in range(3):  # nearly every pose needs >= 4 steps: no bookkeeping for these
        lam = _newton_step(lam, c2, c1, c0)
    active = np.arange(lam.shape[0])
    a_lam, a_c2, a_c1, a_c0 = lam, c2, c1, c0
    for _ in range(_NEWTON_MAX_ITER):
        new = _newton_step(a_lam, a_c2, a_c1, a_c0)
        moving = new < a_lam * (1.0 - 1e-15)
        lam[active] = new
        if not moving.any():
            break
        keep = np.flatnonzero(moving)
        active = active[keep]
        a_lam, a_c2, a_c1, a_c0 = new[keep], a_c2[keep], a_c1[keep], a_c0[keep]
    return np.maximum(lam, 0.0)


def _quaternion_rotation_rows(q: np.ndarray) -> np.ndarray:
    """Row-convention rotation R (9, C) (``p @ R`` rotates p by the unit quaternion q (4, C),
    rows w, x, y, z): the transpose of q's column-vector rotation matrix."""
    w, x, y, z = q
    ww, xx, yy, zz = w * w, x * x, y * y, z * z
    xy, xz, yz, wx, wy, wz = x * y, x * z, y * z, w * x, w * y, w * z
    return np.stack([ww + xx - yy - zz, 2 * (xy + wz), 2 * (xz - wy),
                     2 * (xy - wz), ww - xx + yy - zz, 2 * (yz + wx),
                     2 * (xz + wy), 2 * (yz - wx), ww - xx - yy + zz])


def svd_rotation(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fallback for ill-conditioned poses: proper rotation (C, 3, 3) maximising tr(R^T S)
    and that maximal trace (C,), by SVD of S (C, 3, 3), as `reference.procrustes` defines it.
    The reflection test uses det(U V^T) (exactly +-1), never det(S)."""
    u, sig, vt = np.linalg.svd(s)
    d = np.sign(np.linalg.det(np.matmul(u, vt)))
    d = np.where(d == 0, 1.0, d)
    u[:, :, 2] *= d[:, None]
    trace = sig[:, 0] + sig[:, 1] + d * sig[:, 2]
    return np.matmul(u, vt), trace


def rotation_and_trace(st: Stats) -> tuple[np.ndarray, np.ndarray]:
    """Optimal proper rotation as 9 rows (9, C) (row convention: ``P0 @ R ~ G0``) and the
    maximal trace ``tr(R^T S)`` (C,) mm^2, by the quaternion eigen-problem (SVD where
    ill-conditioned)."""
    sn, norm = _normalised(st)
    kmat = _horn_matrix(sn)
    lam = _max_eigenvalue(*_quartic(sn, kmat))
    a = [[kmat[i][k] - lam if i == k else kmat[i][k] for k in range(4)] for i in range(4)]
    m23 = _minors(a[2], a[3])
    m01 = _minors(a[0], a[1])
    # Cofactor matrix of A = K - lam I; it equals prod_k(lam_k - lam) v v^T (symmetric).
    c00 = a[1][1] * m23[2, 3] - a[1][2] * m23[1, 3] + a[1][3] * m23[1, 2]
    c01 = a[1][2] * m23[0, 3] - a[1][0] * m23[2, 3] - a[1][3] * m23[0, 2]
    c02 = a[1][0] * m23[1, 3] - a[1][1] * m23[0, 3] + a[1][3] * m23[0, 1]
    c03 = a[1][1] * m23[0, 2] - a[1][0] * m23[1, 2] - a[1][2] * m23[0, 1]
    c11 = a[0][0] * m23[2, 3] - a[0][2] * m23[0, 3] + a[0][3] * m23[0, 2]
    c12 = a[0][1] * m23[0, 3] - a[0][0] * m23[1, 3] - a[0][3] * m23[0, 1]
    c13 = a[0][0] * m23[1, 2] - a[0][1] * m23[0, 2] + a[0][2] * m23[0, 1]
    c22 = a[3][0] * m01[1, 3] - a[3][1] * m01[0, 3] + a[3][3] * m01[0, 1]
    c23 = a[3][1] * m01[0, 2] - a[3][0] * m01[1, 2] - a[3][2] * m01[0, 1]
    c33 = a[2][0] * m01[1, 2] - a[2][1] * m01[0, 2] + a[2][2] * m01[0, 1]
    rows = [(c00, c01, c02, c03), (c01, c11, c12, c13), (c02, c12, c22, c23),
            (c03, c13, c23, c33)]
    diag = np.abs(np.stack([c00, c11, c22, c33]))
    best = np.argmax(diag, axis=0)
    # the row of the cofactor matrix with the largest diagonal entry is the best-conditioned
    q = np.stack(rows[0])
    for i in (1, 2, 3):
        pick = best == i
        if pick.any():
            q = np.where(pick, np.stack(rows[i]), q)
    qn = np.sqrt(np.einsum("ij,ij->j", q, q))
    # relative size of the adjugate ~ product of eigenvalue gaps / lam^3: small = ill-posed
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rel = np.max(diag, axis=0) / lam ** 3
    ok = (rel > _ILL_CONDITIONED) & (qn > 0) & (lam > 1e-100)
    q /= np.where(qn > 0, qn, 1.0)
    rot = _quaternion_rotation_rows(q)
    trace = lam * norm
    finite = np.isfinite(trace)
    bad = np.flatnonzero(~ok & finite)
    if bad.size:
        r_bad, trace[bad] = svd_rotation(st.s[:, bad].T.reshape(-1, 3, 3))
        rot[:, bad] = r_bad.reshape(-1, 9).T
    if not finite.all():  # NaN / inf in the input: NaN out, no exception
        rot[:, ~finite] = np.nan
    return rot, trace


def max_trace(st: Stats) -> np.ndarray:
    """max over proper rotations of tr(R^T S) (C,) mm^2 = sigma1 + sigma2 + sign(det S) sigma3.
    Only the eigenvalue is needed (no eigenvector); where the two largest eigenvalues nearly
    coincide (small slope of the quartic there) Newton's root is inaccurate and the SVD is
    used."""
    sn, norm = _normalised(st)
    c2, c1, c0 = _quartic(sn, _horn_matrix(sn))
    lam = _max_eigenvalue(c2, c1, c0)
    trace = lam * norm
    slope = (4.0 * lam * lam + 2.0 * c2) * lam + c1  # = prod_k (lam - lam_k), k != max
    with np.errstate(over="ignore", invalid="ignore"):
        ok = (np.abs(slope) > _ILL_CONDITIONED * lam ** 3) & (lam > 1e-100)
    bad = np.flatnonzero(~ok & np.isfinite(trace))
    if bad.size:
        trace[bad] = svd_rotation(st.s[:, bad].T.reshape(-1, 3, 3))[1]
    return trace


def _affine_rows(st: Stats, lin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear part (C, 3, 3) from 9 rows, and the translation t = mu_g - mu_p @ M (C, 3)."""
    t = np.stack([st.mu_g[b] - (st.mu_p[0] * lin[b] + st.mu_p[1] * lin[3 + b]
                                + st.mu_p[2] * lin[6 + b]) for b in range(3)], axis=1)
    return lin.T.reshape(-1, 3, 3), t


def similarity_from_stats(st: Stats) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares similarity of a chunk from its `Stats`: ``(M, t, s)`` with M = s R
    (C, 3, 3), t (C, 3) mm and s (C,), such that ``p @ M + t`` best fits g."""
    rot, trace = rotation_and_trace(st)
    scale = safe_ratio(trace, st.ssp)
    m, t = _affine_rows(st, rot * scale)
    return m, t, scale


def rigid_from_stats(st: Stats) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares rigid fit of a chunk from its `Stats`: ``(R, t)``, R (C, 3, 3), t (C, 3)."""
    return _affine_rows(st, rotation_and_trace(st)[0])


def apply_similarity(p: np.ndarray, m: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per-pose similarity (or rigid) transform ``p @ m + t``: p (C, J, 3) mm, m = s R
    (C, 3, 3), t (C, 3) mm -> (C, J, 3) mm."""
    return add_per_pose(np.matmul(p, m), t)


# ----------------------------------------------------------------------------- public, batched

def procrustes(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Similarity transform ``(s, R, t)`` minimising ``|s * pred @ R + t - gt|^2``, det R = +1
    (as `reference.procrustes`). Args: pred, gt ``(..., J, 3)`` mm. Returns s ``(...)``,
    R ``(..., 3, 3)``, t ``(..., 3)`` mm; NaN R and t for poses with non-finite input."""
    p, g, lead = check_pair(pred, gt)
    s, r, t = np.empty(p.shape[0]), np.empty((p.shape[0], 3, 3)), np.empty((p.shape[0], 3))

    def work(sl: slice) -> None:
        st = centred_stats(as_f64(p[sl]), as_f64(g[sl]))
        rot, trace = rotation_and_trace(st)
        s[sl] = safe_ratio(trace, st.ssp)
        t[sl] = _affine_rows(st, rot * s[sl])[1]
        r[sl] = rot.T.reshape(-1, 3, 3)

    for_each_chunk(p.shape[0], work)
    return s.reshape(lead), r.reshape(*lead, 3, 3), t.reshape(*lead, 3)


def procrustes_scale(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Scale ``s`` of the similarity Procrustes alignment of `pred` onto `gt` (with its optimal
    rotation and translation): ``s = max_R tr(R^T P0^T G0) / |P0|^2`` with P0, G0 centred on their
    centroids. This is the scale EpipolarPose's N-MPJPE applies (without the rotation).

    Args: pred, gt ``(..., J, 3)`` mm. Returns ``(...)``; 0 where pred has no spread."""
    p, g, lead = check_pair(pred, gt)

    def one(pc, gc):
        st = centred_stats(pc, gc)
        return safe_ratio(max_trace(st), st.ssp)

    return map_chunks(one, p, g, ()).reshape(lead)


def similarity_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """`pred` moved by the similarity transform (s, R, t; det R = +1) that best fits `gt` in the
    least-squares sense (the VideoPose3D / mmpose P-MPJPE alignment).

    Args: pred, gt ``(..., J, 3)`` mm. Returns aligned pred ``(..., J, 3)`` float64 mm."""
    p, g, lead = check_pair(pred, gt)

    def one(pc, gc):
        return apply_similarity(pc, *similarity_from_stats(centred_stats(pc, gc))[:2])

    return map_chunks(one, p, g, p.shape[1:]).reshape(*lead, *p.shape[1:])


def rigid_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """`pred` moved by the rigid transform (R, t; det R = +1) that best fits `gt`.

    Args: pred, gt ``(..., J, 3)`` mm. Returns aligned pred ``(..., J, 3)`` float64 mm."""
    p, g, lead = check_pair(pred, gt)

    def one(pc, gc):
        return apply_similarity(pc, *rigid_from_stats(centred_stats(pc, gc)))

    return map_chunks(one, p, g, p.shape[1:]).reshape(*lead, *p.shape[1:])

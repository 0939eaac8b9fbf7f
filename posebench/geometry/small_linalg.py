"""Batched linear algebra for many tiny matrices, without one LAPACK call per matrix where
numpy's batched LAPACK loops are slow (e.g. ``eigh`` of (B, 9, 9) costs ~9 us per matrix).

- `smallest_eigvec_psd`: eigenvector of the smallest eigenvalue of symmetric PSD matrices
  (B, n, n) by inverse iteration with repeated squaring: one batched `solve` (LU, ~0.6 us per
  9x9) and a few batched matmuls. Same vector as ``eigh(M)[1][..., 0]`` (up to sign) whenever
  the two smallest eigenvalues are distinct; ~8x faster than `eigh` for 9x9.
- `smallest_eigval_sym2`: closed-form smallest eigenvalue of symmetric 2x2 matrices.
"""

from __future__ import annotations

import numpy as np


def smallest_eigvec_psd(M: np.ndarray, squarings: int = 6) -> np.ndarray:
    """Unit eigenvector (B, n) of the smallest eigenvalue of symmetric PSD matrices M (B, n, n).

    Inverse iteration in matrix form: ``Y = (M + delta I)^-1`` (delta = 1e-14 trace(M) keeps
    exactly singular matrices solvable and leaves the eigenvectors unchanged), then ``Y <- Y^2``
    `squarings` times (each normalised by its trace), so that Y ~ (M + delta I)^-(2^s)
    is dominated by the wanted direction with error ratio ``((l1 + delta) / (l2 + delta))^(2^s)``
    (l1 <= l2 the two smallest eigenvalues). The column of Y with the largest norm is returned,
    normalised. Falls back to `np.linalg.eigh` for matrices where this fails (non-finite).
    """
    M = np.asarray(M, dtype=np.float64)
    n = M.shape[-1]
    eye = np.eye(n)
    tr = np.trace(M, axis1=-2, axis2=-1)
    delta = np.maximum(np.abs(tr), 1e-300) * 1e-14
    Ms = M + delta[..., None, None] * eye
    try:
        Y = np.linalg.solve(Ms, np.broadcast_to(eye, M.shape))
    except np.linalg.LinAlgError:
        return np.linalg.eigh(M)[1][..., 0]
    for _ in range(squarings):
        # Y is symmetric PSD: its trace bounds every entry
        Y = Y / np.maximum(np.trace(Y, axis1=-2, axis2=-1), 1e-300)[..., None, None]
        Y = Y @ Y
    norms = (Y * Y).sum(-2)  # (B, n) squared column norms
    k = np.argmax(norms, axis=-1)
    v = np.take_along_axis(Y, k[..., None, None], axis=-1)[..., 0]
    v = v / np.sqrt(np.maximum(np.take_along_axis(norms, k[..., None], -1), 1e-300))
    bad = ~np.isfinite(v).all(-1)
    if bad.any():
        v[bad] = np.linalg.eigh(np.nan_to_num(M[bad]))[1][..., 0]
    return v


def smallest_eigval_sym2(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Smallest eigenvalue (...) of the symmetric 2x2 matrices [[a, b], [b, c]] (closed form,
    written to avoid cancellation: ``det / largest eigenvalue``)."""
    half = 0.5 * (a + c)
    rad = np.sqrt(0.25 * (a - c) ** 2 + b * b)
    big = half + rad
    return np.where(big > 0, (a * c - b * b) / np.where(big > 0, big, 1.0), half - rad)

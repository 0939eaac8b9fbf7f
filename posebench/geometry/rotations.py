"""Small batched rotation helpers: skew matrices, Rodrigues' formula, angles between rotations."""

from __future__ import annotations

import numpy as np


def skew(v: np.ndarray) -> np.ndarray:
    """Cross-product matrices [v]_x (..., 3, 3) of vectors v (..., 3): [v]_x w = v x w."""
    v = np.asarray(v, dtype=np.float64)
    S = np.zeros(v.shape[:-1] + (3, 3))
    S[..., 0, 1], S[..., 0, 2] = -v[..., 2], v[..., 1]
    S[..., 1, 0], S[..., 1, 2] = v[..., 2], -v[..., 0]
    S[..., 2, 0], S[..., 2, 1] = -v[..., 1], v[..., 0]
    return S


def rodrigues(w: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) from axis-angle vectors w (..., 3) radians (exp map)."""
    w = np.asarray(w, dtype=np.float64)
    theta = np.linalg.norm(w, axis=-1)[..., None, None]
    K = skew(w)
    small = theta < 1e-8
    safe = np.where(small, 1.0, theta)
    a = np.where(small, 1.0 - theta**2 / 6.0, np.sin(safe) / safe)
    b = np.where(small, 0.5 - theta**2 / 24.0, (1.0 - np.cos(safe)) / safe**2)
    return np.eye(3) + a * K + b * (K @ K)


def rotation_angle_deg(Ra: np.ndarray, Rb: np.ndarray) -> np.ndarray:
    """Angle (...,) in degrees of the rotation Ra^T Rb, accurate near 0 (via the chord length:
    ``||Ra - Rb||_F = 2 sqrt(2) sin(theta / 2)``)."""
    chord = np.linalg.norm(np.asarray(Ra) - np.asarray(Rb), axis=(-2, -1)) / (2.0 * np.sqrt(2.0))
    return np.degrees(2.0 * np.arcsin(np.clip(chord, 0.0, 1.0)))


def relative_extrinsics(Ra: np.ndarray, ta: np.ndarray, Rb: np.ndarray, tb: np.ndarray):
    """Pose of camera b relative to camera a, from world->camera extrinsics
    ``X_a = Ra X_w + ta`` and ``X_b = Rb X_w + tb``: returns (R, t) with ``X_b = R X_a + t``,
    R (..., 3, 3), t (..., 3) in the units of ta, tb."""
    R = np.asarray(Rb) @ np.swapaxes(np.asarray(Ra), -1, -2)
    t = np.asarray(tb) - np.einsum("...ij,...j->...i", R, np.asarray(ta))
    return R, t

"""Pose generators and hypothesis settings shared by the metrics tests (plain numpy, seeded)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, settings

#: Deterministic hypothesis settings (same examples every run, as tests/test_fuzz_cli.py).
SETTINGS = settings(max_examples=60, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

#: Kinds of pose pairs `adversarial_pairs` builds.
CASES = ("generic", "planar", "collinear", "mirror", "mirror_planar", "near_coincident",
         "coincident", "duplicated", "point_prediction", "unrelated")


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """Uniform proper rotation (det +1) from a random orthogonal matrix (QR, sign-fixed)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


def random_rotations(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 3, 3) uniform proper rotations."""
    return np.stack([random_rotation(rng) for _ in range(n)])


def pose_pair(seed: int, joints: int = 17, noise: float = 30.0):
    """One (J, 3) mm ground truth 3 m around the origin and a similarity-moved noisy copy."""
    rng = np.random.default_rng(seed)
    gt = rng.normal(scale=300, size=(joints, 3)) + rng.uniform(-3000, 3000, size=3)
    pred = gt @ random_rotation(rng) * rng.uniform(0.5, 2) + rng.normal(scale=noise,
                                                                           size=gt.shape)
    return pred, gt


def _moved(rng, gt: np.ndarray, noise: float) -> np.ndarray:
    """gt rotated, scaled (0.5-2), shifted and with `noise` mm joint noise, per pose."""
    n = gt.shape[0]
    scale = rng.uniform(0.5, 2.0, size=(n, 1, 1))
    shift = rng.normal(scale=300, size=(n, 1, 3))
    return np.matmul(gt, random_rotations(rng, n)) * scale + shift + rng.normal(
        scale=noise, size=gt.shape)


def adversarial_pairs(case: str, seed: int, joints: int, n: int = 8):
    """`n` pose pairs (pred, gt) ``(n, J, 3)`` mm of one kind (see `CASES`), centred near the
    origin with a spread of a few hundred mm."""
    rng = np.random.default_rng(seed)
    mirror = np.array([-1.0, 1.0, 1.0])
    gt = rng.normal(scale=300, size=(n, joints, 3))
    if case == "generic":
        return _moved(rng, gt, 30.0), gt
    if case == "planar":  # exactly coplanar joints in both poses: det(S) ~ 0
        gt[..., 2] = 0.0
        return _moved(rng, gt, 0.0), gt
    if case == "collinear":  # ground truth on a line, prediction within 1e-3 mm of it
        gt = rng.normal(size=(n, joints, 1)) * rng.normal(scale=200, size=(n, 1, 3))
        return gt + rng.normal(scale=1e-3, size=gt.shape), gt
    if case == "mirror":  # the mirror image, rotated: not reachable by a proper rotation
        return _moved(rng, gt * mirror, 5.0), gt
    if case == "mirror_planar":  # mirrored planar pose: a 180 degree turn undoes it exactly
        gt[..., 2] = 0.0
        return gt * mirror, gt
    if case in ("near_coincident", "coincident") and joints >= 4:
        # principal spreads 400, 100, 100 (1 + delta) mm exactly, then mirrored: det S < 0 and
        # sigma2 ~ sigma3, so the top eigenvalues of Horn's matrix (sigma1 + sigma2 - sigma3,
        # sigma1 - sigma2 + sigma3) nearly coincide (delta = 1e-6), or coincide (delta = 0:
        # the optimal rotation is then not unique)
        a = gt - gt.mean(1, keepdims=True)
        q = np.linalg.qr(a)[0]  # (n, J, 3) orthonormal, centred columns
        delta = np.full((n, 1, 1), 1e-6 if case == "near_coincident" else 0.0)
        stds = np.concatenate([np.full((n, 1, 1), 400.0), np.full((n, 1, 1), 100.0),
                               100.0 * (1.0 + delta)], axis=2)
        gt = q * stds * np.sqrt(joints)
        return np.matmul(gt * mirror, random_rotations(rng, n)), gt
    if case == "duplicated":  # every joint twice
        half = (joints + 1) // 2
        gt = np.concatenate([gt[:, :half], gt[:, : joints - half]], axis=1)
        return _moved(rng, gt, 20.0), gt
    if case == "point_prediction":  # the prediction has no spread at all
        return np.broadcast_to(rng.normal(size=(n, 1, 3)) * 100, gt.shape).copy(), gt
    if case in ("unrelated", "near_coincident", "coincident"):  # (J < 4 for the last two)
        # unrelated poses: det(S) < 0 for about half of them
        return rng.normal(scale=300, size=gt.shape), gt
    raise ValueError(case)

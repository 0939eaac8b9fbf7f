"""Random two-view scenes shared by the geometry tests (pinhole, Human3.6M-like focal length)."""

from __future__ import annotations

import numpy as np

from posebench.geometry.rotations import rodrigues

KM = np.array([[1145.0, 0, 512.0], [0, 1143.0, 515.0], [0, 0, 1.0]])


def two_view_scene(B: int, seed: int, noise: float):
    """B random relative poses and 17-point clouds 4 units ahead of camera 1.

    -> R (B,3,3), t (B,3) unit (X2 = R X1 + t), X (B,17,3) in camera 1, x1, x2 (B,17,2) px with
    Gaussian noise `noise` px, K (B,3,3).
    """
    rng = np.random.default_rng(seed)
    R = rodrigues(rng.normal(size=(B, 3)) * 0.3)
    t = rng.normal(size=(B, 3))
    t /= np.linalg.norm(t, axis=-1, keepdims=True)
    X = rng.normal(size=(B, 17, 3)) * 0.3 + [0, 0, 4.0]
    X2 = np.einsum("bij,bnj->bni", R, X) + t[:, None]
    x1 = (X / X[..., 2:]) @ KM.T
    x2 = (X2 / X2[..., 2:]) @ KM.T
    K = np.broadcast_to(KM, (B, 3, 3))
    return (R, t, X, x1[..., :2] + rng.normal(size=(B, 17, 2)) * noise,
            x2[..., :2] + rng.normal(size=(B, 17, 2)) * noise, K)

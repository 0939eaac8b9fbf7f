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


def svd_essential_hypotheses(E: np.ndarray):
    """Reference (textbook SVD) decomposition of E (B, 3, 3), independent of the library's
    closed form: E_hat (B, 3, 3) with singular values (1, 1, 0), R (B, 4, 3, 3), t (B, 4, 3)
    ordered (R1, t), (R1, -t), (R2, t), (R2, -t) with ``R1 = U W V^T``, ``R2 = U W^T V^T``,
    ``t = U[:, 2]`` (Hartley & Zisserman, result 9.19)."""
    U, _, Vt = np.linalg.svd(E)
    U = U * np.where(np.linalg.det(U) < 0, -1.0, 1.0)[..., None, None]
    Vt = Vt * np.where(np.linalg.det(Vt) < 0, -1.0, 1.0)[..., None, None]
    W = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    R1, R2 = U @ W @ Vt, U @ W.T @ Vt
    t = U[..., :, 2]
    return ((U * np.array([1.0, 1.0, 0.0])) @ Vt, np.stack([R1, R1, R2, R2], axis=-3),
            np.stack([t, -t, t, -t], axis=-2))


def observe_s1(Xw: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """World joints (T, J, 3) mm seen by the Human3.6M S1 rig (official distortion), Gaussian
    pixel noise `noise` px on the distorted pixels, then undistorted: (T, 4, J, 2) px."""
    from posebench.geometry.camera import project, undistort_points, world_to_camera
    from posebench.synth.scenes import h36m_rig

    rig = h36m_rig("S1")
    Xc = world_to_camera(Xw[:, None], rig["R"], rig["t"])
    uv = project(Xc, rig["f"], rig["c"], rig["k"], rig["p"], "h36m")
    uv = uv + rng.normal(size=uv.shape) * noise
    return undistort_points(uv, rig["f"], rig["c"], rig["k"], rig["p"], "h36m")

"""Camera models: world <-> camera transforms and projection with lens distortion.

Conventions (stated once, used everywhere in posebench):
- camera frame: x right, y down, z forward (OpenCV), millimetres;
- extrinsics: world -> camera is ``X_c = R @ X_w + t`` (R (..., 3, 3), t (..., 3) mm);
  the camera centre in world is ``C = -R^T t``;
- pixels: (u, v) with u along x, v along y, origin at the top-left pixel's corner convention of
  the dataset (Human3.6M's calibration is used as published).

Distortion models (k: (..., 3) radial k1..k3, p: (..., 2) tangential):
- ``"h36m"``: the Human3.6M model as VideoPose3D implements it, p in VideoPose3D order
  (p_a, p_b): x' = x (radial + p_a x + p_b y) + p_a r^2, likewise y' with p_b;
- ``"opencv"``: OpenCV's model with p = (p1, p2):
  x' = x radial + 2 p1 x y + p2 (r^2 + 2 x^2), y' = y radial + p1 (r^2 + 2 y^2) + 2 p2 x y;
- ``"none"``: pinhole.
"""

from __future__ import annotations

import numpy as np


def world_to_camera(X_w: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``X_c = R X_w + t``. X_w (..., J, 3) mm, R (..., 3, 3), t (..., 3) -> (..., J, 3) mm."""
    return np.einsum("...ij,...kj->...ki", R, X_w) + np.asarray(t)[..., None, :]


def camera_to_world(X_c: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Inverse of `world_to_camera`: ``X_w = R^T (X_c - t)``."""
    return np.einsum("...ji,...kj->...ki", R, X_c - np.asarray(t)[..., None, :])


def distort(xy: np.ndarray, k: np.ndarray, p: np.ndarray, model: str = "h36m") -> np.ndarray:
    """Apply lens distortion to normalised image coordinates.

    xy (..., J, 2) (x = X/Z, y = Y/Z); k (..., 3); p (..., 2) -> (..., J, 2) distorted.
    """
    if model == "none":
        return xy
    k = np.asarray(k)[..., None, :]
    p = np.asarray(p)[..., None, :]
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    radial = 1 + k[..., 0] * r2 + k[..., 1] * r2**2 + k[..., 2] * r2**3
    if model == "h36m":
        tan = p[..., 0] * x + p[..., 1] * y
        xd = x * (radial + tan) + p[..., 0] * r2
        yd = y * (radial + tan) + p[..., 1] * r2
    elif model == "opencv":
        xd = x * radial + 2 * p[..., 0] * x * y + p[..., 1] * (r2 + 2 * x * x)
        yd = y * radial + p[..., 0] * (r2 + 2 * y * y) + 2 * p[..., 1] * x * y
    else:
        raise ValueError(f"unknown distortion model {model!r}")
    return np.stack([xd, yd], axis=-1)


def project(X_c: np.ndarray, f: np.ndarray, c: np.ndarray, k: np.ndarray | None = None,
            p: np.ndarray | None = None, model: str = "h36m") -> np.ndarray:
    """Project camera-frame points to pixels.

    X_c (..., J, 3) mm; f, c (..., 2) px; k (..., 3); p (..., 2) -> (..., J, 2) px.
    """
    X_c = np.asarray(X_c, dtype=np.float64)
    xy = X_c[..., :2] / X_c[..., 2:3]
    if k is not None and model != "none":
        if p is None:
            p = np.zeros(np.shape(k)[:-1] + (2,))
        xy = distort(xy, k, p, model)
    return xy * np.asarray(f)[..., None, :] + np.asarray(c)[..., None, :]


def project_with_table(X_c: np.ndarray, cameras, camera_index: np.ndarray) -> np.ndarray:
    """Project (N, J, 3) camera-frame mm with the rows `camera_index` (N,) of a CameraTable."""
    ci = np.asarray(camera_index)
    return project(X_c, cameras.f[ci], cameras.c[ci], cameras.k[ci], cameras.p[ci],
                   cameras.distortion)

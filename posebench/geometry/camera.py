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


# ----------------------------------------------------------------------------- intrinsics
def intrinsic_matrix(f: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Pinhole matrices K (..., 3, 3) from focal lengths f (..., 2) px and centres c (..., 2) px."""
    f, c = np.broadcast_arrays(np.asarray(f, dtype=np.float64), np.asarray(c, dtype=np.float64))
    K = np.zeros(f.shape[:-1] + (3, 3))
    K[..., 0, 0], K[..., 1, 1] = f[..., 0], f[..., 1]
    K[..., 0, 2], K[..., 1, 2] = c[..., 0], c[..., 1]
    K[..., 2, 2] = 1.0
    return K


def pixels_to_normalised(uv: np.ndarray, f: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Pinhole pixels (..., J, 2) -> normalised coordinates (x, y) = ((u - cx)/fx, (v - cy)/fy)."""
    return (np.asarray(uv, dtype=np.float64) - np.asarray(c)[..., None, :]) / np.asarray(f)[
        ..., None, :]


def normalised_to_pixels(xy: np.ndarray, f: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Normalised coordinates (..., J, 2) -> pinhole pixels u = f x + c (no distortion)."""
    return np.asarray(xy) * np.asarray(f)[..., None, :] + np.asarray(c)[..., None, :]


# ----------------------------------------------------------------------------- undistortion
def undistort_normalised(xy_d: np.ndarray, k: np.ndarray, p: np.ndarray, model: str = "h36m",
                         iters: int = 20, tol: float = 1e-15) -> np.ndarray:
    """Invert `distort`: distorted normalised (..., J, 2) -> undistorted normalised (..., J, 2).

    Newton's method on ``distort(x) - x_d = 0`` starting at ``x = x_d``, with the 2x2 Jacobian
    from central differences (step 1e-7; the residual itself is exact, so the root is found to
    ~1e-15). Stops early when every update is below `tol`. NaN stays NaN. Points outside the
    region where the model is invertible (far outside the image) may not converge: they come
    back as the last iterate; `project` of the result tells how far off they are.
    """
    xy_d = np.asarray(xy_d, dtype=np.float64)
    if model == "none":
        return xy_d.copy()
    x = xy_d.copy()
    h = 1e-7
    ex, ey = np.array([h, 0.0]), np.array([0.0, h])
    for _ in range(iters):
        r = distort(x, k, p, model) - xy_d
        jx = (distort(x + ex, k, p, model) - distort(x - ex, k, p, model)) / (2 * h)
        jy = (distort(x + ey, k, p, model) - distort(x - ey, k, p, model)) / (2 * h)
        a, b, cc, d = jx[..., 0], jy[..., 0], jx[..., 1], jy[..., 1]  # J = [[a, b], [cc, d]]
        det = a * d - b * cc
        det = np.where(np.abs(det) < 1e-12, 1e-12, det)
        dx = (d * r[..., 0] - b * r[..., 1]) / det
        dy = (-cc * r[..., 0] + a * r[..., 1]) / det
        x = x - np.stack([dx, dy], axis=-1)
        step = np.nanmax(np.abs(np.stack([dx, dy]))) if np.isfinite(dx).any() else 0.0
        if step < tol:
            break
    return x


def undistort_points(uv: np.ndarray, f: np.ndarray, c: np.ndarray, k: np.ndarray | None = None,
                     p: np.ndarray | None = None, model: str = "h36m", *,
                     output: str = "pixels", iters: int = 20) -> np.ndarray:
    """Remove lens distortion from observed pixels (iterative inverse of `project`'s distortion).

    uv (..., J, 2) px as the camera sees them; f, c (..., 2) px; k (..., 3); p (..., 2).
    ``output="pixels"``: ideal pinhole pixels ``f x + c``; ``"normalised"``: (x, y) = (X/Z, Y/Z).
    """
    xy = pixels_to_normalised(uv, f, c)
    if k is not None and model != "none":
        if p is None:
            p = np.zeros(np.shape(k)[:-1] + (2,))
        xy = undistort_normalised(xy, k, p, model, iters=iters)
    if output == "normalised":
        return xy
    if output != "pixels":
        raise ValueError(f"output must be 'pixels' or 'normalised', got {output!r}")
    return normalised_to_pixels(xy, f, c)


def back_project(uv: np.ndarray, depth: np.ndarray, f: np.ndarray, c: np.ndarray,
                 k: np.ndarray | None = None, p: np.ndarray | None = None,
                 model: str = "h36m") -> np.ndarray:
    """Pixels + depth -> camera-frame points: inverse of `project`.

    uv (..., J, 2) px (distorted, as observed); depth (..., J) mm along z; f, c (..., 2);
    k (..., 3); p (..., 2) -> X_c (..., J, 3) mm with ``X_c = (x Z, y Z, Z)``.
    """
    xy = undistort_points(uv, f, c, k, p, model, output="normalised")
    z = np.asarray(depth, dtype=np.float64)[..., None]
    return np.concatenate([xy * z, z], axis=-1)

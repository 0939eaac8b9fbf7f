"""Camera rigs for the synthetic benchmark.

- ``h36m``: the Human3.6M rig from ``posebench/facts/h36m_cameras.json``: 4 cameras with the
  official intrinsics and distortion, extrinsics of the Human3.6M subject a synthetic subject is
  mapped to (`h36m_subject_for`).
- ``ring:N``: N pinhole cameras evenly spaced on a 4.5 m circle at 1.6 m height, looking at the
  capture centre (ablations on the number of views).
- ``moving``: the Human3.6M rig slowly orbiting the capture centre (+-8 degrees, different phase
  per camera): one camera-table row per frame (per-frame geometry).

All tables use world -> camera ``X_c = R X_w + t`` (mm, world z up).
"""

from __future__ import annotations

import numpy as np

from posebench.data.dataset import CameraTable
from posebench.data.h36m_calibration import SUBJECTS as H36M_SUBJECTS
from posebench.data.h36m_calibration import h36m_camera_table, quaternion_to_matrix
from posebench.errors import InputError

quat_to_matrix = quaternion_to_matrix  # (w, x, y, z) -> rotation matrix


def h36m_subject_for(subject: str) -> str:
    """Human3.6M subject whose extrinsics a synthetic subject uses (same name, else cyclic)."""
    if subject in H36M_SUBJECTS:
        return subject
    digits = "".join(ch for ch in subject if ch.isdigit())
    return H36M_SUBJECTS[int(digits or 0) % len(H36M_SUBJECTS)]


def h36m_cameras(subject: str) -> CameraTable:
    """The 4 Human3.6M cameras (official intrinsics + distortion) for a synthetic subject."""
    return h36m_camera_table([h36m_subject_for(subject)], row_ids="camera")


def capture_centre(cameras: CameraTable) -> np.ndarray:
    """(2,) world xy (mm) of the capture-area centre: mean of the camera centres."""
    return cameras.centre[:, :2].mean(0)


def look_at(centres: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World -> camera (R (C,3,3), t (C,3)) of cameras at `centres` looking at `targets`
    (both (C,3) mm, world z up); image y points down (toward -z in world)."""
    z = targets - centres
    z = z / np.linalg.norm(z, axis=-1, keepdims=True)
    down = np.broadcast_to(np.array([0.0, 0.0, -1.0]), z.shape)
    x = np.cross(down, z)
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    y = np.cross(z, x)
    R = np.stack([x, y, z], axis=-2)
    return R, -np.einsum("cij,cj->ci", R, centres)


def pinhole_table(ids, R, t, f, size=1000, distortion_free=True) -> CameraTable:
    """Distortion-free cameras with focal f (C,) px and the principal point at the centre."""
    n = len(ids)
    f = np.broadcast_to(np.asarray(f, float), (n,))
    return CameraTable(ids, np.stack([f, f], -1), np.full((n, 2), size / 2.0), np.zeros((n, 3)),
                       np.zeros((n, 2)), R, t, np.full(n, size), np.full(n, size), "h36m")


def ring_cameras(n: int, centre_xy=(0.0, 0.0), radius: float = 4500.0,
                 height: float = 1600.0) -> CameraTable:
    """`n` cameras evenly spaced on a circle, looking at (centre, 1 m height)."""
    if n < 1:
        raise InputError(f"ring camera count {n} is below 1; expected --cameras ring:N with N>=1.")
    az = 2 * np.pi * np.arange(n) / n
    cx, cy = centre_xy
    centres = np.stack([cx + radius * np.cos(az), cy + radius * np.sin(az), np.full(n, height)], -1)
    targets = np.broadcast_to(np.array([cx, cy, 1000.0]), (n, 3))
    R, t = look_at(centres, targets)
    return pinhole_table([f"ring{i}" for i in range(n)], R, t, 1150.0)


def orbit(cameras: CameraTable, angle: np.ndarray, centre_xy) -> CameraTable:
    """Rotate cameras (rows of `cameras`, broadcast with `angle` (M,) rad) about the vertical
    axis through `centre_xy`; returns M rows: C' = Rz(a)(C - c0) + c0, R' = R Rz(a)^T."""
    a = np.asarray(angle, float)
    c, s = np.cos(a), np.sin(a)
    Rz = np.zeros(a.shape + (3, 3))
    Rz[..., 0, 0], Rz[..., 0, 1], Rz[..., 1, 0], Rz[..., 1, 1] = c, -s, s, c
    Rz[..., 2, 2] = 1.0
    c0 = np.array([centre_xy[0], centre_xy[1], 0.0])
    C_new = np.einsum("mij,mj->mi", Rz, cameras.centre - c0) + c0
    R_new = np.einsum("mij,mkj->mik", cameras.R, Rz)
    t_new = -np.einsum("mij,mj->mi", R_new, C_new)
    return CameraTable(cameras.ids, cameras.f, cameras.c, cameras.k, cameras.p, R_new, t_new,
                       cameras.width, cameras.height, cameras.distortion)


def moving_angles(n_frames: int, n_cams: int, rng: np.random.Generator,
                  amplitude_deg: float = 8.0) -> np.ndarray:
    """(n_frames, n_cams) orbit angles (rad): slow sinusoids, one period per 20-40 s at 25 fps."""
    period = rng.uniform(500, 1000, size=n_cams)
    phase = rng.uniform(0, 2 * np.pi, size=n_cams)
    fr = np.arange(n_frames)[:, None]
    return np.radians(amplitude_deg) * np.sin(2 * np.pi * fr / period + phase)


def parse_cameras(spec: str) -> tuple[str, int]:
    """'h36m' | 'ring:N' | 'moving' -> (kind, n)."""
    if spec == "h36m":
        return "h36m", 4
    if spec == "moving":
        return "moving", 4
    if spec.startswith("ring:"):
        try:
            n = int(spec[5:])
        except ValueError:
            n = 0
        if n >= 1:
            return "ring", n
    raise InputError(f"camera rig '{spec}' is not known; expected h36m, ring:N (N>=1) or moving.")

"""The published Human3.6M calibration shipped with posebench (posebench/facts/h36m_cameras.json).

One place that turns those numbers into a `CameraTable`: the dataset adapters, the synthetic
benchmark's rig and the geometry benchmarks all use it. The JSON stores each camera's
orientation as a unit quaternion (w, x, y, z) rotating camera-frame vectors into the world and
its centre C in world mm; posebench's convention is ``X_c = R X_w + t`` with ``R = R(q)^T`` and
``t = -R C``. Distortion model "h36m" (tangential p in VideoPose3D order).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np

from posebench.data.dataset import CameraTable

#: Subjects with published extrinsics, and the camera ids in the official order.
SUBJECTS = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
CAMERA_IDS = ("54138969", "55011271", "58860488", "60457274")


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (w, x, y, z), normalised here -> (..., 3, 3) rotation matrices."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


@lru_cache(maxsize=1)
def calibration_json() -> dict:
    """The packaged calibration facts (parsed once)."""
    return json.loads(resources.files("posebench").joinpath("facts/h36m_cameras.json")
                      .read_text())


def h36m_camera_table(subjects: tuple[str, ...] | list[str] = SUBJECTS,
                      row_ids: str = "subject.camera") -> CameraTable:
    """Calibration of `subjects` x `CAMERA_IDS` (rows subject-major, camera-minor).

    row_ids: "subject.camera" (e.g. 'S9.54138969', unique across subjects) or "camera"
    (the camera id alone, for a table of one subject).
    """
    cal = calibration_json()
    rows = [(s, c) for s in subjects for c in CAMERA_IDS]
    intr = [cal["intrinsics"][c] for _, c in rows]
    extr = [cal["extrinsics"][s][c] for s, c in rows]
    R = np.swapaxes(quaternion_to_matrix([e["orientation_wxyz_camera_to_world"] for e in extr]),
                    -1, -2)
    t = -np.einsum("cij,cj->ci", R, np.array([e["camera_centre_world_mm"] for e in extr],
                                             dtype=np.float64))
    ids = [f"{s}.{c}" if row_ids == "subject.camera" else c for s, c in rows]

    def field(name):
        return np.array([i[name] for i in intr])

    return CameraTable(np.array(ids), field("focal_length_px"), field("center_px"),
                       field("radial_distortion_k1_k2_k3"),
                       field("tangential_distortion_videopose3d_order"), R, t, field("width"),
                       field("height"), "h36m")

"""Controlled multi-view scenes for geometry tests and benchmarks: the Human3.6M rig (packaged
calibration, `posebench/facts/h36m_cameras.json`) and plausible 17-joint human poses.

Poses are forward kinematics of a standing h36m17 skeleton (bone lengths close to Human3.6M's
subject averages, mm) with random joint rotations: not motion capture, but 3D bodies with
realistic extent and depth, which is what two-view geometry is sensitive to.
"""

from __future__ import annotations

import numpy as np

from posebench.data.h36m_calibration import h36m_camera_table
from posebench.geometry.rotations import rodrigues

#: h36m17 parents and rest-pose bone vectors (mm; world z up, the person faces +y, left is +x).
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
BONES = np.array([
    [0, 0, 0], [-130, 0, 0], [0, 0, -440], [0, 0, -440], [130, 0, 0], [0, 0, -440],
    [0, 0, -440], [0, 10, 230], [0, 0, 250], [0, 40, 110], [0, -20, 115], [150, 0, -20],
    [0, 0, -280], [0, 0, -250], [-150, 0, -20], [0, 0, -280], [0, 0, -250]], dtype=np.float64)
#: standard deviation (rad) of the random rotation of each joint's bone
JOINT_SIGMA = np.array([0.0, 0.15, 0.5, 0.4, 0.15, 0.5, 0.4, 0.25, 0.2, 0.3, 0.2,
                        0.5, 0.9, 0.8, 0.5, 0.9, 0.8])


def h36m_rig(subject: str = "S1") -> dict[str, np.ndarray]:
    """The 4 Human3.6M cameras of `subject`: f, c (4, 2) px, k (4, 3), p (4, 2) (h36m model),
    R (4, 3, 3), t (4, 3) mm with ``X_c = R X_w + t`` (world z up, mm), ids (4,)."""
    cams = h36m_camera_table([subject], row_ids="camera")
    return {"f": cams.f, "c": cams.c, "k": cams.k, "p": cams.p, "R": cams.R, "t": cams.t,
            "ids": cams.ids}


def forward_kinematics(angles: np.ndarray) -> np.ndarray:
    """World joints (..., 17, 3) mm relative to the pelvis from per-joint axis-angle rotations
    angles (..., 17, 3) rad (joint j's rotation turns the bone from its parent, composed down
    the chain; angles[..., 0] is the global body rotation)."""
    Rl = rodrigues(angles)
    Rg = np.empty_like(Rl)
    X = np.zeros(angles.shape[:-2] + (17, 3))
    for j, par in enumerate(PARENTS):
        if par < 0:
            Rg[..., j, :, :] = Rl[..., j, :, :]
            continue
        Rg[..., j, :, :] = Rg[..., par, :, :] @ Rl[..., j, :, :]
        X[..., j, :] = X[..., par, :] + np.einsum("...ij,j->...i", Rg[..., par, :, :], BONES[j])
    return X


def random_sequences(n_sequences: int, n_frames: int, rng: np.random.Generator,
                     area_mm: float = 1500.0) -> np.ndarray:
    """(S, T, 17, 3) world mm: each sequence drifts smoothly from a random base pose
    (random-walk joint angles); half of the sequences walk from one random place of the capture
    area to another, the other half stand (small drift), like Human3.6M's mix of walking and
    in-place actions. Feet stay near the floor (pelvis at 930 mm)."""
    S, T = n_sequences, n_frames
    base = rng.normal(size=(S, 1, 17, 3)) * JOINT_SIGMA[:, None]
    walk = np.cumsum(rng.normal(size=(S, T, 17, 3)) * 0.03, axis=1)
    angles = base + walk
    yaw = rng.uniform(-np.pi, np.pi, size=(S, 1)) + np.cumsum(rng.normal(size=(S, T)) * 0.02, 1)
    angles[..., 0, :] = np.stack([rng.normal(size=(S, T)) * 0.05,
                                  rng.normal(size=(S, T)) * 0.05, yaw], -1)
    start = rng.uniform(-area_mm, area_mm, size=(S, 1, 3))
    end = rng.uniform(-area_mm, area_mm, size=(S, 1, 3))
    walks = rng.random(S) < 0.5
    end = np.where(walks[:, None, None], end, start)
    frac = np.linspace(0.0, 1.0, T)[None, :, None]
    pos = start + frac * (end - start) + np.cumsum(rng.normal(size=(S, T, 3)) * 5, axis=1)
    pos[..., 2] = 930.0
    return forward_kinematics(angles) + pos[..., None, :]

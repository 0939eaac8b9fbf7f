"""Baseline methods behind the `posebench.methods.Method` interface.

mean_pose            the training mean, root-relative camera frame (the trivial answer)
nearest_neighbour    scale-normalised 2D query -> 3D of the closest training sample
simple_baseline      2D -> 3D lifting MLP (Martinez et al. 2017) from GT 2D (or a 2D detector)
triangulation_oracle known cameras + ground-truth 2D (optional noise) -> DLT (the upper bound)
lifting              the residual MLP block shared by SimpleBaseline and the refinement unit
toydata              a tiny multi-camera dataset for tests

The EpipolarPose methods (and SimpleBaseline's EpipolarPose detector) live with the reference
model, `reference_models.epipolarpose.methods`; nothing here imports reference_models.
"""

from __future__ import annotations

import numpy as np

from posebench.skeletons import get_skeleton


def root_index(dataset) -> int:
    """Index of the root joint of `dataset`'s skeleton."""
    return get_skeleton(dataset.skeleton).root


def root_relative(poses: np.ndarray, root: int) -> np.ndarray:
    """(..., J, 3) -> the same poses minus their root joint."""
    poses = np.asarray(poses, dtype=np.float64)
    return poses - poses[..., root:root + 1, :]


def instant_ids(keys) -> np.ndarray:
    """(N,) int: one id per instant (subject, action, subaction, frame) shared by its views."""
    parts = [keys.subject, keys.action, keys.subaction.astype(str), keys.frame.astype(str)]
    joined = parts[0].astype(object)
    for p in parts[1:]:
        joined = joined + "|" + p.astype(object)
    return np.unique(joined.astype(str), return_inverse=True)[1].reshape(-1)

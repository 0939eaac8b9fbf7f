"""Input checks shared by the reference and the batched metrics: one-sentence `InputError`s.

Poses are ``(..., J, 3)`` arrays in millimetres; the checks never copy data except where they
say so.
"""

from __future__ import annotations

import numpy as np

from posebench.errors import InputError

#: The two N-MPJPE scale estimates (see `posebench.metrics.reference.n_mpjpe`).
N_MPJPE_SCALES = ("least_squares", "procrustes")


def _check_pose_shape(shape: tuple) -> None:
    if len(shape) < 2 or shape[-1] != 3:
        raise InputError(
            f"poses have shape {shape}; expected (..., J, 3) millimetres; reshape to "
            "(samples, joints, 3)."
        )


def check_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Validate two pose arrays of equal shape ``(..., J, 3)``; return ``(N, J, 3)`` views and
    the leading batch shape."""
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise InputError(
            f"predictions have shape {pred.shape} but ground truth has shape {gt.shape}; expected "
            "equal shapes (..., J, 3); select the same samples and joints for both."
        )
    _check_pose_shape(pred.shape)
    lead = pred.shape[:-2]
    j = pred.shape[-2]
    return pred.reshape(-1, j, 3), gt.reshape(-1, j, 3), lead


def check_poses(poses: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Validate one pose array ``(..., J, 3)``; return an ``(N, J, 3)`` view and the batch shape."""
    poses = np.asarray(poses)
    _check_pose_shape(poses.shape)
    return poses.reshape(-1, poses.shape[-2], 3), poses.shape[:-2]


def float_poses(poses: np.ndarray) -> np.ndarray:
    """`check_poses`, keeping the shape ``(..., J, 3)``: float64 (a copy where needed)."""
    check_poses(poses)
    return np.asarray(poses, dtype=np.float64)


def float_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`check_pair`, keeping the shape ``(..., J, 3)``: both float64 (copies where needed)."""
    check_pair(pred, gt)
    return np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)


def check_root(root: int | None, num_joints: int, allow_none: bool = True) -> None:
    """Raise unless `root` indexes one of `num_joints` joints (or is None, where allowed)."""
    if root is None and allow_none:
        return
    if root is None or not -num_joints <= root < num_joints:
        alternatives = " or None" if allow_none else ""
        raise InputError(
            f"root joint {root} is out of range for poses with {num_joints} joints; expected "
            f"0..{num_joints - 1}{alternatives}; pass the skeleton's root index."
        )


def check_n_mpjpe_scale(scale: str) -> None:
    """Raise unless `scale` is one of `N_MPJPE_SCALES`."""
    if scale not in N_MPJPE_SCALES:
        raise InputError(
            f"N-MPJPE scale '{scale}' is unknown; expected one of {', '.join(N_MPJPE_SCALES)}; "
            "pick 'least_squares' (Rhodin / VideoPose3D) or 'procrustes' (EpipolarPose)."
        )

"""2D affine maps of image points: the crop affines of the rendered and cropped datasets.

A crop affine A (..., 2, 3) maps full-image px to crop px: ``crop = A[:, :2] img + A[:, 2]``
(``crop_affine`` of a `PoseDataset`; `posebench.synth.render.crop_affines`).
"""

from __future__ import annotations

import numpy as np


def apply_affine(A: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Points uv (..., J, 2) px through affines A (..., 2, 3) -> (..., J, 2) px."""
    return np.einsum("...ij,...kj->...ki", A[..., :2], uv) + A[..., None, :, 2]


def invert_affine(A: np.ndarray) -> np.ndarray:
    """Inverse affines (..., 2, 3) of A (..., 2, 3) (e.g. crop px -> full-image px)."""
    lin = np.linalg.inv(A[..., :2])
    return np.concatenate([lin, -np.einsum("...ij,...j->...i", lin, A[..., 2])[..., None]],
                          axis=-1)

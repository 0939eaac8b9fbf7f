"""Anchor-specific variants of the per-pose errors, named after what they do.

- `p_mpjpe_rerooted`: EpipolarPose (lib/dataset/h36m.py evaluate) fits the similarity
  transform, then re-centres the ALIGNED prediction and the ground truth on the root joint
  before the per-joint distance; the aligned root's residual is thus moved onto every joint.
- `n_mpjpe_given_frame`: mmpose ``keypoint_mpjpe(alignment='scale')``: one least-squares scale
  <P, G> / <P, P> fitted on the poses as given (camera frame, not root-centred), no centring.

Both take ``(..., J, 3)`` mm and return ``(...)`` mm, numpy only.
"""

from __future__ import annotations

import numpy as np

from posebench.metrics.alignment import check_pair, similarity_align


def _mean_norm(d: np.ndarray) -> np.ndarray:
    return np.sqrt((d * d).sum(-1)).mean(-1)


def p_mpjpe_rerooted(pred: np.ndarray, gt: np.ndarray, root: int) -> np.ndarray:
    """MPJPE after the similarity alignment of `pred` onto `gt`, with the aligned prediction and
    the ground truth both re-centred on joint `root` afterwards, per pose ``(...)`` mm."""
    p, g, lead = check_pair(pred, gt)
    p, g = p.astype(np.float64), g.astype(np.float64)
    a = similarity_align(p, g)
    a = a - a[:, root:root + 1]
    gc = g - g[:, root:root + 1]
    return _mean_norm(a - gc).reshape(lead)


def n_mpjpe_given_frame(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """MPJPE of ``s * pred`` vs `gt` with s = <pred, gt> / <pred, pred> over the poses as given
    (no centring), per pose ``(...)`` mm; 0-spread predictions give s = 0."""
    p, g, lead = check_pair(pred, gt)
    p, g = p.astype(np.float64), g.astype(np.float64)
    pp = (p * p).sum((1, 2))
    s = np.where(pp > 0, (p * g).sum((1, 2)) / np.where(pp > 0, pp, 1.0), 0.0)
    return _mean_norm(s[:, None, None] * p - g).reshape(lead)

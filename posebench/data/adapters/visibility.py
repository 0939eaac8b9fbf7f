"""Visibility flags of 2D labels: a joint its file marks as not visible has no 2D position.

mmpose's Human3.6M and MPI-INF-3DHP files carry ``part`` (N, J, 3): pixels plus a flag. On the
real 3DHP test sample the joints flagged 0 are exactly those projecting outside the image
(x = -20 and -10 px), so flag 0 means "not in the image": their 2D becomes NaN, which every 2D
consumer (geometry, crops, lifting inputs) already treats as a missing joint. The 3D ground
truth is kept: the anchors score every joint in 3D whatever its 2D flag.
"""

from __future__ import annotations

import numpy as np


def visible_2d(part: np.ndarray) -> tuple[np.ndarray, int]:
    """``part`` (N, J, 2 or 3) px [+ flag] -> ((N, J, 2) float64 px with NaN where the flag is 0,
    number of joints so masked). Without a flag column every joint is kept."""
    part = np.asarray(part)
    uv = part[..., :2].astype(np.float64)
    if part.shape[-1] < 3:
        return uv, 0
    hidden = part[..., 2] <= 0
    uv[hidden] = np.nan
    return uv, int(hidden.sum())

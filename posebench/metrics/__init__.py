"""posebench metrics: pure numpy, batched over leading dimensions, float64, no torch.

What each metric means is defined in `posebench.metrics.reference` (one short function per
metric, VideoPose3D-style: `reference.mpjpe`, `reference.p_mpjpe`, `reference.n_mpjpe`,
`reference.pck`, `reference.auc`, `reference.mpjve`, `reference.procrustes`, ...). The names
exported here compute the same numbers several times faster (tested equal to 1e-9 mm):

Per-pose errors (``(..., J, 3)`` mm in, ``(...)`` out): `mpjpe`, `p_mpjpe`, `n_mpjpe`, `pck`,
`auc`, `per_joint_errors` (``(..., J)``), `mpjve`, the anchor variants `p_mpjpe_rerooted`
(EpipolarPose) and `n_mpjpe_given_frame` (mmpose); `pose_errors` computes several of them in
one faster pass. Alignment: `root_centre`, `rigid_align`, `similarity_align`,
`scale_least_squares`, `procrustes_scale`. Aggregation (an explicit choice): `aggregate`,
`group_means`, `joint_means`. Pose Structure Score: `PoseStructureScore` (several models at
once: `posebench.metrics.pss.scores`). Uncertainty: `bootstrap_ci`.
"""

from posebench.metrics import reference
from posebench.metrics.aggregate import aggregate, group_means, joint_means
from posebench.metrics.alignment import (
    procrustes_scale,
    rigid_align,
    scale_least_squares,
    similarity_align,
)
from posebench.metrics.bootstrap import bootstrap_ci
from posebench.metrics.errors import (
    auc,
    mpjpe,
    mpjve,
    n_mpjpe,
    p_mpjpe,
    p_mpjpe_rerooted,
    pck,
    per_joint_errors,
    pose_errors,
)
from posebench.metrics.pss import PoseStructureScore
from posebench.metrics.reference import n_mpjpe_given_frame, root_centre

__all__ = [
    "PoseStructureScore",
    "aggregate",
    "auc",
    "bootstrap_ci",
    "group_means",
    "joint_means",
    "mpjpe",
    "mpjve",
    "n_mpjpe",
    "n_mpjpe_given_frame",
    "p_mpjpe",
    "p_mpjpe_rerooted",
    "pck",
    "per_joint_errors",
    "pose_errors",
    "procrustes_scale",
    "reference",
    "rigid_align",
    "root_centre",
    "scale_least_squares",
    "similarity_align",
]

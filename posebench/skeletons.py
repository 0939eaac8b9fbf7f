"""Joint sets: names, parents, left/right pairs, root, and mappings between them by name.

Every skeleton carries *canonical* joint names shared across datasets, so that a mapping
between two skeletons is a lookup by name (`mapping("h36m17", "mpii16")`). The dataset's own
labels are kept in `official_names`.

Canonical correspondences (public conventions, see shared/facts/skeletons.md):
  Human3.6M 8 "Neck" (thorax)      == MPI-INF-3DHP "neck"  == MPII "thorax"  -> "thorax"
  Human3.6M 9 "Head" (neck/nose)   == MPI-INF-3DHP "head"  == MPII "upper neck" -> "neck"
  Human3.6M 10 "Site" (head top)   == MPI-INF-3DHP "head_top" == MPII "head top" -> "head_top"
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posebench.errors import InputError


@dataclass(frozen=True)
class Skeleton:
    """A joint set. `parents[j]` is the parent index of joint j (-1 for the root)."""

    name: str
    names: tuple[str, ...]
    official_names: tuple[str, ...]
    parents: tuple[int, ...]
    root: int
    description: str = ""

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def index(self, joint: str) -> int:
        """Index of a canonical joint name."""
        try:
            return self.names.index(joint)
        except ValueError:
            raise InputError(
                f"joint '{joint}' is not in skeleton {self.name}; expected one of "
                f"{', '.join(self.names)}; use a canonical joint name."
            ) from None

    @property
    def flip_pairs(self) -> tuple[tuple[int, int], ...]:
        """(left, right) index pairs, matched by the l_/r_ prefix of canonical names."""
        pairs = []
        for i, n in enumerate(self.names):
            if n.startswith("l_") and ("r_" + n[2:]) in self.names:
                pairs.append((i, self.names.index("r_" + n[2:])))
        return tuple(pairs)

    @property
    def left(self) -> tuple[int, ...]:
        return tuple(i for i, n in enumerate(self.names) if n.startswith("l_"))

    @property
    def right(self) -> tuple[int, ...]:
        return tuple(i for i, n in enumerate(self.names) if n.startswith("r_"))

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(parent, child) pairs."""
        return tuple((p, c) for c, p in enumerate(self.parents) if p >= 0)

    def flip_permutation(self) -> np.ndarray:
        """(J,) permutation that swaps left and right joints."""
        perm = np.arange(self.num_joints)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm


_H36M_NAMES = (
    "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine", "thorax",
    "neck", "head_top", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
)
_H36M_OFFICIAL = (
    "Hips", "RightUpLeg", "RightLeg", "RightFoot", "LeftUpLeg", "LeftLeg", "LeftFoot", "Spine1",
    "Neck", "Head", "Site", "LeftArm", "LeftForeArm", "LeftHand", "RightArm", "RightForeArm",
    "RightHand",
)
_H36M_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)

#: Indices of the 17 evaluated joints among Human3.6M's 32 motion-capture joints.
H36M_32_TO_17 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)

_MPII_NAMES = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax", "neck",
    "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
)
_MPII_OFFICIAL = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
    "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow",
    "l_wrist",
)

_3DHP_NAMES = (
    "head_top", "thorax", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "pelvis", "spine", "neck",
)
_3DHP_OFFICIAL = (
    "head_top", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
    "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
    "left_ankle", "pelvis", "spine", "head",
)

#: MPI-INF-3DHP training annot.mat: 28 joints; the 17 test joints are these indices.
MPI3DHP_28_NAMES = (
    "spine3", "spine4", "spine2", "spine", "pelvis", "neck", "head", "head_top", "l_clavicle",
    "l_shoulder", "l_elbow", "l_wrist", "l_hand", "r_clavicle", "r_shoulder", "r_elbow",
    "r_wrist", "r_hand", "l_hip", "l_knee", "l_ankle", "l_foot", "l_toe", "r_hip", "r_knee",
    "r_ankle", "r_foot", "r_toe",
)
MPI3DHP_28_TO_17 = (7, 5, 14, 15, 16, 9, 10, 11, 23, 24, 25, 18, 19, 20, 4, 3, 6)

# Parent structure of the canonical body (child -> parent), used to derive the parents of any
# subset: a joint's parent is its nearest ancestor present in the subset.
_CANONICAL_PARENT = {
    "pelvis": None, "r_hip": "pelvis", "r_knee": "r_hip", "r_ankle": "r_knee",
    "l_hip": "pelvis", "l_knee": "l_hip", "l_ankle": "l_knee", "spine": "pelvis",
    "thorax": "spine", "neck": "thorax", "head_top": "neck", "l_shoulder": "thorax",
    "l_elbow": "l_shoulder", "l_wrist": "l_elbow", "r_shoulder": "thorax",
    "r_elbow": "r_shoulder", "r_wrist": "r_elbow",
}


def _parents_for(names: tuple[str, ...]) -> tuple[int, ...]:
    out = []
    for n in names:
        p = _CANONICAL_PARENT[n]
        while p is not None and p not in names:
            p = _CANONICAL_PARENT[p]
        out.append(-1 if p is None else names.index(p))
    return tuple(out)


def _subset(name: str, names: tuple[str, ...], official: tuple[str, ...] | None = None,
            description: str = "") -> Skeleton:
    return Skeleton(name, names, official or names, _parents_for(names),
                    names.index("pelvis") if "pelvis" in names else 0, description)


SKELETONS: dict[str, Skeleton] = {
    "h36m17": Skeleton("h36m17", _H36M_NAMES, _H36M_OFFICIAL, _H36M_PARENTS, 0,
                       "Human3.6M 17 joints (VideoPose3D / mmpose order), root pelvis"),
    "mpii16": _subset("mpii16", _MPII_NAMES, _MPII_OFFICIAL,
                      "MPII 16 joints, EpipolarPose self-supervised order, root pelvis (Hip)"),
    "3dhp17": _subset("3dhp17", _3DHP_NAMES, _3DHP_OFFICIAL,
                      "MPI-INF-3DHP test set 17 joints, root pelvis (index 14)"),
    "h36m14": _subset("h36m14", tuple(n for n in _H36M_NAMES
                                      if n not in ("pelvis", "spine", "neck")),
                      description="Human3.6M without pelvis, spine, neck/nose (14 joints)"),
    "3dhp14": _subset("3dhp14", tuple(n for n in _3DHP_NAMES
                                      if n not in ("pelvis", "spine", "neck")),
                      description="MPI-INF-3DHP 14 joints: the 17 without head, spine, pelvis"),
}
# A subset without pelvis: root is the thorax (only for joint selection, not centring).
for _k in ("h36m14", "3dhp14"):
    _s = SKELETONS[_k]
    SKELETONS[_k] = Skeleton(_s.name, _s.names, _s.official_names, _s.parents,
                             _s.names.index("thorax"), _s.description)


def get_skeleton(name: str) -> Skeleton:
    """Look up a skeleton by name (h36m17, mpii16, 3dhp17, h36m14, 3dhp14)."""
    try:
        return SKELETONS[name]
    except KeyError:
        raise InputError(
            f"unknown skeleton '{name}'; expected one of {', '.join(SKELETONS)}; "
            "pick one of those names."
        ) from None


def mapping(src: str | Skeleton, dst: str | Skeleton) -> np.ndarray:
    """Indices into `src` joints giving `dst`'s joints in order, matched by canonical name.

    >>> mapping("h36m17", "mpii16").tolist()
    [3, 2, 1, 4, 5, 6, 0, 8, 9, 10, 16, 15, 14, 11, 12, 13]
    """
    s = get_skeleton(src) if isinstance(src, str) else src
    d = get_skeleton(dst) if isinstance(dst, str) else dst
    missing = [n for n in d.names if n not in s.names]
    if missing:
        raise InputError(
            f"skeleton {s.name} has no joint(s) {', '.join(missing)} needed by {d.name}; "
            f"expected a source skeleton containing all of {d.name}'s joints; "
            "evaluate on a joint subset the source provides."
        )
    return np.array([s.names.index(n) for n in d.names], dtype=np.int64)


def convert(poses: np.ndarray, src: str | Skeleton, dst: str | Skeleton) -> np.ndarray:
    """Re-order / subset `(..., J_src, C)` poses into `dst`'s joint order `(..., J_dst, C)`,
    a new C-contiguous array (``poses[..., idx, :]`` would lay it out joint-major: every
    later reshape, hash or row block of it would copy)."""
    return np.take(np.asarray(poses), mapping(src, dst), axis=-2)

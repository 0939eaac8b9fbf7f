"""Evaluation protocols as data: which samples, which joints, which alignment and aggregation.

A protocol selects rows of a dataset split (subjects, frame stride, validity, named
exclusions), keeps them in the split's canonical order (that order is what a predictions
file's `index` refers to), maps joints to the evaluation skeleton by canonical name, and says
how per-sample errors are aggregated. Every result records `Protocol.to_dict()` in full.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from posebench.errors import InputError


@dataclass(frozen=True)
class Protocol:
    """An evaluation protocol.

    name            registry name, e.g. "h36m-p1"
    dataset_kind    dataset kind it applies to ("h36m", "3dhp", "synth", or "*")
    split           split scored ("test")
    subjects        subjects kept (None: all subjects of the split)
    frame_stride    keep frames with frame % frame_stride == frame_offset
    frame_offset    see frame_stride
    cameras         cameras kept (None: all)
    valid_only      drop samples whose `valid` flag is False (MPI-INF-3DHP valid_frame)
    exclusions      names of dataset-defined exclusions applied (see posebench.data.exclusions)
    eval_skeleton   joints scored, as a skeleton name (joints mapped by canonical name)
    root            canonical name of the root joint used for centring
    aggregation     "frame" (mean over samples) or "action" (mean over per-action means)
    n_mpjpe_scale   "least_squares" (Rhodin) or "procrustes" (EpipolarPose variant)
    pck_threshold   mm, strict <
    auc_thresholds  (start, stop, step) mm for AUC, inclusive stop: 0:5:150
    metrics         metric names reported by default
    ground_truth    which 3D ground truth: "poses_3d" or an extra array (e.g. "univ_poses_3d")
    source          where the rules come from (paper / code), for the record
    """

    name: str
    description: str
    dataset_kind: str = "*"
    split: str = "test"
    subjects: tuple[str, ...] | None = None
    frame_stride: int = 1
    frame_offset: int = 0
    cameras: tuple[str, ...] | None = None
    valid_only: bool = False
    exclusions: tuple[str, ...] = ()
    eval_skeleton: str = "h36m17"
    root: str = "pelvis"
    aggregation: str = "frame"
    n_mpjpe_scale: str = "least_squares"
    pck_threshold: float = 150.0
    auc_thresholds: tuple[float, float, float] = (0.0, 150.0, 5.0)
    metrics: tuple[str, ...] = ("mpjpe", "p_mpjpe", "n_mpjpe", "pck", "auc", "pss@50", "pss@100")
    ground_truth: str = "poses_3d"
    source: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d

    def select(self, dataset) -> np.ndarray:
        """Indices (canonical order, ascending) of `dataset` rows this protocol scores."""
        from posebench.data.exclusions import exclusion_mask

        keys = dataset.keys
        keep = np.ones(len(dataset), dtype=bool)
        if self.subjects is not None:
            keep &= np.isin(keys.subject, np.asarray(self.subjects))
        if self.cameras is not None:
            keep &= np.isin(keys.camera, np.asarray(self.cameras))
        if self.frame_stride > 1:
            keep &= (keys.frame % self.frame_stride) == self.frame_offset
        if self.valid_only and dataset.valid is not None:
            keep &= np.asarray(dataset.valid, dtype=bool)
        for name in self.exclusions:
            keep &= ~exclusion_mask(dataset, name)
        return np.flatnonzero(keep)


PROTOCOLS: dict[str, Protocol] = {}


def register_protocol(p: Protocol) -> Protocol:
    """Add a protocol to the registry (name must be new)."""
    if p.name in PROTOCOLS:
        raise ValueError(f"protocol {p.name} registered twice")
    PROTOCOLS[p.name] = p
    return p


def get_protocol(name: str) -> Protocol:
    _load_presets()
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise InputError(f"unknown protocol '{name}'; expected one of {', '.join(PROTOCOLS)}; "
                         "see `posebench protocols`.") from None


def list_protocols() -> list[Protocol]:
    _load_presets()
    return list(PROTOCOLS.values())


def default_protocol(dataset_kind: str) -> Protocol:
    """The protocol `posebench eval` uses when none is given, per dataset kind."""
    _load_presets()
    defaults = {"h36m": "h36m-p1", "3dhp": "3dhp-official", "synth": "synth"}
    return PROTOCOLS[defaults.get(dataset_kind, "all-frames")]


def _load_presets() -> None:
    import posebench.data.h36m_exclusions  # noqa: F401  (registers named exclusions)
    import posebench.data.presets  # noqa: F401  (registers on import)

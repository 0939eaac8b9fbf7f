"""One evaluation protocol as data: which samples, which joints, which alignment and aggregation.

A protocol selects rows of a dataset split (subjects, frame stride, validity, named
exclusions), keeps them in the split's canonical order (that order is what a predictions
file's `index` refers to), maps joints to the evaluation skeleton by canonical name, and says
how per-sample errors are aggregated. Every result records `Protocol.to_dict()` in full.
The registry of named protocols is `posebench.data.protocols`; the anchors' presets are
`posebench.data.presets`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from posebench.data.exclusions import exclusion_mask
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
    source          where the rules come from (paper / code, file:line), for the record

    Anchor arithmetic (named options, recorded in every result):
    gt_root_zeroing only the ground truth is centred on `root`; the prediction is scored as
                    given, so it must be root-relative (VideoPose3D run.py, MPI-INF-3DHP
                    mpii_test_predictions.m); False: both poses are centred on `root`
    p_mpjpe_reroot_after_alignment  after the similarity fit, re-centre the ALIGNED prediction
                    and the ground truth on `root` before the per-joint distance (EpipolarPose)
    n_mpjpe_frame   "root_centred": scale fitted on root-centred poses; "camera": the prediction
                    is placed on the ground-truth root and the scale is fitted on camera-frame
                    poses (mmpose keypoint_mpjpe(alignment='scale'))
    pck_joints      canonical names of the joints PCK and AUC pool over (None: all scored
                    joints); MPI-INF-3DHP's joint groups cover 14 of its 17 joints
    source_frame_step  frame step of the source the anchor scores (1: every 50 fps Human3.6M
                    frame); a dataset holding a sparser source is refused
    require_subjects   refuse a split that lacks any of `subjects`
    expected_samples   number of samples the anchor scores (None: the anchor fixes none)
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
    gt_root_zeroing: bool = False
    p_mpjpe_reroot_after_alignment: bool = False
    n_mpjpe_frame: str = "root_centred"
    pck_joints: tuple[str, ...] | None = None
    source_frame_step: int | None = None
    require_subjects: bool = False
    expected_samples: int | None = None
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
        keys = dataset.keys
        keep = np.ones(len(dataset), dtype=bool)
        if self.subjects is not None:
            keep &= np.isin(keys.subject, np.asarray(self.subjects))
        if self.cameras is not None:
            keep &= np.isin(keys.camera, np.asarray(self.cameras))
        if self.frame_stride > 1:
            keep &= (keys.frame % self.frame_stride) == self.frame_offset
        if self.valid_only:
            if dataset.valid is None:
                raise InputError(f"protocol {self.name} scores valid frames only but dataset "
                                 f"'{dataset.name}' split '{dataset.split}' has no valid-frame "
                                 "flags; expected a `valid` array; re-run `posebench data "
                                 "prepare` with an adapter that keeps them.")
            keep &= np.asarray(dataset.valid, dtype=bool)
        for name in self.exclusions:
            keep &= ~exclusion_mask(dataset, name)
        return np.flatnonzero(keep)


def source_frame_step(dataset) -> int:
    """Frame step of a dataset's source: gcd of the frame-number gaps within each sequence
    (1 for every 50 fps Human3.6M frame, 5 for mmpose's fps10 annotations)."""
    k = dataset.keys
    if len(k) < 2:
        return 1
    seq = np.zeros(len(k), dtype=np.uint64)
    rng = np.random.default_rng(0)  # fixed weights: a 64-bit hash of the sequence key
    for col in (k.subject, k.action, k.subaction, k.camera):
        a = np.ascontiguousarray(col)
        words = a.view(np.uint32 if a.dtype.kind == "U" else np.uint8).reshape(len(a), -1)
        w = rng.integers(1, 2 ** 63, words.shape[1], dtype=np.uint64)
        with np.errstate(over="ignore"):
            seq = seq * np.uint64(1000003) + (words.astype(np.uint64) * w).sum(1, dtype=np.uint64)
    frame = np.asarray(k.frame, dtype=np.int64)
    order = np.lexsort((frame, seq))
    same = seq[order][1:] == seq[order][:-1]
    gaps = np.diff(frame[order])[same]
    gaps = gaps[gaps > 0]
    return int(np.gcd.reduce(gaps)) if gaps.size else 1


def check_applicable(protocol: Protocol, dataset, rows: np.ndarray) -> None:
    """Refuse (InputError, one sentence) a dataset the protocol cannot score as its anchor does:
    a sparser source than the anchor's, missing test subjects, a sample count other than the one
    the anchor fixes, a missing ground-truth array. Valid-frame flags are checked by `select`."""
    if protocol.source_frame_step is not None:
        step = source_frame_step(dataset)
        if step != protocol.source_frame_step:
            raise InputError(f"protocol {protocol.name} scores every {protocol.source_frame_step}"
                             f"-th frame of its source but dataset '{dataset.name}' holds every "
                             f"{step}-th frame only (e.g. mmpose's annotation_body3d/fps10); "
                             "expected the full 50 fps annotations; prepare the dataset from "
                             "annotation_body3d/fps50 (or the original CDF files).")
    if protocol.ground_truth != "poses_3d" and protocol.ground_truth not in dataset.extra:
        raise InputError(f"dataset '{dataset.name}' has no ground-truth array "
                         f"'{protocol.ground_truth}' that protocol {protocol.name} scores "
                         "against; expected it among the split's arrays; prepare the dataset "
                         "from a source that has it (MPI-INF-3DHP: the official .mat files "
                         "with univ_annot3), or score another array explicitly with "
                         "--ground-truth poses_3d (a distinct protocol name).")
    if protocol.require_subjects and protocol.subjects is not None:
        have = set(np.unique(dataset.keys.subject).tolist())
        missing = [s for s in protocol.subjects if s not in have]
        if missing:
            raise InputError(f"protocol {protocol.name} scores subjects "
                             f"{', '.join(protocol.subjects)} but dataset '{dataset.name}' split "
                             f"'{dataset.split}' lacks {', '.join(missing)}; expected all of "
                             "them; prepare the dataset with those subjects.")
    if protocol.expected_samples is not None and len(rows) != protocol.expected_samples:
        raise InputError(f"protocol {protocol.name} scores {protocol.expected_samples} samples "
                         f"but dataset '{dataset.name}' gives {len(rows)}; expected the anchor's "
                         "full test set; prepare the complete dataset.")


def with_ground_truth(protocol: Protocol, ground_truth: str | None) -> Protocol:
    """The protocol scored against another ground-truth array, under a DISTINCT name
    (``NAME+gt=ARRAY``) and therefore a distinct fingerprint; the protocol itself when
    `ground_truth` is None or its own."""
    if ground_truth is None or ground_truth == protocol.ground_truth:
        return protocol
    return replace(protocol, name=f"{protocol.name}+gt={ground_truth}",
                   ground_truth=str(ground_truth),
                   description=f"{protocol.description} Scored against '{ground_truth}' "
                               f"instead of '{protocol.ground_truth}' (user choice).")

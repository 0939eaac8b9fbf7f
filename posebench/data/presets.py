"""Protocol presets: how each anchor paper / codebase scores, as data.

Each preset names its `source` so a user can match a published number. Rules shared by all:
both poses are root-centred at `root` (in the prediction's / dataset's own skeleton) before
MPJPE, PCK and AUC; the joints of `eval_skeleton` are then selected by canonical name.

`extra` keys read by `posebench.evaluation`:
    headline               metric shown first / used by leaderboards (default "mpjpe")
    breakdowns             per-group tables always reported, e.g. ("subject", "action", "scene")
    ground_truth_fallback  array used when `ground_truth` is absent from the dataset
"""

from __future__ import annotations

from posebench.data.protocols import Protocol, register_protocol

H36M_TEST_SUBJECTS = ("S9", "S11")
_ALL = ("mpjpe", "p_mpjpe", "n_mpjpe", "pck", "auc", "pss@50", "pss@100")
_P_FIRST = ("p_mpjpe", "mpjpe", "n_mpjpe", "pck", "auc", "pss@50", "pss@100")
_PCK_FIRST = ("pck", "auc", "mpjpe", "p_mpjpe", "n_mpjpe", "pss@50", "pss@100")

register_protocol(Protocol(
    name="all-frames",
    description="Every sample of the test split, 17 joints in Human3.6M order, frame-wise mean.",
    dataset_kind="*",
    aggregation="frame",
    source="posebench generic protocol (no anchor).",
    extra={"headline": "mpjpe"},
))

register_protocol(Protocol(
    name="synth",
    description="Embedded synthetic benchmark: test split, all frames, Human3.6M-17 joints, "
                "frame-wise mean.",
    dataset_kind="synth",
    eval_skeleton="h36m17",
    aggregation="frame",
    source="posebench default for the embedded synthetic multi-view benchmark.",
    extra={"headline": "mpjpe"},
))

register_protocol(Protocol(
    name="h36m-p1",
    description="Human3.6M Protocol #1 (VideoPose3D): S9+S11, all frames, 17 joints, MPJPE "
                "averaged per action, then over actions.",
    dataset_kind="h36m",
    subjects=H36M_TEST_SUBJECTS,
    eval_skeleton="h36m17",
    aggregation="action",
    metrics=_ALL,
    source="Pavllo et al., CVPR 2019 (VideoPose3D), Protocol #1: MPJPE after root "
           "alignment, test subjects S9 and S11, mean of per-action errors.",
    extra={"headline": "mpjpe"},
))

register_protocol(Protocol(
    name="h36m-p2",
    description="Human3.6M Protocol #2 (VideoPose3D): as h36m-p1 with P-MPJPE (similarity "
                "Procrustes alignment) as the headline number.",
    dataset_kind="h36m",
    subjects=H36M_TEST_SUBJECTS,
    eval_skeleton="h36m17",
    aggregation="action",
    metrics=_P_FIRST,
    source="Pavllo et al., CVPR 2019 (VideoPose3D), Protocol #2: P-MPJPE (scale, rotation, "
           "translation aligned), S9 and S11, mean of per-action errors.",
    extra={"headline": "p_mpjpe"},
))

register_protocol(Protocol(
    name="h36m-every64",
    description="EpipolarPose / Integral test set: S9+S11, every 64th frame (frame % 64 == 0), "
                "17 joints, frame-wise mean; N-MPJPE with the Procrustes similarity scale.",
    dataset_kind="h36m",
    subjects=H36M_TEST_SUBJECTS,
    frame_stride=64,
    frame_offset=0,
    eval_skeleton="h36m17",
    aggregation="frame",
    n_mpjpe_scale="procrustes",
    source="Kocabas et al., CVPR 2019 (EpipolarPose) official code, after Sun et al. 2018 "
           "(Integral): test S9, S11 every 64th frame; N-MPJPE uses the scale of the "
           "Procrustes similarity fit.",
    extra={"headline": "mpjpe"},
))

register_protocol(Protocol(
    name="h36m-every64-mpii16",
    description="EpipolarPose self-supervised scoring: every 64th S9+S11 frame, 16 joints in "
                "MPII order (no spine), root pelvis (Hip), frame-wise mean.",
    dataset_kind="h36m",
    subjects=H36M_TEST_SUBJECTS,
    frame_stride=64,
    frame_offset=0,
    eval_skeleton="mpii16",
    root="pelvis",
    aggregation="frame",
    n_mpjpe_scale="procrustes",
    source="Kocabas et al., CVPR 2019 (EpipolarPose) official code: self-supervised models "
           "are scored on 16 MPII-order joints (root = Hip) although the metric is named "
           "17-joint.",
    extra={"headline": "mpjpe"},
))

register_protocol(Protocol(
    name="h36m-mmpose",
    description="mmpose Human3.6M test scoring: S9+S11, every test frame of the 50 fps "
                "annotations, 17 joints, frame-wise mean.",
    dataset_kind="h36m",
    subjects=H36M_TEST_SUBJECTS,
    eval_skeleton="h36m17",
    aggregation="frame",
    source="open-mmlab/mmpose 1.x configs/body_3d_keypoint/pose_lift/h36m (e.g. "
           "pose-lift_simplebaseline3d_8xb64-200e_h36m.py): test set "
           "annotation_body3d/fps50/h36m_test.npz with seq_len=1 and no frame stride, MPJPE "
           "metric averaged over all samples.",
    extra={"headline": "mpjpe"},
))

register_protocol(Protocol(
    name="3dhp-official",
    description="MPI-INF-3DHP official test scoring: valid frames of TS1-TS6, universal "
                "(height-normalised) ground truth, 17 joints, PCK@150 mm and AUC 0:5:150 mm.",
    dataset_kind="3dhp",
    valid_only=True,
    eval_skeleton="3dhp17",
    root="pelvis",
    aggregation="frame",
    metrics=_PCK_FIRST,
    ground_truth="univ_poses_3d",
    source="Mehta et al., 3DV 2017 (MPI-INF-3DHP) official test evaluation: valid_frame only, "
           "univ_annot3, 17 joints, PCK strict < 150 mm, AUC over thresholds 0:5:150 mm.",
    extra={"headline": "pck", "breakdowns": ("subject", "action", "scene"),
           "ground_truth_fallback": "poses_3d"},
))

register_protocol(Protocol(
    name="3dhp-14",
    description="MPI-INF-3DHP, widely copied 14-joint variant: as 3dhp-official without "
                "head, spine and pelvis (centred at the pelvis before dropping it).",
    dataset_kind="3dhp",
    valid_only=True,
    eval_skeleton="3dhp14",
    root="pelvis",
    aggregation="frame",
    metrics=_PCK_FIRST,
    ground_truth="univ_poses_3d",
    source="14-joint variant of the MPI-INF-3DHP evaluation used by many later papers (drops "
           "head, spine and pelvis from the official 17).",
    extra={"headline": "pck", "breakdowns": ("subject", "action", "scene"),
           "ground_truth_fallback": "poses_3d"},
))

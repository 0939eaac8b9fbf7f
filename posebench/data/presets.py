"""Protocol presets: how each anchor paper / codebase scores, as data.

Each preset follows its anchor's evaluation code step by step and cites it (file:line at the
commit read) in `source`, shown by `posebench protocols NAME`. Where an anchor does something
unusual, the preset sets a named `Protocol` option (recorded in every result):
`gt_root_zeroing` (VideoPose3D, MPI-INF-3DHP: only the ground truth is root-centred, the
prediction is scored as given), `p_mpjpe_reroot_after_alignment` (EpipolarPose),
`n_mpjpe_scale="procrustes"` (EpipolarPose's ``b * pred``), `n_mpjpe_frame="camera"` (mmpose),
`pck_joints` (MPI-INF-3DHP's joint groups). Otherwise both poses are root-centred at `root`
before MPJPE, PCK and AUC; the joints of `eval_skeleton` are selected by canonical name.
tests/data/test_anchor_transcriptions.py checks every preset against a transcription of its
anchor's code.

Anchors read: mkocabas/EpipolarPose @299ccb0, facebookresearch/VideoPose3D @1afb1ca,
open-mmlab/mmpose @759b39c, MPI-INF-3DHP test_util (mpii_test_predictions.m,
mpii_evaluate_errors.m, mpii_compute_3d_pck.m, mpii_get_pck_auc_joint_groups.m).

Named exclusions: no anchor of these presets drops the S9 sequences with misaligned ground
truth (only learnable-triangulation-pytorch does, `with_damaged_actions`), nor the S11
Directions camera 54138969 (VideoPose3D discards S11 Directions only when preparing the
Stacked-Hourglass / generic 2D detections, data/prepare_data_2d_h36m_sh.py:50,
prepare_data_2d_h36m_generic.py:71; its 3D ground truth, EpipolarPose's annotations and
mmpose's preprocess_h36m.py keep them), so every preset keeps them (``exclusions: []`` in the
record).

`extra` keys read by `posebench.evaluation`:
    headline     metric shown first / used by leaderboards (default "mpjpe")
    breakdowns   per-group tables always reported, e.g. ("subject", "action", "scene")
"""

from __future__ import annotations

from dataclasses import replace

from posebench.data.protocol import Protocol

H36M_TEST_SUBJECTS = ("S9", "S11")
_ALL = ("mpjpe", "p_mpjpe", "n_mpjpe", "pck", "auc", "pss@50", "pss@100")
_P_FIRST = ("p_mpjpe", "mpjpe", "n_mpjpe", "pck", "auc", "pss@50", "pss@100")
_PCK_FIRST = ("pck", "auc", "mpjpe", "p_mpjpe", "n_mpjpe", "pss@50", "pss@100")
#: MPI-INF-3DHP's PCK/AUC joint groups (mpii_get_pck_auc_joint_groups.m: Head [1], Neck [2],
#: Shou [3,6], Elbow [4,7], Wrist [5,8], Hip [9,12], Knee [10,13], Ankle [11,14]; pelvis,
#: spine and head, 15-17, are not in any group), as posebench canonical names.
HP_PCK_JOINTS = ("head_top", "thorax", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder",
                 "l_elbow", "l_wrist", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee",
                 "l_ankle")
_VP3D = ("facebookresearch/VideoPose3D @1afb1ca run.py:60 (ground truth: joints relative to the "
         "root, trajectory kept in joint 0), run.py:688 evaluate() `inputs_3d[:, :, 0] = 0` "
         "(only the ground-truth root is zeroed; the prediction is scored as given), "
         "run.py:692-696 frame-weighted sums per action, run.py:786-799 actions grouped by "
         "base name over subjects S9, S11 (common/arguments.py:18), trials and cameras, "
         "run.py:825-853 run_evaluation() mean over actions; common/loss.py:11 mpjpe, :27 "
         "p_mpjpe (similarity Procrustes, det +1), :68 n_mpjpe (least-squares scale on the "
         "poses as scored).")
_EPI = ("mkocabas/EpipolarPose @299ccb0 lib/dataset/h36m.py:168 evaluate(): :244 "
        "compute_similarity_transform (lib/utils/prep_h36m.py:108, scale b = trace * |X0| / "
        "|Y0|), :245 aligned = b * pred @ T + c, :246 norm = b * pred, :249-252 prediction, "
        "ground truth, aligned and norm poses each re-centred on the root AFTER the fit, "
        ":261-263 per-joint distances, :331-333 mean over joints then over samples; MPJPE, "
        "P-MPJPE (re-rooted) and N-MPJPE (b * pred, re-rooted); test set S9, S11 every 64th "
        "frame (after Sun et al. 2018, Integral).")

ALL_FRAMES = Protocol(
    name="all-frames",
    description="Every sample of the test split, 17 joints in Human3.6M order, frame-wise mean.",
    dataset_kind="*",
    aggregation="frame",
    source="posebench generic protocol (no anchor).",
    extra={"headline": "mpjpe"},
)

SYNTH = Protocol(
    name="synth",
    description="Embedded synthetic benchmark: test split, all frames, Human3.6M-17 joints, "
                "frame-wise mean.",
    dataset_kind="synth",
    eval_skeleton="h36m17",
    aggregation="frame",
    source="posebench default for the embedded synthetic multi-view benchmark.",
    extra={"headline": "mpjpe"},
)

_H36M_EXPECT = dict(subjects=H36M_TEST_SUBJECTS, require_subjects=True, source_frame_step=1)

H36M_P1 = Protocol(
    name="h36m-p1",
    description="Human3.6M Protocol #1 (VideoPose3D): S9+S11, every 50 fps frame, 17 joints, "
                "prediction scored as given against the root-zeroed ground truth (predictions "
                "must be root-relative), MPJPE averaged per action, then over actions.",
    dataset_kind="h36m",
    **_H36M_EXPECT,
    eval_skeleton="h36m17",
    aggregation="action",
    gt_root_zeroing=True,
    metrics=_ALL,
    source="Pavllo et al., CVPR 2019 (VideoPose3D), Protocol #1. " + _VP3D,
    extra={"headline": "mpjpe"},
)

H36M_P2 = replace(
    H36M_P1,
    name="h36m-p2",
    description="Human3.6M Protocol #2 (VideoPose3D): as h36m-p1 with P-MPJPE (similarity "
                "Procrustes alignment) as the headline number.",
    metrics=_P_FIRST,
    source="Pavllo et al., CVPR 2019 (VideoPose3D), Protocol #2. " + _VP3D,
    extra={"headline": "p_mpjpe"},
)

H36M_EVERY64 = Protocol(
    name="h36m-every64",
    description="EpipolarPose / Integral test set: S9+S11, every 64th frame (frame % 64 == 0), "
                "17 joints, frame-wise mean; P-MPJPE re-rooted after the similarity fit; "
                "N-MPJPE with the Procrustes similarity scale.",
    dataset_kind="h36m",
    **_H36M_EXPECT,
    frame_stride=64,
    frame_offset=0,
    eval_skeleton="h36m17",
    aggregation="frame",
    n_mpjpe_scale="procrustes",
    p_mpjpe_reroot_after_alignment=True,
    source="Kocabas et al., CVPR 2019 (EpipolarPose), supervised models (17 joints, root "
           "index 0 = Hip, h36m.py:182). " + _EPI,
    extra={"headline": "mpjpe"},
)

H36M_EVERY64_MPII16 = replace(
    H36M_EVERY64,
    name="h36m-every64-mpii16",
    description="EpipolarPose self-supervised scoring: every 64th S9+S11 frame, 16 joints in "
                "MPII order (no spine), root pelvis (Hip), frame-wise mean; P-MPJPE re-rooted "
                "after the similarity fit; N-MPJPE with the Procrustes similarity scale.",
    eval_skeleton="mpii16",
    source="Kocabas et al., CVPR 2019 (EpipolarPose), self-supervised models: "
           "cfg.DATASET.MPII_ORDER, ground truth permuted by H36M_TO_MPII_PERM (h36m.py:224; "
           "lib/dataset/JointIntegralDataset.py MPII_NAMES, 16 joints, no spine), root index 6 "
           "= Hip (h36m.py:182), although the numbers are printed as 'hm36_17j'. " + _EPI,
    extra={"headline": "mpjpe"},
)

H36M_MMPOSE = Protocol(
    name="h36m-mmpose",
    description="mmpose Human3.6M test scoring: S9+S11, every test frame of the 50 fps "
                "annotations, 17 joints, frame-wise mean; N-MPJPE scale fitted on camera-frame "
                "poses.",
    dataset_kind="h36m",
    **_H36M_EXPECT,
    eval_skeleton="h36m17",
    aggregation="frame",
    n_mpjpe_frame="camera",
    source="open-mmlab/mmpose @759b39c configs/body_3d_keypoint/image_pose_lift/h36m/"
           "image-pose-lift_tcn_8xb64-200e_h36m.py (:85-89 codec ImagePoseLifting root_index=0 "
           "remove_root=True, :153 annotation_body3d/fps50/h36m_test.npz, :154 seq_len=1, "
           ":164-166 MPJPE modes 'mpjpe' and 'p-mpjpe'); mmpose/codecs/image_pose_lifting.py:"
           "249 decode() adds the ground-truth root to the root-relative prediction and inserts "
           "it as the root joint (:273-277); mmpose/evaluation/metrics/keypoint_3d_metrics.py:"
           "15 MPJPE.compute_metrics():135 keypoint_mpjpe over all samples (frame-wise, no "
           "action averaging); mmpose/evaluation/functional/keypoint_eval.py:324 "
           "keypoint_mpjpe: 'procrustes' per-sample similarity fit, 'scale' (n-mpjpe, :366-370) "
           "s = <P, G> / <P, P> on the CAMERA-FRAME poses (prediction placed on the ground-truth "
           "root), not the root-centred ones; :373 mean over all joints of all samples.",
    extra={"headline": "mpjpe"},
)

_HP_SOURCE = ("Mehta et al., 3DV 2017 (MPI-INF-3DHP) official test_util: "
              "mpii_test_predictions.m (valid_frame only; ground truth P = univ_annot3 minus its "
              "joint 15, pelvis, i.e. only the ground truth is root-centred, the prediction is "
              "scored as given; per-joint Euclidean errors of the 17 joints), "
              "mpii_evaluate_errors.m (the 'All' row pools every valid frame of TS1-TS6: MPJPE = "
              "mean over 17 joints and frames), mpii_compute_3d_pck.m (PCK: error strictly < "
              "150 mm; AUC: 100 * mean PCK over thresholds 0:5:150; 'Total' pools the joints of "
              "the groups), mpii_get_pck_auc_joint_groups.m (14 joints: head_top, neck, "
              "shoulders, elbows, wrists, hips, knees, ankles; pelvis, spine and head are in no "
              "group). Copies read: QitaoZhao/PoseFormerV2 mpi_inf_3dhp/3dhp_test/test_util/.")

HP_OFFICIAL = Protocol(
    name="3dhp-official",
    description="MPI-INF-3DHP official test scoring: valid frames of TS1-TS6, universal "
                "(height-normalised) ground truth, prediction scored as given against the "
                "pelvis-centred truth, MPJPE over 17 joints, PCK@150 mm (strict) and AUC "
                "0:5:150 mm over the 14 joints of the official joint groups.",
    dataset_kind="3dhp",
    valid_only=True,
    eval_skeleton="3dhp17",
    root="pelvis",
    aggregation="frame",
    gt_root_zeroing=True,
    pck_joints=HP_PCK_JOINTS,
    metrics=_PCK_FIRST,
    ground_truth="univ_poses_3d",
    source=_HP_SOURCE,
    extra={"headline": "pck", "breakdowns": ("subject", "action", "scene")},
)

HP_14 = replace(
    HP_OFFICIAL,
    name="3dhp-14",
    description="MPI-INF-3DHP, widely copied 14-joint variant: as 3dhp-official with every "
                "metric (MPJPE too) over the 14 joints of the official PCK groups.",
    eval_skeleton="3dhp14",
    pck_joints=None,
    source="posebench variant of the MPI-INF-3DHP evaluation: PCK and AUC are the official "
           "ones (same 14 joints), MPJPE / P-MPJPE / N-MPJPE also over those 14 joints. "
           + _HP_SOURCE,
    extra={"headline": "pck", "breakdowns": ("subject", "action", "scene")},
)

#: Every preset, in the order `posebench protocols` lists them.
PRESETS = (ALL_FRAMES, SYNTH, H36M_P1, H36M_P2, H36M_EVERY64, H36M_EVERY64_MPII16, H36M_MMPOSE,
           HP_OFFICIAL, HP_14)

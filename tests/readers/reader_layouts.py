"""Write a small Human3.6M dataset and, from its ground truth, each codebase's output files
exactly as that codebase lays them out (nested dicts, object arrays, clip tensors, metres,
world frame). Pickle is used here only to WRITE test files as those codebases do."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from posebench.data.adapters.h36m_common import (
    CAMERA_IDS,
    TRIAL_BASENAMES,
    camera_rows,
    h36m_camera_table,
)
from posebench.geometry.camera import world_to_camera
from posebench.readers.learnable_triangulation import VALID_JOINTS
from posebench.readers.motionbert import ACTION_NUMBERS
from posebench.skeletons import H36M_32_TO_17

T = 250  # > one 243-frame MotionBERT clip: 7 tail frames per video are not predicted
#: (subject, basename): S11 "Greeting 2" is trial 1 and "Greeting" trial 2 (the trap); S9
#: "Greeting" is trial 2, a damaged trial learnable-triangulation drops.
SEQUENCES = (("S9", "Directions 1"), ("S9", "Greeting"), ("S11", "Greeting 2"),
             ("S11", "Greeting"), ("S1", "Directions 1"))
_BODY17 = np.array([
    [0.0, 0.0, 0.95], [0.13, 0.0, 0.95], [0.14, 0.03, 0.52], [0.14, 0.0, 0.08],
    [-0.13, 0.0, 0.95], [-0.14, 0.03, 0.52], [-0.14, 0.0, 0.08], [0.0, 0.0, 1.18],
    [0.0, 0.0, 1.45], [0.0, 0.08, 1.55], [0.0, 0.0, 1.70], [-0.18, 0.0, 1.43],
    [-0.22, 0.05, 1.16], [-0.22, 0.12, 0.92], [0.18, 0.0, 1.43], [0.22, 0.05, 1.16],
    [0.22, 0.12, 0.92]])


def world_motion(seed: int) -> np.ndarray:
    """(T, 32, 3) world metres: a body turning and walking with per-joint jitter."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None]
    yaw = 0.03 * t + rng.uniform(0, 2 * np.pi)
    c, s = np.cos(yaw)[:, 0], np.sin(yaw)[:, 0]
    rot = np.zeros((T, 3, 3))
    rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1], rot[:, 2, 2] = c, -s, s, c, 1
    body = np.einsum("tij,kj->tki", rot, _BODY17) + rng.normal(0, 0.02, (T, 17, 3))
    body[..., 0] += 0.4 * np.sin(0.02 * t + seed)
    body[..., 1] += 0.3 * np.cos(0.03 * t)
    out = np.repeat(body[:, :1], 32, axis=1)
    out[:, list(H36M_32_TO_17)] = body
    return out.astype(np.float32)


def build(tmp: Path):
    """Prepare the dataset 'h36m-readers' and return (dataset root, world dict)."""
    from posebench.data.prepare import prepare

    world = {}
    for i, (s, b) in enumerate(SEQUENCES):
        world.setdefault(s, {})[b] = world_motion(i)
    src = tmp / "vp3d"
    src.mkdir(parents=True, exist_ok=True)
    np.savez(src / "data_3d_h36m.npz", positions_3d=world)
    root = prepare("h36m", "videopose3d", src, name="h36m-readers")
    return root, world


def trial(subject: str, basename: str) -> tuple[str, int]:
    action, _, suffix = basename.partition(" ")
    return action, TRIAL_BASENAMES[(subject, action, suffix)]


def camera_mm(subject: str, world_m: np.ndarray) -> np.ndarray:
    """(T, 32, 3) world m -> (T, 4, 17, 3) camera mm (packaged calibration)."""
    table = h36m_camera_table([subject])
    rows = camera_rows(table, subject, "test")
    w = np.asarray(world_m, np.float64)[:, list(H36M_32_TO_17)] * 1000.0
    return world_to_camera(w[:, None], table.R[rows][None], table.t[rows][None])


def write_videopose3d(path: Path, world: dict, subjects=("S9", "S11"), perm=None,
                      naive_trials: bool = False) -> Path:
    """run.py-style dict subject -> basename -> [4 x (T, 17, 3) camera metres, root 0]."""
    out = {}
    for s in subjects:
        out[s] = {}
        for b, w in world[s].items():
            cam = camera_mm(s, w) / 1000.0
            cam = cam - cam[:, :, :1]
            if perm is not None:
                cam = cam[:, :, perm]
            out[s][b] = [cam[:, i].astype(np.float32) for i in range(4)]
    np.savez(path, positions_3d=out)
    return path


def write_naive_posebench(path: Path, world: dict, subjects=("S9", "S11")) -> Path:
    """The hand conversion users write: trial := the basename's number (none -> 1)."""
    cols = {k: [] for k in ("subject", "action", "subaction", "camera", "frame")}
    poses = []
    for s in subjects:
        for b, w in world[s].items():
            action, _, suffix = b.partition(" ")
            cam = camera_mm(s, w)
            cam = cam - cam[:, :, :1]  # root-relative (pelvis = joint 0), as users write them
            for i, cid in enumerate(CAMERA_IDS):
                poses.append(cam[:, i])
                cols["subject"].append([s] * T)
                cols["action"].append([action] * T)
                cols["subaction"].append([int(suffix) if suffix else 1] * T)
                cols["camera"].append([cid] * T)
                cols["frame"].append(np.arange(T))
    np.savez(path, poses_3d=np.concatenate(poses),
             **{k: np.concatenate([np.asarray(x) for x in v]) for k, v in cols.items()})
    return path


def imgname(s: str, b: str, cid: str, frame0: int) -> str:
    video = f"{s}_{b.replace(' ', '_')}"
    return f"{s}/{video}.{cid}/{video}.{cid}_{frame0 + 1:06d}.jpg"


def write_mmpose_dump(path: Path, world: dict, subjects=("S9", "S11")) -> Path:
    """mmpose 1.x `tools/test.py --dump`: list of data-sample dicts, keypoints in metres."""
    samples = []
    for s in subjects:
        for b, w in world[s].items():
            cam = camera_mm(s, w) / 1000.0
            for i, cid in enumerate(CAMERA_IDS):
                for f in range(T):
                    samples.append({
                        "pred_instances": {"keypoints": cam[f, i][None].astype(np.float32),
                                           "keypoint_scores": np.ones((1, 17), np.float32)},
                        "target_img_path": [imgname(s, b, cid, f)],
                        "img_path": imgname(s, b, cid, f), "category_id": 1})
    with open(path, "wb") as fh:
        pickle.dump(samples, fh)
    return path


def write_motionbert(path: Path, world: dict, subjects=("S9", "S11"), clip: int = 243) -> Path:
    """MotionBERT test arrays + results_all: normalised 2.5D clips of 243 frames whose
    denormalised, factor-scaled, root-relative poses are the camera-frame ground truth."""
    source, factor, camera, clips, start = [], [], [], [], 0
    for s in subjects:
        for b, w in world[s].items():
            action, tr = trial(s, b)
            act = {v: k for k, v in ACTION_NUMBERS.items()}[action]
            cam = camera_mm(s, w)
            for i, cid in enumerate(CAMERA_IDS):
                src = f"s_{int(s[1:]):02d}_act_{act:02d}_subact_{tr:02d}_ca_{i + 1:02d}"
                fac = cam[:, i, 0, 2] / 1145.0                  # ~ depth / focal length
                rel = cam[:, i] - cam[:, i, :1]
                img = rel / fac[:, None, None] + np.array([512.0, 500.0, 0.0])
                w_, h_ = 1000.0, (1002.0 if cid in ("54138969", "60457274") else 1000.0)
                norm = img / w_ * 2 - np.array([1.0, h_ / w_, 0.0])
                for st in range(0, T - clip + 1, clip):
                    clips.append(norm[st:st + clip])
                source += [src] * T
                factor.append(fac)
                camera += [cid] * T
                start += T
    np.savez(path, results_all=np.stack(clips).astype(np.float32), source=np.array(source),
             factor=np.concatenate(factor), camera_name=np.array(camera))
    return path


LT_ACTIONS = [f"{a}-{t}" for a in ("Directions", "Discussion", "Eating", "Greeting", "Phoning",
                                   "Posing", "Purchases", "Sitting", "SittingDown", "Smoking",
                                   "TakingPhoto", "Waiting", "Walking", "WalkingDog",
                                   "WalkingTogether") for t in (1, 2)]


def write_learnable_triangulation(folder: Path, world: dict, shift: int = 0,
                                  with_damaged: bool = False) -> tuple[Path, Path]:
    """labels .npy (np.save of a dict, as generate-labels-npy-multiview.py) + results.pkl."""
    subjects = ["S1", "S5", "S6", "S7", "S8", "S9", "S11"]
    dtype = np.dtype([("subject_idx", np.int8), ("action_idx", np.int8), ("frame_idx", np.int16),
                      ("keypoints", np.float32, (17, 3)), ("bbox_by_camera_tlbr", np.int16,
                                                          (4, 4))])
    parts = []
    for s in subjects:
        for b, w in world.get(s, {}).items():
            action, tr = trial(s, b)
            name = {"Photo": "TakingPhoto", "WalkDog": "WalkingDog"}.get(action, action)
            seg = np.zeros(T, dtype=dtype)
            seg["subject_idx"] = subjects.index(s)
            seg["action_idx"] = LT_ACTIONS.index(f"{name}-{tr}")
            seg["frame_idx"] = np.arange(T)
            seg["keypoints"] = w[:, list(VALID_JOINTS)] * 1000.0
            parts.append(seg)
    labels = {"subject_names": subjects, "camera_names": list(CAMERA_IDS),
              "action_names": LT_ACTIONS, "table": np.concatenate(parts)}
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "labels.npy", labels)
    table = labels["table"]
    test = np.isin(table["subject_idx"], [5, 6])
    if not with_damaged:
        bad = [LT_ACTIONS.index(a) for a in ("Greeting-2", "SittingDown-2", "Waiting-1")]
        test &= ~((table["subject_idx"] == 5) & np.isin(table["action_idx"], bad))
    rows = np.flatnonzero(test)
    order = np.random.default_rng(0).permutation(len(rows))     # batches come shuffled
    kp = table["keypoints"][rows][order]
    idx = (order + shift) % len(rows)
    with open(folder / "results.pkl", "wb") as fh:
        pickle.dump({"keypoints_3d": kp.astype(np.float32), "indexes": idx}, fh)
    return folder / "results.pkl", folder / "labels.npy"

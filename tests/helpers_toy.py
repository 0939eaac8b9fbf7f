"""Small ground-truth datasets in the canonical on-disk format, written by tests.

    toy_h36m(root)   kind "h36m": train S1, S5 / test S9, S11; unequal action lengths so that
                     action-wise and frame-wise means differ; frames 0..>128 so every 64th exists
    toy_3dhp(root)   kind "3dhp": test TS1-TS3 only (no train), valid flags, extra scene and
                     univ_poses_3d; integer-mm coordinates (exact 150 mm errors are possible)
    toy_synth(root)  kind "synth": train + test, h36m17

Poses are a plausible mm body (bones 100-450 mm) turned about the vertical axis, perturbed per
joint and placed ~4.5 m in front of a pinhole camera. Everything is seeded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posebench.data.dataset import (
    CameraTable,
    PoseDataset,
    SampleKeys,
    read_split,
    write_dataset,
)
from posebench.data.protocols import get_protocol
from posebench.skeletons import get_skeleton

#: Human3.6M-17 rest pose, mm, y down (pelvis at the origin).
TEMPLATE_H36M = np.array([
    [0, 0, 0], [-130, 0, 0], [-130, 450, 0], [-130, 880, 0], [130, 0, 0], [130, 450, 0],
    [130, 880, 0], [0, -230, 0], [0, -480, 0], [0, -580, 0], [0, -750, 0], [170, -460, 0],
    [170, -200, 0], [170, 40, 0], [-170, -460, 0], [-170, -200, 0], [-170, 40, 0],
], dtype=np.float64)

H36M_ACTIONS = {"Directions": 130, "Eating": 70, "Walking": 200}
HP_ACTIONS = {"Standing": 40, "Exercise": 25, "Sitting": 60}
HP_SCENES = {"TS1": "GreenScreen", "TS2": "Studio", "TS3": "Outdoor"}


def random_poses(n: int, rng: np.random.Generator, skeleton: str = "h36m17",
                 noise: float = 40.0) -> np.ndarray:
    """(n, J, 3) mm camera-frame poses in `skeleton`'s order."""
    yaw = rng.uniform(-np.pi, np.pi, n)
    c, s = np.cos(yaw), np.sin(yaw)
    R = np.zeros((n, 3, 3))
    R[:, 0, 0], R[:, 0, 2], R[:, 1, 1], R[:, 2, 0], R[:, 2, 2] = c, s, 1.0, -s, c
    body = TEMPLATE_H36M[None] + rng.normal(0.0, noise, (n, 17, 3))
    poses = np.einsum("nij,nkj->nki", R, body)
    poses += np.array([0.0, 0.0, 4500.0]) + rng.normal(0.0, 300.0, (n, 1, 3))
    if skeleton != "h36m17":
        src, dst = get_skeleton("h36m17"), get_skeleton(skeleton)
        poses = poses[:, [src.names.index(j) for j in dst.names]]
    return poses


def make_split(name: str, split: str, subjects, actions: dict[str, int], *, seed: int,
               skeleton: str = "h36m17", cameras=("54138969", "55011271"), subactions=(1, 2),
               integer: bool = False, extra: dict | None = None) -> PoseDataset:
    """One split: every subject x action (x `actions[a]` frames) x subaction x camera."""
    rng = np.random.default_rng(seed)
    cols = {k: [] for k in ("subject", "action", "subaction", "camera", "frame")}
    for subj in subjects:
        for act, n_frames in actions.items():
            for sa in subactions:
                for cam in cameras:
                    cols["subject"] += [subj] * n_frames
                    cols["action"] += [act] * n_frames
                    cols["subaction"] += [sa] * n_frames
                    cols["camera"] += [cam] * n_frames
                    cols["frame"] += list(range(n_frames))
    keys = SampleKeys(**cols)
    n = len(keys)
    poses = random_poses(n, rng, skeleton)
    if integer:
        poses = np.round(poses)
    cam_ids = np.array(cameras)
    table = CameraTable(ids=cam_ids, f=np.full((len(cam_ids), 2), 1145.0),
                        c=np.full((len(cam_ids), 2), 500.0), k=np.zeros((len(cam_ids), 3)),
                        p=np.zeros((len(cam_ids), 2)), R=np.tile(np.eye(3), (len(cam_ids), 1, 1)),
                        t=np.zeros((len(cam_ids), 3)), width=np.full(len(cam_ids), 1000),
                        height=np.full(len(cam_ids), 1000), distortion="none")
    cam_index = np.searchsorted(cam_ids, keys.camera) if list(cam_ids) == sorted(cam_ids) else \
        np.array([list(cam_ids).index(c) for c in keys.camera])
    poses_2d = 1145.0 * poses[..., :2] / poses[..., 2:] + 500.0
    ex = {k: v(keys, poses, rng) if callable(v) else v for k, v in (extra or {}).items()}
    valid = ex.pop("valid", None)
    ds = PoseDataset(name, split, skeleton, poses, poses_2d, keys, cam_index, table,
                     valid=valid, extra=ex)
    return ds.sorted()


def toy_h36m(root: str | Path, seed: int = 0, test_actions: dict | None = None) -> Path:
    train = make_split("toy-h36m", "train", ("S1", "S5"), {"Directions": 40, "Eating": 30},
                       seed=seed + 1)
    test = make_split("toy-h36m", "test", ("S9", "S11"), test_actions or H36M_ACTIONS,
                      seed=seed + 2)
    return write_dataset(root, {"train": train, "test": test}, kind="h36m",
                         source="tests/helpers_toy.py")


def toy_3dhp(root: str | Path, seed: int = 0, with_univ: bool = True) -> Path:
    def scene(keys, poses, rng):
        return np.array([HP_SCENES[s] for s in keys.subject])

    def valid(keys, poses, rng):
        return rng.random(len(keys)) < 0.8

    def univ(keys, poses, rng):
        # height-normalised copy: per-subject scale about the pelvis, integer mm
        scale = np.array([{"TS1": 0.9, "TS2": 1.1, "TS3": 1.0}[s] for s in keys.subject])
        pelvis = poses[:, 14:15]
        return np.round(pelvis + scale[:, None, None] * (poses - pelvis))

    extra = {"scene": scene, "valid": valid}
    if with_univ:
        extra["univ_poses_3d"] = univ
    test = make_split("toy-3dhp", "test", ("TS1", "TS2", "TS3"), HP_ACTIONS, seed=seed + 3,
                      skeleton="3dhp17", cameras=("0",), subactions=(1,), integer=True,
                      extra=extra)
    return write_dataset(root, {"test": test}, kind="3dhp", source="tests/helpers_toy.py")


def toy_synth(root: str | Path, seed: int = 0) -> Path:
    train = make_split("toy-synth", "train", ("synth-S1", "synth-S2"),
                       {"Walk": 60, "Reach": 60}, seed=seed + 4)
    test = make_split("toy-synth", "test", ("synth-S3",), {"Walk": 50, "Reach": 30},
                      seed=seed + 5)
    return write_dataset(root, {"train": train, "test": test}, kind="synth",
                         source="tests/helpers_toy.py")


def toy_synth_scored(root: str | Path):
    """(dataset folder, ground truth (M, 17, 3) mm of protocol 'synth', its keys) of a toy
    synth set written to `root`."""
    root = toy_synth(root)
    ds = read_split(root, "test")
    rows = get_protocol("synth").select(ds)
    return root, ds.poses_3d[rows], ds.keys.take(rows)


def fit_pss_cache(root: Path, poses: np.ndarray, home: Path) -> Path:
    """Score `poses` on the dataset at `root` with POSEBENCH_HOME=`home`, which fits and caches
    its PSS@50/@100 models; returns the cache folder home/pss (tests copy it per test)."""
    import os

    import posebench

    old = os.environ.get("POSEBENCH_HOME")
    os.environ["POSEBENCH_HOME"] = str(home)
    try:
        posebench.evaluate(poses, dataset=root)
    finally:
        if old is None:
            del os.environ["POSEBENCH_HOME"]
        else:
            os.environ["POSEBENCH_HOME"] = old
    return home / "pss"

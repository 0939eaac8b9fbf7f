"""A tiny multi-camera Human3.6M-17 dataset for tests and examples (no download, no rendering).

A kinematic body (per-subject bone scale) moves with smooth random joint angles in the
Human3.6M capture volume (world z up, mm) and is seen by the 4 Human3.6M cameras of the subject
(official calibration from ``posebench/facts/h36m_cameras.json``, with lens distortion). 2D
labels are exact projections. Images, when asked for, are blank crops (only their presence
matters to the methods' input checks).
"""

from __future__ import annotations

import json
from importlib import resources

import numpy as np

from posebench.data.dataset import CameraTable, PoseDataset, SampleKeys
from posebench.geometry.camera import project_with_table, world_to_camera

#: H36M-17 parents and rest bone offsets (child - parent) in the body frame: x left, y forward,
#: z up, mm.
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
OFFSETS = np.array([
    [0, 0, 0], [-130, 0, 0], [0, 0, -440], [0, 0, -430], [130, 0, 0], [0, 0, -440],
    [0, 0, -430], [0, 10, 230], [0, 0, 250], [0, 60, 100], [0, -20, 120], [150, 0, 0],
    [0, 0, -280], [0, 0, -250], [-150, 0, 0], [0, 0, -280], [0, 0, -250]], dtype=np.float64)


def _rot(axis: int, angle: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations by `angle` (N,) rad about axis 0/1/2."""
    c, s = np.cos(angle), np.sin(angle)
    R = np.zeros(angle.shape + (3, 3))
    i, j = [a for a in range(3) if a != axis]
    R[..., axis, axis] = 1.0
    R[..., i, i], R[..., j, j] = c, c
    R[..., i, j], R[..., j, i] = -s, s
    return R


def body_poses(n: int, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """(n, 17, 3) world mm poses of one subject: a smooth random motion (consecutive frames)."""
    t = np.arange(n, dtype=np.float64)

    def wave(lo, hi):
        period = rng.uniform(20, 60)
        phase = rng.uniform(0, 2 * np.pi)
        return lo + (hi - lo) * 0.5 * (1 + np.sin(2 * np.pi * t / period + phase))

    d = np.deg2rad
    local = np.tile(np.eye(3), (n, 17, 1, 1))
    local[:, 0] = _rot(2, wave(0, 2 * np.pi)) @ _rot(0, wave(d(-5), d(15)))   # yaw, lean
    for knee, ankle, sign in ((2, 3, -1), (5, 6, 1)):
        local[:, knee] = _rot(0, wave(d(-50), d(40))) @ _rot(1, sign * wave(0, d(25)))
        local[:, ankle] = _rot(0, -wave(0, d(100)))
    local[:, 8] = _rot(0, wave(d(-5), d(40)))                                   # spine bend
    local[:, 9] = _rot(2, wave(d(-20), d(20)))                                  # torso twist
    for elbow, wrist, sign in ((12, 13, 1), (15, 16, -1)):
        local[:, elbow] = _rot(1, sign * wave(d(5), d(120))) @ _rot(0, wave(d(-60), d(90)))
        local[:, wrist] = _rot(0, wave(0, d(120)))
    glob = np.empty_like(local)
    pos = np.zeros((n, 17, 3))
    pos[:, 0] = np.stack([wave(-800, 800), wave(-800, 800), wave(850, 950)], axis=-1)
    glob[:, 0] = local[:, 0]
    for j in range(1, 17):
        p = PARENTS[j]
        glob[:, j] = glob[:, p] @ local[:, j]
        pos[:, j] = pos[:, p] + scale * np.einsum("nij,j->ni", glob[:, j], OFFSETS[j])
    return pos


def h36m_cameras(subjects: list[str]) -> CameraTable:
    """CameraTable with rows subject-major, 4 cameras each, from the shipped H36M facts."""
    facts = json.loads(resources.files("posebench").joinpath("facts/h36m_cameras.json")
                       .read_text())
    ids, f, c, k, p, R, t, w, h = ([] for _ in range(9))
    for s in subjects:
        for cam in facts["camera_ids_in_order"]:
            intr, ext = facts["intrinsics"][cam], facts["extrinsics"][s][cam]
            qw, qx, qy, qz = ext["orientation_wxyz_camera_to_world"]
            R_cw = np.array([
                [1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy - qz * qw), 2 * (qx * qz + qy * qw)],
                [2 * (qx * qy + qz * qw), 1 - 2 * (qx * qx + qz * qz), 2 * (qy * qz - qx * qw)],
                [2 * (qx * qz - qy * qw), 2 * (qy * qz + qx * qw), 1 - 2 * (qx * qx + qy * qy)]])
            R_wc = R_cw.T
            ids.append(cam)
            f.append(intr["focal_length_px"])
            c.append(intr["center_px"])
            k.append(intr["radial_distortion_k1_k2_k3"])
            p.append(intr["tangential_distortion_videopose3d_order"])
            R.append(R_wc)
            t.append(-R_wc @ np.asarray(ext["camera_centre_world_mm"]))
            w.append(intr["width"])
            h.append(intr["height"])
    return CameraTable(ids, f, c, k, p, R, t, w, h, "h36m")


def toy_split(name: str, split: str, subjects: list[str], frames: int, seed: int,
              image_size: int | None = None) -> PoseDataset:
    """A split: every subject's `frames` instants seen by its 4 cameras, canonical order."""
    rng = np.random.default_rng(seed)
    cams = h36m_cameras(subjects)
    world = np.concatenate([body_poses(frames, rng, rng.uniform(0.9, 1.1)) for _ in subjects])
    n_s = len(subjects)
    subj = np.repeat(np.arange(n_s), frames * 4)
    cam = np.tile(np.arange(4), n_s * frames)
    inst = np.repeat(np.arange(n_s * frames), 4)
    cam_index = subj * 4 + cam
    poses_3d = world_to_camera(world[inst], cams.R[cam_index], cams.t[cam_index])
    poses_2d = project_with_table(poses_3d, cams, cam_index)
    keys = SampleKeys(np.asarray(subjects)[subj], np.full(len(inst), "Walking"),
                      np.ones(len(inst), np.int64), cams.ids[cam_index],
                      np.tile(np.repeat(np.arange(frames), 4), n_s))
    images = None
    if image_size:
        images = np.zeros((len(inst), image_size, image_size, 3), np.uint8)
    ds = PoseDataset(name, split, "h36m17", poses_3d, poses_2d, keys, cam_index, cams,
                     images=images)
    return ds.sorted()


def toy_dataset(frames: int = 60, seed: int = 0, image_size: int | None = None,
                name: str = "toy") -> dict[str, PoseDataset]:
    """{"train": 3 subjects (S1, S5, S6), "test": 1 subject (S9)} of `frames` instants each."""
    return {"train": toy_split(name, "train", ["S1", "S5", "S6"], frames, seed, image_size),
            "test": toy_split(name, "test", ["S9"], frames, seed + 1, image_size)}

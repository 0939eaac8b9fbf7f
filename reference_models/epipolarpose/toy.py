"""Tiny in-memory multi-view datasets for tests and demos (not a benchmark).

Poses: a standing 17-joint Human3.6M-order body turned by a random yaw, with per-joint Gaussian
jitter; a static ring of calibrated pinhole cameras (extrinsics ``X_c = R X_w + t``, mm). Images:
coloured Gaussian blobs at the projected joints of a square crop around the person; a blob's
size grows as its joint comes nearer the camera (a depth cue), so a network can learn 3D.
"""

from __future__ import annotations

import numpy as np

from posebench.data.dataset import CameraTable, PoseDataset, SampleKeys
from posebench.geometry.image_affine import apply_affine

#: standing body, world mm (z up), Human3.6M-17 order
BASE_POSE = np.array([
    [0, 0, 950], [-130, 0, 950], [-130, 20, 520], [-130, 40, 90], [130, 0, 950],
    [130, 20, 520], [130, 40, 90], [0, -10, 1180], [0, 0, 1450], [0, -30, 1560],
    [0, 0, 1690], [180, 0, 1420], [300, -60, 1180], [360, -200, 1000], [-180, 0, 1420],
    [-300, -60, 1180], [-360, -200, 1000]], dtype=np.float64)


def ring_cameras(n: int = 4, radius: float = 4500.0, height: float = 1200.0,
                 focal: float = 1000.0, size: int = 1000) -> CameraTable:
    """n cameras on a circle looking at (0, 0, 900) mm; no distortion."""
    ang = 2 * np.pi * (np.arange(n) + 0.125) / n
    C = np.stack([radius * np.cos(ang), radius * np.sin(ang), np.full(n, height)], axis=1)
    fwd = np.array([0.0, 0.0, 900.0]) - C
    fwd /= np.linalg.norm(fwd, axis=1, keepdims=True)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right, axis=1, keepdims=True)
    down = np.cross(fwd, right)
    R = np.stack([right, down, fwd], axis=1)
    t = -np.einsum("cij,cj->ci", R, C)
    return CameraTable(np.array([f"cam{i}" for i in range(n)]), np.full((n, 2), focal),
                       np.full((n, 2), size / 2.0), np.zeros((n, 3)), np.zeros((n, 2)), R, t,
                       np.full(n, size), np.full(n, size), "none")


def random_world_poses(n: int, rng: np.random.Generator, jitter: float = 60.0) -> np.ndarray:
    """(n, 17, 3) world mm: base pose turned by a random yaw, shifted, jittered."""
    yaw = rng.uniform(-np.pi, np.pi, n)
    cz, sz = np.cos(yaw), np.sin(yaw)
    Rz = np.zeros((n, 3, 3))
    Rz[:, 0, 0], Rz[:, 0, 1], Rz[:, 1, 0], Rz[:, 1, 1], Rz[:, 2, 2] = cz, -sz, sz, cz, 1.0
    poses = np.einsum("nij,kj->nki", Rz, BASE_POSE) + rng.normal(0, jitter, (n, 17, 3))
    poses[..., :2] += rng.normal(0, 200.0, (n, 1, 2))
    return poses


def crop_affines(uv: np.ndarray, image_size: int, margin: float = 1.25) -> np.ndarray:
    """(N, J, 2) px -> (N, 2, 3) affines mapping a square box around the joints to the crop."""
    lo, hi = uv.min(axis=1), uv.max(axis=1)
    centre, side = (lo + hi) / 2, (hi - lo).max(axis=1) * margin
    s = image_size / side
    A = np.zeros((len(uv), 2, 3))
    A[:, 0, 0] = A[:, 1, 1] = s
    A[:, :, 2] = image_size / 2 - s[:, None] * centre
    return A


def render_blobs(uv_crop: np.ndarray, rel_depth: np.ndarray, image_size: int,
                 chunk: int = 256) -> np.ndarray:
    """(N, J, 2) crop px and (N, J) relative depth (+ = farther, crop-px units) -> (N, S, S, 3)."""
    J = uv_crop.shape[1]
    palette = np.random.default_rng(12345).uniform(0.2, 1.0, (J, 3))
    g = np.arange(image_size) + 0.5
    out = np.empty((len(uv_crop), image_size, image_size, 3), dtype=np.uint8)
    for a in range(0, len(uv_crop), chunk):  # chunks bound memory, not a per-pose loop
        u, d = uv_crop[a:a + chunk], rel_depth[a:a + chunk]
        sigma = np.clip(1.6 - 2.0 * d / image_size * 2.0, 0.6, 3.5) * image_size / 64
        gx = np.exp(-0.5 * ((g[None, None] - u[..., :1]) / sigma[..., None]) ** 2)  # (n,J,S)
        gy = np.exp(-0.5 * ((g[None, None] - u[..., 1:]) / sigma[..., None]) ** 2)
        img = np.einsum("njy,njx,jc->nyxc", gy, gx, palette)
        out[a:a + chunk] = np.clip(img * 255, 0, 255).astype(np.uint8)
    return out


def make_split(num_frames: int, seed: int, split: str, image_size: int = 32,
               num_cameras: int = 4, frames_per_sequence: int = 10,
               with_3d: bool = True) -> PoseDataset:
    """num_frames instants seen by every camera -> PoseDataset of num_frames * num_cameras."""
    rng = np.random.default_rng(seed)
    cams = ring_cameras(num_cameras)
    world = random_world_poses(num_frames, rng)
    F, C = num_frames, num_cameras
    Xc = np.einsum("cij,fkj->fcki", cams.R, world) + cams.t[None, :, None, :]  # (F, C, J, 3)
    uv = Xc[..., :2] / Xc[..., 2:] * cams.f[None, :, None] + cams.c[None, :, None]
    Xc, uv = Xc.reshape(F * C, 17, 3), uv.reshape(F * C, 17, 2)
    A = crop_affines(uv, image_size)
    uv_crop = apply_affine(A, uv)
    s = A[:, 0, 0]
    rel = (Xc[..., 2] - Xc[:, :1, 2]) / Xc[:, :1, 2] * (1000.0 * s)[:, None]
    images = render_blobs(uv_crop, rel, image_size)
    frame = np.repeat(np.arange(F), C)
    keys = SampleKeys(np.full(F * C, f"toy-{split}"), np.full(F * C, "Blobs"),
                      1 + frame // frames_per_sequence, np.tile(cams.ids, F),
                      frame % frames_per_sequence)
    poses_3d = Xc if with_3d else np.full_like(Xc, np.nan)
    ds = PoseDataset("toy", split, "h36m17", poses_3d, uv, keys, np.tile(np.arange(C), F),
                     cams, crop_affine=A, images=images)
    return ds.sorted()


def make_toy(num_train: int = 64, num_test: int = 16, image_size: int = 32,
             seed: int = 0) -> dict[str, PoseDataset]:
    """{'train', 'test', 'train2d'} toy splits (frame counts; 4 cameras each)."""
    return {"train": make_split(num_train, seed, "train", image_size),
            "test": make_split(num_test, seed + 1, "test", image_size),
            "train2d": make_split(num_train, seed + 2, "train2d", image_size, with_3d=False)}

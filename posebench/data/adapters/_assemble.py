"""Assemble per-sequence blocks into one canonical split without sorting copies.

A block is one (subject, action, subaction) trial: frames (T,) 0-based, camera ids (C,),
poses_3d (T, C, J, 3) mm camera frame, poses_2d (T, C, J, 2) px, camera rows (C,) into the
camera table. Blocks given in (subject, action, subaction) order with ascending frames and
sorted camera ids yield rows already in canonical order (subject, action, subaction, frame,
camera), so the output arrays are filled in place, block by block (one float64 copy of the
split in memory, never two).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from posebench.data.dataset import CameraTable, PoseDataset, SampleKeys


@dataclass
class Block:
    subject: str
    action: str
    subaction: int
    frames: np.ndarray          # (T,) int 0-based
    cameras: tuple[str, ...]    # (C,) sorted ids
    camera_rows: np.ndarray     # (C,) rows of the camera table
    poses_3d: np.ndarray        # (T, C, J, 3) mm
    poses_2d: np.ndarray        # (T, C, J, 2) px
    extra: dict = field(default_factory=dict)  # name -> (T, C, ...) arrays

    @property
    def size(self) -> int:
        return len(self.frames) * len(self.cameras)

    def sort_key(self) -> tuple:
        return (self.subject, self.action, self.subaction)


@dataclass
class Prepared:
    """What an adapter returns: splits ready for `write_dataset`, plus metadata for meta.json."""

    splits: dict[str, PoseDataset]
    meta: dict
    cleanup: list = field(default_factory=list)  # callables run after writing (temp files)


def assemble(name: str, split: str, skeleton: str, blocks: Iterable[Block], total: int,
             num_joints: int, cameras: CameraTable, meta: dict | None = None,
             key_widths: tuple[int, int, int] = (4, 12, 8)) -> PoseDataset:
    """Fill one split from `blocks` (already in canonical order) holding `total` samples.

    `key_widths`: characters of the subject, action and camera strings (Human3.6M's fit in
    4, 12, 8; longer values would be cut, so they are checked).
    """
    p3 = np.empty((total, num_joints, 3))
    p2 = np.empty((total, num_joints, 2))
    subject = np.empty(total, dtype=f"<U{key_widths[0]}")
    action = np.empty(total, dtype=f"<U{key_widths[1]}")
    subaction = np.empty(total, dtype=np.int64)
    camera = np.empty(total, dtype=f"<U{key_widths[2]}")
    frame = np.empty(total, dtype=np.int64)
    cam_index = np.empty(total, dtype=np.int64)
    extra: dict[str, np.ndarray] = {}
    at = 0
    for b in blocks:
        n = b.size
        if n == 0:
            continue
        if max(len(b.subject) - key_widths[0], len(b.action) - key_widths[1],
               max(len(c) for c in b.cameras) - key_widths[2]) > 0:
            raise ValueError(f"key of {b.sort_key()} longer than key_widths {key_widths}")
        sl = slice(at, at + n)
        p3[sl] = b.poses_3d.reshape(n, num_joints, 3)
        p2[sl] = b.poses_2d.reshape(n, num_joints, 2)
        subject[sl], action[sl], subaction[sl] = b.subject, b.action, b.subaction
        camera[sl] = np.tile(np.asarray(b.cameras), len(b.frames))
        frame[sl] = np.repeat(np.asarray(b.frames, dtype=np.int64), len(b.cameras))
        cam_index[sl] = np.tile(np.asarray(b.camera_rows), len(b.frames))
        for k, v in b.extra.items():
            v = np.asarray(v)
            if k not in extra:
                extra[k] = np.empty((total,) + v.shape[2:], dtype=v.dtype)
            extra[k][sl] = v.reshape((n,) + v.shape[2:])
        at += n
    assert at == total, f"assembled {at} samples, expected {total}"
    keys = SampleKeys(subject, action, subaction, camera, frame)
    ds = PoseDataset(name, split, skeleton, p3, p2, keys, cam_index, cameras, extra=extra,
                     meta=dict(meta or {}))
    return ds


def split_of_h36m_subject(subject: str) -> str:
    """Human3.6M split by subject: S9 and S11 are 'test', every other subject 'train'."""
    return "test" if subject in ("S9", "S11") else "train"


def progress_iter(items, enabled: bool, desc: str):
    """Wrap `items` in a tqdm bar when `enabled` (the CLI enables it only on a terminal)."""
    if not enabled:
        return items
    from tqdm import tqdm  # lazy: only with a progress bar

    return tqdm(items, desc=desc, unit="seq", leave=False)

"""Human3.6M from the original release: <S>/MyPoseFeatures/D3_Positions_mono/*.cdf [+ D2_Positions].

Each file "<basename>.<camera>.cdf" holds ``Pose``: D3_Positions_mono (1, N, 96) = 32 joints
in that camera's frame, mm; D2_Positions (1, N, 64) = 32 joints, px. Read with cdflib.
Converted per trial: 32 -> 17 joints, basename -> (canonical action, official trial), cameras
of a trial stacked frame-major. 2D comes from D2_Positions when present, else from projecting
the 3D with the packaged calibration. Trials whose cameras/files differ in length are trimmed
to the shortest (recorded in meta ``trimmed``); absent camera files are recorded in
``missing_cameras``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from posebench.data.adapters._assemble import (
    Block,
    Prepared,
    assemble,
    progress_iter,
    split_of_h36m_subject,
)
from posebench.data.adapters.h36m_common import (
    CAMERA_IDS,
    camera_rows,
    canonical_subject,
    check_camera_id,
    h36m_camera_table,
    parse_sequence,
)
from posebench.data.h36m_exclusions import H36M_EXCLUSIONS
from posebench.errors import InputError
from posebench.geometry.camera import project
from posebench.skeletons import H36M_32_TO_17

_SUBJECT_DIR = re.compile(r"^S\d+$")


def _read_pose(path: Path, width: int) -> np.ndarray:
    """`Pose` of one cdf -> (N, 32, width // 32) float64."""
    import cdflib  # lazy: optional dependency of the cdf layout

    try:
        pose = np.asarray(cdflib.CDF(str(path)).varget("Pose"))
    except Exception as exc:  # cdflib raises assorted errors for damaged files
        raise InputError(f"{path} could not be read as a Human3.6M CDF ({type(exc).__name__}: "
                         f"{exc}); expected a 'Pose' variable; re-extract the file from the "
                         "original archive.") from None
    pose = pose.reshape(-1, pose.shape[-1]) if pose.ndim >= 2 else pose
    if pose.ndim != 2 or pose.shape[1] != width:
        raise InputError(f"{path}: Pose has shape {pose.shape}; expected (1, N, {width}); use the "
                         "original Human3.6M D3_Positions_mono / D2_Positions files.")
    return pose.reshape(len(pose), 32, width // 32).astype(np.float64)


def _num_frames(path: Path | None) -> int | None:
    """Frames in a cdf's Pose without reading the data (header only)."""
    if path is None:
        return None
    import cdflib  # lazy: optional dependency of the cdf layout

    try:
        dims = cdflib.CDF(str(path)).varinq("Pose").Dim_Sizes
    except Exception as exc:
        raise InputError(f"{path} could not be read as a Human3.6M CDF ({type(exc).__name__}: "
                         f"{exc}); expected a 'Pose' variable; re-extract the file from the "
                         "original archive.") from None
    return int(dims[0]) if len(dims) == 2 else None


def _index(root: Path) -> dict:
    files = sorted(root.rglob("D3_Positions_mono/*.cdf"))
    if not files:
        raise InputError(f"{root} holds no D3_Positions_mono/*.cdf; expected the extracted "
                         "Human3.6M folders (S1/MyPoseFeatures/D3_Positions_mono/...); pass the "
                         "folder that contains the subject folders.")
    trials: dict[tuple, dict] = defaultdict(dict)
    for f in files:
        subj_dir = next((p for p in reversed(f.parts[:-2]) if _SUBJECT_DIR.match(p)), None)
        if subj_dir is None:
            raise InputError(f"{f}: no subject folder (S1, S5, ...) in its path; expected "
                             "<S>/MyPoseFeatures/D3_Positions_mono/<basename>.<camera>.cdf; keep "
                             "the original folder names.")
        subject = canonical_subject(subj_dir, str(f))
        basename, _, cam = f.stem.rpartition(".")
        cam = check_camera_id(cam, str(f))
        action, trial = parse_sequence(subject, basename, str(f))
        if cam in trials[(subject, action, trial)]:
            raise InputError(f"{f} duplicates another file of {subject} {action} trial {trial} "
                             f"camera {cam}; expected one file per trial and camera; remove it.")
        d2 = f.parent.parent / "D2_Positions" / f.name
        trials[(subject, action, trial)][cam] = (f, d2 if d2.is_file() else None, basename)
    return trials


def read_cdf(path: Path, *, name: str = "h36m", progress: bool = False) -> Prepared:
    """Read the original Human3.6M CDF pose files under `path` -> train/test splits."""
    trials = _index(Path(path))
    keys = sorted(trials)
    meta = {"layout": "cdf", "frame_index": "0-based index of the 50 Hz video frame",
            "calibration": "posebench/facts/h36m_cameras.json (packaged)",
            "two_d": "D2_Positions labels where present, else projection", "trimmed": [],
            "missing_cameras": [], "projected_2d": []}
    meta["h36m_exclusions"] = list(H36M_EXCLUSIONS)
    splits = {}
    for split in ("train", "test"):
        mine = [k for k in keys if split_of_h36m_subject(k[0]) == split]
        if not mine:
            continue
        table = h36m_camera_table(sorted({k[0] for k in mine}))
        sizes = [_trial_size(trials[k]) for k in mine]
        if any(s is None for s in sizes):  # header without lengths: read everything first
            blocks = [_load_trial(k, trials[k], table, meta) for k in mine]
            sizes = [b.size for b in blocks]
        else:
            blocks = (_load_trial(k, trials[k], table, meta)
                      for k in progress_iter(mine, progress, f"{name}/{split}"))
        splits[split] = assemble(name, split, "h36m17", blocks, sum(sizes), 17, table)
    return Prepared(splits, meta)


def _trial_size(cams: dict) -> int | None:
    lengths = [_num_frames(f) for f3, f2, _ in cams.values() for f in (f3, f2) if f is not None]
    if any(n is None for n in lengths):
        return None
    return min(lengths) * len(cams)


def _load_trial(key, cams: dict, table, meta) -> Block:
    subject, action, trial = key
    order = [c for c in CAMERA_IDS if c in cams]
    missing = [c for c in CAMERA_IDS if c not in cams]
    if missing:
        meta["missing_cameras"].append({"subject": subject, "action": action,
                                        "subaction": trial, "cameras": missing})
    p3 = [_read_pose(cams[c][0], 96)[:, H36M_32_TO_17] for c in order]
    p2 = [_read_pose(cams[c][1], 64)[:, H36M_32_TO_17] if cams[c][1] else None for c in order]
    lengths = [len(a) for a in p3] + [len(a) for a in p2 if a is not None]
    length = min(lengths)
    if any(n != length for n in lengths):
        meta["trimmed"].append({"subject": subject, "action": action, "subaction": trial,
                                "basename": cams[order[0]][2], "lengths": lengths,
                                "kept": length})
    rows = camera_rows(table, subject, "calibration")[[CAMERA_IDS.index(c) for c in order]]
    cam3d = np.stack([a[:length] for a in p3], axis=1)                  # (T, C, 17, 3)
    uv = project(cam3d, table.f[rows][None], table.c[rows][None], table.k[rows][None],
                 table.p[rows][None], table.distortion)
    for i, a in enumerate(p2):
        if a is None:
            meta["projected_2d"].append(f"{subject}/{cams[order[i]][2]}.{order[i]}")
        else:
            uv[:, i] = a[:length]
    return Block(subject, action, trial, np.arange(length), tuple(order), rows, cam3d, uv)

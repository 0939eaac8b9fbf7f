"""Human3.6M from VideoPose3D's files: data_3d_h36m.npz [+ data_2d_h36m_gt.npz].

``data_3d_h36m.npz``: ``positions_3d`` = pickled dict subject -> sequence basename ->
(T, 32, 3) world metres (z up). ``data_2d_h36m_gt.npz``: ``positions_2d`` = dict subject ->
basename -> list of 4 (T_c, 17, 2) px arrays in camera order 54138969, 55011271, 58860488,
60457274. Both are read through the restricted unpickler (never ``allow_pickle``).

Conversion, per trial: metres -> mm, 32 -> 17 joints (`H36M_32_TO_17`), world -> camera with
the packaged calibration (``X_c = R X_w + t``), 2D by projecting with the Human3.6M distortion
model, or, when the 2D file is given, its labels: then its per-camera lengths trim the trial to
the frames present in both mocap and video (recorded in meta ``trimmed``) and its agreement
with the projection is recorded (``gt_2d_max_deviation_px``, about 4e-5 px for the real files).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import posebench.data.h36m_exclusions as ex
from posebench.data.adapters._assemble import (
    Block,
    Prepared,
    assemble,
    progress_iter,
    split_of_h36m_subject,
)
from posebench.data.adapters._npz_objects import read_object_member
from posebench.data.adapters.h36m_common import (
    CAMERA_IDS,
    camera_rows,
    canonical_subject,
    h36m_camera_table,
    parse_sequence,
)
from posebench.errors import InputError
from posebench.geometry.camera import project, world_to_camera
from posebench.skeletons import H36M_32_TO_17

FILE_3D = "data_3d_h36m.npz"
FILE_2D = "data_2d_h36m_gt.npz"
_FIX_3D = ("VideoPose3D's data_3d_h36m.npz with 'positions_3d' (dict subject -> action -> "
           "(T, 32, 3) metres)")
_FIX_2D = ("VideoPose3D's data_2d_h36m_gt.npz with 'positions_2d' (dict subject -> action -> "
           "list of 4 (T, 17, 2) px arrays)")


def _locate(path: Path) -> tuple[Path, Path | None]:
    if path.is_dir():
        f3 = path / FILE_3D
        if not f3.is_file():
            raise InputError(f"{path} has no {FILE_3D}; expected the folder holding "
                             f"VideoPose3D's {FILE_3D} (and optionally {FILE_2D}); pass that "
                             "folder or the file itself.")
        f2 = path / FILE_2D
        return f3, (f2 if f2.is_file() else None)
    sibling = path.parent / FILE_2D
    return path, (sibling if sibling.is_file() else None)


def _check_3d(arr, where: str) -> np.ndarray:
    if not isinstance(arr, np.ndarray) or arr.ndim != 3 or arr.shape[1:] != (32, 3) \
            or arr.dtype.kind not in "fiu":
        shape = getattr(arr, "shape", type(arr).__name__)
        raise InputError(f"{where} holds {shape}; expected a (T, 32, 3) numeric array of world "
                         "positions in metres; regenerate the file with VideoPose3D's "
                         "prepare_data_h36m.py.")
    probe = arr[: min(len(arr), 50)]
    if probe.size and np.nanmax(np.abs(probe)) > 50:
        raise InputError(f"{where} has coordinates up to {np.nanmax(np.abs(probe)):.0f}, which "
                         "look like millimetres; expected metres as VideoPose3D stores them; "
                         "divide by 1000 or use the original file.")
    return arr


def read_videopose3d(path: Path, *, name: str = "h36m", progress: bool = False) -> Prepared:
    """Read VideoPose3D's files at `path` (folder or data_3d_h36m.npz) -> train/test splits."""
    file3d, file2d = _locate(Path(path))
    pos3d = read_object_member(file3d, "positions_3d", _FIX_3D)
    if not isinstance(pos3d, dict):
        raise InputError(f"{file3d} ('positions_3d') holds a {type(pos3d).__name__}; expected "
                         f"{_FIX_3D}; pass the VideoPose3D file.")
    pos2d = read_object_member(file2d, "positions_2d", _FIX_2D) if file2d else None
    if pos2d is not None and not isinstance(pos2d, dict):
        raise InputError(f"{file2d} ('positions_2d') holds a {type(pos2d).__name__}; expected "
                         f"{_FIX_2D}; pass the VideoPose3D 2D file.")

    # ---- index every trial, validate, decide lengths (trim mocap/video mismatches)
    seqs, trimmed, seen = [], [], {}
    for raw_subject, actions in pos3d.items():
        subject = canonical_subject(raw_subject, f"{file3d} ('positions_3d')")
        if not isinstance(actions, dict):
            raise InputError(f"{file3d}: entry '{raw_subject}' holds a "
                             f"{type(actions).__name__}; expected {_FIX_3D}.")
        for basename, arr in actions.items():
            where = f"{file3d} ('positions_3d'/{raw_subject}/{basename})"
            arr = _check_3d(arr, where)
            action, trial = parse_sequence(subject, str(basename), where)
            if (subject, action, trial) in seen:
                raise InputError(f"{where} and '{seen[(subject, action, trial)]}' are the same "
                                 f"trial ({subject} {action} {trial}); expected one entry per "
                                 "trial; remove the duplicate.")
            seen[(subject, action, trial)] = basename
            length = len(arr)
            lengths_2d = None
            if pos2d is not None:
                lengths_2d = _lengths_2d(pos2d, raw_subject, basename, file2d)
                length = min([length, *lengths_2d])
                if any(n != len(arr) for n in lengths_2d):
                    trimmed.append({"subject": subject, "action": action, "subaction": trial,
                                    "basename": str(basename), "mocap_frames": len(arr),
                                    "video_frames": lengths_2d, "kept": length})
            seqs.append((subject, action, trial, raw_subject, basename, length))
    if not seqs:
        raise InputError(f"{file3d} holds no sequences; expected {_FIX_3D}.")
    seqs.sort(key=lambda s: (s[0], s[1], s[2]))

    meta = {"layout": "videopose3d", "frame_index": "0-based index of the 50 Hz mocap/video "
            "frame", "calibration": "posebench/facts/h36m_cameras.json (packaged)",
            "trimmed": trimmed, "two_d": f"labels of {file2d}" if file2d else "projected "
            "from 3D with the Human3.6M distortion model", "h36m_exclusions": _exclusion_names()}
    deviation = [0.0]
    splits = {}
    for split in ("train", "test"):
        mine = [s for s in seqs if split_of_h36m_subject(s[0]) == split]
        if not mine:
            continue
        subjects = sorted({s[0] for s in mine})
        table = h36m_camera_table(subjects)
        total = sum(s[5] for s in mine) * len(CAMERA_IDS)
        blocks = _blocks(mine, pos3d, pos2d, table, deviation, progress, f"{name}/{split}")
        splits[split] = assemble(name, split, "h36m17", blocks, total, 17, table)
    meta["gt_2d_max_deviation_px"] = deviation[0] if pos2d is not None else None
    return Prepared(splits, meta)


def _exclusion_names() -> list[str]:
    return list(ex.H36M_EXCLUSIONS)


def _lengths_2d(pos2d: dict, raw_subject, basename, file2d: Path) -> list[int]:
    where = f"{file2d} ('positions_2d'/{raw_subject}/{basename})"
    try:
        views = pos2d[raw_subject][basename]
    except (KeyError, TypeError):
        raise InputError(f"{where} is missing; expected 2D for every trial of the 3D file; use "
                         "the 2D file made from the same data_3d_h36m.npz or omit it.") from None
    if not isinstance(views, (list, tuple)) or len(views) != len(CAMERA_IDS):
        n = len(views) if isinstance(views, (list, tuple)) else type(views).__name__
        raise InputError(f"{where} has {n} camera views; expected {len(CAMERA_IDS)} (cameras "
                         f"{', '.join(CAMERA_IDS)}); a camera is missing: regenerate the 2D "
                         "file or omit it to project 2D from 3D.")
    for v in views:
        if not isinstance(v, np.ndarray) or v.ndim != 3 or v.shape[1:] != (17, 2):
            raise InputError(f"{where} holds {getattr(v, 'shape', type(v).__name__)}; expected "
                             "(T, 17, 2) pixel arrays; regenerate the 2D file.")
    return [len(v) for v in views]


def _blocks(seqs, pos3d, pos2d, table, deviation, progress, desc):
    for subject, action, trial, raw_subject, basename, length in progress_iter(seqs, progress,
                                                                               desc):
        rows = camera_rows(table, subject, "calibration")
        world = np.asarray(pos3d[raw_subject][basename][:length], dtype=np.float64)
        world = world[:, H36M_32_TO_17] * 1000.0                      # (T, 17, 3) mm
        cam = world_to_camera(world[:, None], table.R[rows][None], table.t[rows][None])
        uv = project(cam, table.f[rows][None], table.c[rows][None], table.k[rows][None],
                     table.p[rows][None], table.distortion)            # (T, 4, 17, 2)
        if pos2d is not None:
            gt = np.stack([np.asarray(v[:length], dtype=np.float64)
                           for v in pos2d[raw_subject][basename]], axis=1)
            deviation[0] = max(deviation[0], float(np.abs(gt - uv).max(initial=0.0)))
            uv = gt
        yield Block(subject, action, trial, np.arange(length), CAMERA_IDS, rows, cam, uv)

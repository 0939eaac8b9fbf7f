"""Human3.6M from mmpose's converted files: h36m_{train,test}.npz [+ cameras.pkl].

Arrays (N rows): ``imgname`` e.g. "S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg"
(video basename with spaces as underscores, camera id, 1-based frame number), ``S``
(N, 17, 4) camera-frame metres + visibility, ``part`` (N, 17, 3) px + visibility; joints in
Human3.6M-17 order (index 1 is the RIGHT hip whatever a json of names says: the tests check
chirality against the calibrated geometry). Converted: metres -> mm, frame number - 1 ->
0-based frame, basename -> (canonical action, official trial). Calibration: the packaged one
(identical across layouts, so fingerprints match); ``cameras.pkl`` (restricted unpickler),
when present, must contain every (subject, camera) used and agree with it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posebench.data.adapters._assemble import Prepared, split_of_h36m_subject
from posebench.data.adapters.h36m_common import (
    CAMERA_IDS,
    camera_row_id,
    canonical_subject,
    check_camera_id,
    h36m_camera_table,
    parse_sequence,
)
from posebench.data.adapters.visibility import visible_2d
from posebench.data.dataset import CameraTable, PoseDataset, SampleKeys
from posebench.data.h36m_exclusions import H36M_EXCLUSIONS
from posebench.errors import InputError
from posebench.io import load_pickle_file, unreadable_npz

_SUBDIRS = (".", "annotation_body3d/fps50", "annotations")


def _locate(path: Path) -> tuple[list[Path], Path | None]:
    if path.is_file():
        files = [path]
    else:
        files = []
        for sub in _SUBDIRS:
            files = sorted((path / sub).glob("*h36m*.npz"))
            if files:
                break
        if not files:
            raise InputError(f"{path} holds no h36m_*.npz; expected mmpose's h36m_train.npz / "
                             "h36m_test.npz (or annotation_body3d/fps50/); pass that folder or "
                             "one file.")
    cams = None
    for folder in {files[0].parent, files[0].parent.parent, path if path.is_dir() else None}:
        if folder is not None and (folder / "cameras.pkl").is_file():
            cams = folder / "cameras.pkl"
    return files, cams


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    need = ("imgname", "S", "part")
    with unreadable_npz(f"{path} could not be read as .npz", "expected mmpose's h36m npz "
                        "written by np.savez; re-create the file (it may be truncated)."):
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in need if k not in z.files]
            if missing:
                raise InputError(f"{path} lacks array(s) {', '.join(missing)} (found: "
                                 f"{', '.join(z.files)}); expected mmpose's h36m npz with "
                                 "imgname, S, part; pass the file written by mmpose's "
                                 "preprocess_h36m.py.")
            return {k: z[k] for k in need}


def parse_imgnames(imgname: np.ndarray, source: str):
    """(N,) mmpose image names -> subject, action, trial, camera (N,) arrays and 0-based frame.

    Each distinct video is parsed once; frame numbers in names are 1-based.
    """
    names = np.asarray(imgname).astype(str)
    base = np.char.rpartition(names, "/")[:, 2]
    video, _, tail = np.char.rpartition(base, "_").T
    digits = np.char.partition(tail, ".")[:, 0]
    if not np.all(np.char.isdigit(digits)) or np.any(video == ""):
        bad = names[~np.char.isdigit(digits) | (video == "")][0]
        raise InputError(f"{source}: image name '{bad}' does not parse; expected "
                         "'S1_Directions_1.54138969_000001.jpg' (subject_basename.camera_frame); "
                         "use the names written by mmpose's preprocess_h36m.py.")
    frame = digits.astype(np.int64) - 1
    if frame.size and frame.min() < 0:
        raise InputError(f"{source}: frame number 0 found in image names; expected 1-based "
                         "frame numbers as mmpose writes them; check the file.")
    uniq, inv = np.unique(video, return_inverse=True)
    parsed = [_parse_video(v, source) for v in uniq]
    cols = [np.array([p[i] for p in parsed]) for i in range(4)]
    return tuple(c[inv] for c in cols) + (frame,)


def _parse_video(video: str, source: str) -> tuple[str, str, int, str]:
    head, dot, cam = video.rpartition(".")
    subj, us, basename = head.partition("_")
    if not dot or not us:
        raise InputError(f"{source}: video name '{video}' does not parse; expected "
                         "'S1_Directions_1.54138969'; use mmpose's image names.")
    subject = canonical_subject(subj, source)
    action, trial = parse_sequence(subject, basename, source)
    return subject, action, trial, check_camera_id(cam, source)


def check_cameras_pkl(path: Path, pairs: set[tuple[str, str]], table: CameraTable) -> dict:
    """Check mmpose's cameras.pkl has every (subject, camera) in `pairs` and agrees with the
    packaged calibration; returns the largest deviations found (for meta.json)."""
    cams = load_pickle_file(path)
    if not isinstance(cams, dict):
        raise InputError(f"{path} holds a {type(cams).__name__}; expected a dict (subject, "
                         "camera) -> parameters; regenerate it with mmpose's preprocess_h36m.py.")
    rows = {str(i): r for r, i in enumerate(table.ids)}
    dev = {"R": 0.0, "centre_mm": 0.0, "f_px": 0.0, "c_px": 0.0, "k": 0.0, "p": 0.0}
    for subject, cam in sorted(pairs):
        entry = cams.get((subject, cam))
        if entry is None:
            raise InputError(f"{path} has no calibration for ({subject}, {cam}); expected an "
                             "entry per subject and camera used by the annotations; regenerate "
                             "cameras.pkl with mmpose's preprocess_h36m.py or delete it to use "
                             "the packaged calibration.")
        try:
            r = rows[camera_row_id(subject, cam)]
            R = np.asarray(entry["R"], dtype=np.float64).T  # stored camera -> world
            dev["R"] = max(dev["R"], float(np.abs(R - table.R[r]).max()))
            centre = np.asarray(entry["T"], dtype=np.float64).ravel() * 1000.0
            dev["centre_mm"] = max(dev["centre_mm"], float(np.abs(centre - table.centre[r]).max()))
            for key, ours in (("f", table.f[r]), ("c", table.c[r]), ("k", table.k[r]),
                              ("p", table.p[r][::-1])):  # metadata (p1, p2) order
                theirs = np.asarray(entry[key], dtype=np.float64).ravel()
                name = {"f": "f_px", "c": "c_px"}.get(key, key)
                dev[name] = max(dev[name], float(np.abs(theirs - ours).max()))
        except (KeyError, ValueError, TypeError) as exc:
            raise InputError(f"{path}: entry ({subject}, {cam}) is malformed ({exc}); expected "
                             "R, T, f, c, k, p arrays; regenerate cameras.pkl.") from None
    limits = {"R": 1e-4, "centre_mm": 1.0, "f_px": 0.01, "c_px": 0.01, "k": 1e-5, "p": 1e-5}
    off = [k for k, v in dev.items() if v > limits[k]]
    if off:
        raise InputError(f"{path} disagrees with the published Human3.6M calibration ("
                         + ", ".join(f"{k} off by {dev[k]:.3g}" for k in off)
                         + "); expected mmpose's cameras.pkl of the same dataset; regenerate "
                         "it or delete it to use the packaged calibration.")
    return dev


def read_mmpose(path: Path, *, name: str = "h36m", progress: bool = False) -> Prepared:
    """Read mmpose's h36m npz file(s) at `path` (folder or file) -> train/test splits."""
    files, cams_pkl = _locate(Path(path))
    parts: dict[str, list[dict]] = {"train": [], "test": []}
    for f in files:
        for sp, chunk in _file_chunks(f).items():
            parts[sp].append(chunk)
    pairs = set()
    splits = {}
    for sp, chunks in parts.items():
        if chunks:
            splits[sp], sp_pairs = _split_dataset(name, sp, chunks)
            pairs |= sp_pairs
    if not splits:
        raise InputError(f"{path} holds no samples; expected mmpose's h36m annotations.")
    meta = {"layout": "mmpose", "frame_index": "0-based (mmpose image names are 1-based)",
            "calibration": "posebench/facts/h36m_cameras.json (packaged)",
            "two_d": "mmpose 'part' labels (flag 0: not visible, NaN)", "cameras_pkl": None,
            "trimmed": [], "not_visible_2d": int(sum(np.isnan(d.poses_2d[..., 0]).sum()
                                                     for d in splits.values()))}
    if cams_pkl is not None:
        table = h36m_camera_table()
        meta["cameras_pkl"] = {"path": str(cams_pkl),
                               "max_deviation": check_cameras_pkl(cams_pkl, pairs, table)}
    meta["h36m_exclusions"] = list(H36M_EXCLUSIONS)
    assert all(c in CAMERA_IDS for c in {p[1] for p in pairs})
    return Prepared(splits, meta)


def _file_chunks(f: Path) -> dict[str, dict]:
    """{split: arrays} of one mmpose h36m npz: keys, S (N, 17, 3) m, part (N, 17, 2) px,
    image paths, by the split of each sample's subject."""
    a = _load_arrays(f)
    n = len(a["imgname"])
    if a["S"].shape[:2] != (n, 17) or a["S"].shape[2] < 3 or a["part"].shape[:2] != (n, 17) \
            or a["part"].shape[2] < 2:
        raise InputError(f"{f}: S {a['S'].shape} / part {a['part'].shape} do not match "
                         f"{n} image names; expected S (N, 17, 4) metres and part "
                         "(N, 17, 3) px; use the file written by mmpose.")
    s3 = a["S"][..., :3]
    if n and np.nanmax(np.abs(s3)) > 50:
        raise InputError(f"{f}: S has coordinates up to {np.nanmax(np.abs(s3)):.0f}, which "
                         "look like millimetres; expected metres as mmpose stores them; "
                         "divide S by 1000.")
    subject, action, trial, camera, frame = parse_imgnames(a["imgname"], str(f))
    split = np.array([split_of_h36m_subject(s) for s in subject]) if n else np.array([])
    out = {}
    for sp in ("train", "test"):
        m = split == sp
        if m.any():
            out[sp] = {"subject": subject[m], "action": action[m], "subaction": trial[m],
                       "camera": camera[m], "frame": frame[m], "S": s3[m],
                       "part": visible_2d(a["part"][m])[0],
                       "image_path": np.asarray(a["imgname"])[m].astype(str),
                       "source": str(f)}
    return out


def _split_dataset(name: str, sp: str, chunks: list[dict]) -> tuple[PoseDataset, set]:
    """(PoseDataset of split `sp` in canonical order, {(subject, camera)} pairs it uses) from
    the chunks of every file; InputError for a sample given twice."""
    cat = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0] if k != "source"}
    keys = SampleKeys(cat["subject"], cat["action"], cat["subaction"], cat["camera"],
                      cat["frame"])
    order = keys.sort_order()
    keys = keys.take(order)
    strings = keys.as_strings()
    if len(np.unique(strings)) != len(strings):
        dup = strings[np.flatnonzero(strings[1:] == strings[:-1])[0]]
        raise InputError(f"{chunks[0]['source']}: sample {dup} appears twice; expected one "
                         "row per (subject, action, trial, camera, frame); remove "
                         "duplicates.")
    subjects = sorted(set(keys.subject.tolist()))
    table = h36m_camera_table(subjects)
    lookup = {str(i): r for r, i in enumerate(table.ids)}
    row_ids = np.char.add(np.char.add(keys.subject, "."), keys.camera)
    uniq, inv = np.unique(row_ids, return_inverse=True)
    cam_index = np.array([lookup[u] for u in uniq])[inv]
    pairs = {tuple(u.split(".")) for u in uniq}
    poses_3d = cat["S"][order] * 1000.0
    poses_2d = cat["part"][order].astype(np.float64)
    image_path = cat["image_path"][order]
    del cat
    ds = PoseDataset(name, sp, "h36m17", poses_3d, poses_2d, keys, cam_index, table,
                     image_path=image_path)
    return ds, pairs

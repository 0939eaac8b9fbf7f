"""MPI-INF-3DHP official test set: TS1..TS6/annot_data.mat (MATLAB v7.3 = HDF5, read by h5py).

Per sequence TSn (N frames): ``annot2`` (2D px), ``annot3`` (3D camera frame mm),
``univ_annot3`` (3D rescaled to the universal skeleton height: the official evaluation ground
truth), ``valid_frame`` (N,), ``activity_annotation`` (N,) codes 1..7. MATLAB stores 3x17x1xN;
h5py shows the axes reversed, (N, 1, 17, 3): both orders are accepted. Joints: the 17-joint
test order (skeleton "3dhp17", pelvis index 14 = root).

Keys: subject = "TS1".."TS6", action = official activity name, subaction = 1, camera = the
sequence name (one camera per sequence), frame = 0-based index. extra: ``univ_poses_3d``
(N, 17, 3) mm and ``scene`` ("GS" TS1-2, "noGS" TS3-4, "outdoor" TS5-6); ``valid`` from
valid_frame. The .mat files carry no intrinsics: a pinhole (f, c) is fitted per sequence by
least squares to annot2 ~ f * annot3[:2] / annot3[2] + c over valid frames (residual in
meta ``intrinsics_fit_rms_px``); image sizes are 2048x2048 (TS1-4) and 1920x1080 (TS5-6).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from posebench.data.adapters._assemble import Prepared
from posebench.data.dataset import CameraTable, PoseDataset, SampleKeys
from posebench.errors import InputError

#: Official activity labels (mpii_get_activity_name.m of the 3DHP test-set code), codes 1..7.
ACTIVITIES = {1: "Standing/Walking", 2: "Exercising", 3: "Sitting", 4: "Reaching/Crouching",
              5: "On The Floor", 6: "Sports", 7: "Miscellaneous"}
UNLABELLED = "Unlabelled"
SEQUENCES = ("TS1", "TS2", "TS3", "TS4", "TS5", "TS6")
SCENES = {"TS1": "GS", "TS2": "GS", "TS3": "noGS", "TS4": "noGS", "TS5": "outdoor",
          "TS6": "outdoor"}
IMAGE_SIZE = {s: ((2048, 2048) if s in ("TS1", "TS2", "TS3", "TS4") else (1920, 1080))
              for s in SEQUENCES}


def activity_names(codes: np.ndarray) -> np.ndarray:
    """(N,) activity codes -> (N,) names ("Unlabelled" outside 1..7)."""
    lut = np.array([UNLABELLED] + [ACTIVITIES[i] for i in range(1, 8)])
    codes = np.asarray(codes).astype(np.int64).ravel()
    return np.where((codes >= 1) & (codes <= 7), lut[np.clip(codes, 0, 7)], UNLABELLED)


def test_sequence(name: str, source: str) -> str:
    s = str(name).upper()
    if s not in SEQUENCES:
        raise InputError(f"{source}: unknown MPI-INF-3DHP test sequence '{name}'; expected one of "
                         f"{', '.join(SEQUENCES)}; keep the official folder names.")
    return s


def _joints(a: np.ndarray, dim: int, where: str) -> np.ndarray:
    """(N, 17, dim) from h5py's (N, 1, 17, dim) or MATLAB's (dim, 17, 1, N) axis order."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim >= 2 and a.shape[-1] == dim and a.shape[-2] == 17:
        return a.reshape(-1, 17, dim)
    if a.ndim >= 2 and a.shape[0] == dim and a.shape[1] == 17:
        return a.reshape(dim, 17, -1).transpose(2, 1, 0)
    raise InputError(f"{where} has shape {a.shape}; expected {dim}x17x1xN (MATLAB) joints; use "
                     "the official test-set annot_data.mat.")


def fit_pinhole(uv: np.ndarray, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Least-squares f, c (2,) px with uv ~ f * xyz[:2] / xyz[2] + c; also the RMS residual."""
    x = (xyz[..., :2] / xyz[..., 2:3]).reshape(-1, 2)
    u = uv.reshape(-1, 2)
    ok = np.all(np.isfinite(x), 1) & np.all(np.isfinite(u), 1)
    f, c, res = np.zeros(2), np.zeros(2), []
    for ax in range(2):
        A = np.stack([x[ok, ax], np.ones(ok.sum())], 1)
        (f[ax], c[ax]), *_ = np.linalg.lstsq(A, u[ok, ax], rcond=None)
        res.append(A @ np.array([f[ax], c[ax]]) - u[ok, ax])
    return f, c, float(np.sqrt(np.mean(np.concatenate(res) ** 2)))


def _read_sequence(path: Path, seq: str) -> dict:
    import h5py  # lazy: optional dependency of the mat layout

    need = ("annot2", "annot3", "univ_annot3", "valid_frame", "activity_annotation")
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in need if k not in f]
            if missing:
                raise InputError(f"{path} lacks {', '.join(missing)}; expected the official "
                                 f"test-set annot_data.mat with {', '.join(need)}; re-download "
                                 "it.")
            raw = {k: np.asarray(f[k]) for k in need}
    except InputError:
        raise
    except OSError as exc:
        raise InputError(f"{path} could not be read as MATLAB v7.3/HDF5 ({exc}); expected the "
                         "official annot_data.mat (v7.3); re-download it or re-save it in MATLAB "
                         "with save(..., '-v7.3').") from None
    out = {"annot2": _joints(raw["annot2"], 2, f"{path} (annot2)"),
           "annot3": _joints(raw["annot3"], 3, f"{path} (annot3)"),
           "univ": _joints(raw["univ_annot3"], 3, f"{path} (univ_annot3)"),
           "valid": raw["valid_frame"].ravel().astype(bool),
           "activity": raw["activity_annotation"].ravel()}
    n = len(out["annot3"])
    for k in ("annot2", "univ", "valid", "activity"):
        if len(out[k]) != n:
            raise InputError(f"{path}: {k} has {len(out[k])} frames but annot3 has {n}; expected "
                             "one entry per frame; re-download the file.")
    return out


def read_mat(path: Path, *, name: str = "3dhp", progress: bool = False) -> Prepared:
    """Read the official test set under `path` (folder with TS1..TS6) -> {'test': dataset}."""
    path = Path(path)
    files = sorted(path.rglob("annot_data.mat"))
    files = [f for f in files if re.fullmatch(r"TS\d+", f.parent.name, re.IGNORECASE)]
    if not files:
        raise InputError(f"{path} holds no TS*/annot_data.mat; expected the MPI-INF-3DHP test "
                         "set folder (mpi_inf_3dhp_test_set/TS1..TS6); pass that folder.")
    seqs = {}
    for f in files:
        seq = test_sequence(f.parent.name, str(f))
        if seq in seqs:
            raise InputError(f"{f} duplicates {seq}; expected one annot_data.mat per sequence; "
                             "pass a folder with one copy of the test set.")
        seqs[seq] = _read_sequence(f, seq)
    names = sorted(seqs)
    fs, cs, rms, parts = [], [], {}, []
    for r, seq in enumerate(names):
        d = seqs[seq]
        v = d["valid"] if d["valid"].any() else np.ones_like(d["valid"])
        f, c, rms[seq] = fit_pinhole(d["annot2"][v], d["annot3"][v])
        fs.append(f)
        cs.append(c)
        n = len(d["annot3"])
        parts.append({"subject": np.full(n, seq), "action": activity_names(d["activity"]),
                      "frame": np.arange(n), "row": np.full(n, r), "p3": d["annot3"],
                      "p2": d["annot2"], "univ": d["univ"], "valid": d["valid"]})
    C = len(names)
    table = CameraTable(np.array(names), np.array(fs), np.array(cs), np.zeros((C, 3)),
                        np.zeros((C, 2)), np.tile(np.eye(3), (C, 1, 1)), np.zeros((C, 3)),
                        [IMAGE_SIZE[s][0] for s in names], [IMAGE_SIZE[s][1] for s in names],
                        "none")
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    keys = SampleKeys(cat["subject"], cat["action"], np.ones(len(cat["frame"])),
                      cat["subject"], cat["frame"])
    ds = PoseDataset(name, "test", "3dhp17", cat["p3"], cat["p2"], keys, cat["row"], table,
                     valid=cat["valid"],
                     extra={"univ_poses_3d": cat["univ"],
                            "scene": np.array([SCENES[s] for s in names])[cat["row"]]})
    meta = {"layout": "mat", "frame_index": "0-based index of the test-sequence frame",
            "sequences": names, "intrinsics_fit_rms_px": rms, "activities": ACTIVITIES,
            "scenes": SCENES, "univ_poses_3d": "univ_annot3 (official evaluation ground truth)",
            "valid_frames": int(cat["valid"].sum())}
    return Prepared({"test": ds.sorted()}, meta)

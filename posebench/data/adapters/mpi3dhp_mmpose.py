"""MPI-INF-3DHP from mmpose's converted files.

``mpi_inf_3dhp_train.npz`` / ``mpi_inf_3dhp_test_valid.npz`` (or ``_test_all``): ``imgname``
("S4_Seq2_Cam0_001033.jpg" / "TS1_002001.jpg", 1-based frame numbers), ``S`` (N, 17, 4)
camera-frame metres + visibility, ``part`` (N, 17, 3) px + visibility, 17-joint test order.
``cameras_train.pkl`` ("S1_Seq1_Cam0" -> R, T (world -> camera, metres), f, c, w, h) and
``cameras_test.pkl`` ("TS1" -> f, c, w, h), read with the restricted unpickler.

Known defect, repaired with a warning: mmpose's cameras_train.pkl stores ``h = 204.0`` where
the image height is 2048 (the train videos are 2048x2048).

Keys: train subject "S1".."S8", subaction = sequence number, camera = camera number ("0".."8");
test subject = camera = "TS1".."TS6"; action "Unlabelled" (mmpose keeps no activity labels);
frame 0-based. Test extra ``scene``; ``valid`` is True for a *_test_valid file. mmpose keeps
annot3 only, so ``univ_poses_3d`` is absent (the 3dhp presets fall back to poses_3d; use the
``mat`` layout for the official universal ground truth).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from posebench.data.adapters._assemble import Prepared
from posebench.data.adapters.mpi3dhp_mat import SCENES, UNLABELLED, test_sequence
from posebench.data.adapters.visibility import visible_2d
from posebench.data.dataset import CameraTable, PoseDataset, SampleKeys
from posebench.errors import InputError
from posebench.io import load_pickle_file, unreadable_npz

_TRAIN_NAME = re.compile(r"^(S\d+)_Seq(\d+)_Cam(\d+)_(\d+)\.\w+$")
_TEST_NAME = re.compile(r"^(TS\d+)_(\d+)\.\w+$")
TRAIN_IMAGE_SIZE = 2048


def _load(path: Path) -> dict[str, np.ndarray]:
    with unreadable_npz(f"{path} could not be read as .npz", "expected mmpose's mpi_inf_3dhp "
                        "npz; re-create it (it may be truncated)."):
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("imgname", "S", "part") if k not in z.files]
            if missing:
                raise InputError(f"{path} lacks array(s) {', '.join(missing)}; expected mmpose's "
                                 "mpi_inf_3dhp npz with imgname, S, part; pass the file written "
                                 "by mmpose's preprocess_mpi_inf_3dhp.py.")
            out = {k: z[k] for k in ("imgname", "S", "part")}
    n = len(out["imgname"])
    if out["S"].shape[:2] != (n, 17) or out["part"].shape[:2] != (n, 17):
        raise InputError(f"{path}: S {out['S'].shape} / part {out['part'].shape} do not match "
                         f"{n} image names; expected (N, 17, 4) and (N, 17, 3).")
    if n and np.nanmax(np.abs(out["S"][..., :3])) > 50:
        raise InputError(f"{path}: S looks like millimetres; expected metres as mmpose stores "
                         "them; divide S by 1000.")
    return out


def _camera(entry, key: str, path: Path, repairs: list) -> tuple:
    try:
        f = np.asarray(entry["f"], dtype=np.float64).ravel()
        c = np.asarray(entry["c"], dtype=np.float64).ravel()
        w, h = float(entry["w"]), float(entry["h"])
        R = np.asarray(entry.get("R", np.eye(3)), dtype=np.float64).reshape(3, 3)
        t = np.asarray(entry.get("T", np.zeros(3)), dtype=np.float64).ravel() * 1000.0
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: camera '{key}' is malformed ({exc}); expected f, c, w, h "
                         "(and R, T for training cameras); regenerate the file.") from None
    if h == 204.0 and w == TRAIN_IMAGE_SIZE:
        repairs.append(key)
        h = float(TRAIN_IMAGE_SIZE)
    return f, c, R, t, int(w), int(h)


def _cameras(path: Path | None, keys: list[str], what: str) -> tuple[CameraTable, list]:
    if path is None:
        raise InputError(f"no {what} next to the annotations; expected mmpose's {what} in the "
                         "same folder; copy it there.")
    cams = load_pickle_file(path)
    if not isinstance(cams, dict):
        raise InputError(f"{path} holds a {type(cams).__name__}; expected a dict of cameras; "
                         "regenerate it with mmpose's preprocess_mpi_inf_3dhp.py.")
    repairs, rows = [], []
    for k in keys:
        if k not in cams:
            raise InputError(f"{path} has no camera '{k}'; expected an entry for every camera "
                             "the annotations use; regenerate it with mmpose's "
                             "preprocess_mpi_inf_3dhp.py.")
        rows.append(_camera(cams[k], k, path, repairs))
    f, c, R, t, w, h = (np.array(x) for x in zip(*rows))
    n = len(keys)
    table = CameraTable(np.array(keys), f, c, np.zeros((n, 3)), np.zeros((n, 2)), R, t, w, h,
                        "none")
    if repairs:
        warnings.warn(f"{path}: camera height h = 204.0 where the image height is 2048 (a known "
                      f"defect of mmpose's cameras_train.pkl) for {len(repairs)} camera(s); "
                      "repaired to 2048.", UserWarning, stacklevel=2)
    return table, repairs


def _split(path: Path, cams_path: Path | None, name: str, split: str) -> tuple[PoseDataset, dict]:
    a = _load(path)
    base = [Path(str(s)).name for s in a["imgname"]]
    rx = _TRAIN_NAME if split == "train" else _TEST_NAME
    m = [rx.match(b) for b in base]
    if not all(m):
        bad = base[[i for i, x in enumerate(m) if x is None][0]]
        want = "S1_Seq1_Cam0_000001.jpg" if split == "train" else "TS1_000001.jpg"
        raise InputError(f"{path}: image name '{bad}' does not parse; expected '{want}'; use the "
                         "names written by mmpose's preprocess_mpi_inf_3dhp.py.")
    n = len(base)
    if split == "train":
        subject = np.array([x.group(1) for x in m])
        subaction = np.array([int(x.group(2)) for x in m])
        camera = np.array([x.group(3) for x in m])
        frame = np.array([int(x.group(4)) - 1 for x in m])
        cam_keys = np.char.add(np.char.add(np.char.add(subject, "_Seq"),
                                           subaction.astype(str)), np.char.add("_Cam", camera))
    else:
        subject = np.array([test_sequence(x.group(1), str(path)) for x in m])
        subaction = np.ones(n, dtype=np.int64)
        camera = subject
        frame = np.array([int(x.group(2)) - 1 for x in m])
        cam_keys = subject
    if n and frame.min() < 0:
        raise InputError(f"{path}: frame number 0 in image names; expected 1-based numbers as "
                         "mmpose writes them.")
    uniq, inv = np.unique(cam_keys, return_inverse=True)
    table, repairs = _cameras(cams_path, uniq.tolist(),
                              "cameras_train.pkl" if split == "train" else "cameras_test.pkl")
    keys = SampleKeys(subject, np.full(n, UNLABELLED), subaction, camera, frame)
    extra = {}
    valid = None
    if split == "test":
        extra["scene"] = np.array([SCENES[s] for s in subject])
        valid = np.full(n, "valid" in path.name or path.name.startswith("test_"))
    uv, hidden = visible_2d(a["part"])
    ds = PoseDataset(name, split, "3dhp17", a["S"][..., :3] * 1000.0, uv, keys,
                     inv, table, valid=valid, image_path=np.asarray(a["imgname"]).astype(str),
                     extra=extra)
    return ds.sorted(), {"file": str(path), "cameras": str(cams_path),
                         "repaired_h_204": repairs, "not_visible_2d": hidden}


def _find(path: Path, pattern: str) -> Path | None:
    hits = sorted(path.glob(pattern)) or sorted(path.glob(f"annotations/{pattern}"))
    return hits[0] if hits else None


def read_mmpose(path: Path, *, name: str = "3dhp", progress: bool = False) -> Prepared:
    """Read mmpose's 3DHP files in folder `path` -> train and/or test splits."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    train = _find(folder, "*3dhp*train*.npz")
    test = _find(folder, "*3dhp*test*.npz")
    if path.is_file():
        train, test = (path, None) if "train" in path.name else (None, path)
    if train is None and test is None:
        raise InputError(f"{path} holds no mpi_inf_3dhp_*.npz; expected mmpose's "
                         "mpi_inf_3dhp_train.npz / mpi_inf_3dhp_test_valid.npz; pass that folder.")
    splits, meta = {}, {"layout": "mmpose", "frame_index": "0-based (mmpose names are 1-based)",
                        "univ_poses_3d": "absent (mmpose keeps annot3 only)", "scenes": SCENES}
    if train is not None:
        splits["train"], meta["train"] = _split(train, _find(folder, "cameras_train.pkl"),
                                                name, "train")
    if test is not None:
        splits["test"], meta["test"] = _split(test, _find(folder, "cameras_test.pkl"), name,
                                              "test")
    return Prepared(splits, meta)

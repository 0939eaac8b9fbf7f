"""Pseudo-labels for self-supervised training: multi-view 2D -> geometry core -> per-view targets.

1. `multiview_groups` gathers the views of each instant (same subject, action, subaction,
   frame) seen by every camera of the split into rows of a (G, V) index table, one column per
   camera (posebench's one grouper, `posebench.geometry.dataset_labels.group_views`), and
   numbers the sequences (subject, action, subaction) for the geometry core's pooled mode.
2. The geometry core (`posebench.geometry`) turns (G, V, J, 2) full-image px + intrinsics
   (+ extrinsics in mode "known") into per-view camera-frame 3D: mm for "known", an unknown
   common scale for "per-frame" / "pooled", with per-group success flags.
3. Each view's 3D is re-projected with the camera model (distortion included, as the crops
   show it) for x, y and gives the scale-free depth z_n (see `data.py`), so the targets need no
   metric scale. Samples of failed groups, or outside any complete group, get NaN targets
   (no loss).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from posebench.errors import InputError
from posebench.geometry.camera import project_with_table
from posebench.geometry.dataset_labels import group_views
from posebench.geometry.pseudo_labels import ViewCameras, pseudo_labels
from posebench.io import sha256_file
from posebench.provenance import closure_code_version, library_versions
from posebench.skeletons import get_skeleton
from reference_models.epipolarpose.data import normalised_targets, sample_intrinsics

GEOMETRY_MODES = ("per-frame", "pooled", "known")


def file_sha256(path) -> str | None:
    """sha256 of a file's bytes (None when there is no such file)."""
    p = Path(str(path)) if path else None
    return sha256_file(p) if p is not None and p.is_file() else None


def _array_sha256(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"none")
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def pseudo_label_cache_key(cfg: dict, dataset) -> str:
    """sha256 over everything that changes cached pseudo-labels: the trainer mode (frozen 2D
    branch or ground-truth 2D), the whole ``[pseudo]`` table (geometry mode, estimator, noise,
    ...), the image size, the training split's fingerprint, the start checkpoint's bytes (the
    2D branch that makes the 2D), the code that computes them (this module, the geometry core
    and everything first-party they import) and the numpy / scipy / torch versions."""
    mode = cfg["mode"]
    key = {"mode": mode,
           "pseudo": {k: v for k, v in cfg.get("pseudo", {}).items() if k != "batch_size"},
           "image_size": cfg["model"]["image_size"],
           "train_fingerprint": dataset.fingerprint(),
           "init_checkpoint_sha256": (file_sha256(cfg.get("init_checkpoint"))
                                      if mode == "self-supervised" else None),
           # the frozen 2D branch reads the crops: their bytes (and affines) are inputs too
           "images_sha256": (_array_sha256(dataset.images, dataset.crop_affine)
                             if mode == "self-supervised" else None),
           "code": closure_code_version(("reference_models.epipolarpose.pseudo",
                                         "reference_models.epipolarpose.evaluate",
                                         "posebench.geometry")),
           "libraries": library_versions(("numpy", "scipy", "torch"))}
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def multiview_groups(dataset) -> tuple[np.ndarray, np.ndarray]:
    """(G, V) sample indices of the instants seen by every camera of the split, views in camera
    id order, and (G,) sequence ids: `group_views` with ``complete_only=True``.

    Instants missing a camera are left out (their samples get no pseudo-label). One column is
    one camera: the earlier rule (V = the most common number of views per instant, column k =
    the k-th camera of each instant) gives the same groups whenever every camera of the split
    sees the instants most cameras see, but could put different cameras in one column, which
    breaks pooled mode's per-sequence rig. Raises `InputError` when most instants have fewer
    than 2 views, or several samples share an (instant, camera).
    """
    g = group_views(dataset, complete_only=True)
    per_instant = g["views_per_instant"]
    if per_instant.sum() == 0:
        return np.zeros((0, 0), np.int64), np.zeros(0, np.int64)
    v = int(per_instant.argmax())
    if v < 2:
        raise InputError(f"dataset '{dataset.name}' split '{dataset.split}' has {v} view(s) per "
                         "instant; expected at least 2 synchronised cameras for epipolar "
                         "pseudo-labels; use a multi-view training split.")
    return g["row"], g["sequence"].astype(np.int64)


def triangulate_groups(uv: np.ndarray, dataset, idx: np.ndarray, sequence: np.ndarray,
                       mode: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Geometry core on grouped views -> ((G, V, J, 3) per-view camera-frame 3D, (G, V) ok).

    All view pairs are used and combined per view by the vector median of the optimal two-view
    triangulations (PAPER.md's recipe, in "known" mode too; pooled mode keeps the pairwise
    calibration, not the geometry core's default joint rig calibration); unknown-
    scale modes return poses in the geometry core's normalised scale, which the depth
    representation ignores.
    """
    cams = dataset.cameras
    ci = dataset.camera_index[idx]
    view_cams = ViewCameras(f=cams.f[ci], c=cams.c[ci], k=cams.k[ci], p=cams.p[ci],
                            distortion=cams.distortion,
                            R=cams.R[ci] if mode == "known" else None,
                            t=cams.t[ci] if mode == "known" else None)
    res = pseudo_labels(uv[idx], view_cams, mode=mode, sequence_ids=sequence,
                        root=get_skeleton(dataset.skeleton).root, seed=seed,
                        known_method="pairwise-median", calibration="pairwise")
    return np.asarray(res.poses_3d), np.asarray(res.ok, dtype=bool)


def pseudo_label_targets(dataset, uv_full: np.ndarray, mode: str,
                         image_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample training targets from multi-view 2D.

    dataset: the training PoseDataset (keys, cameras, crop affines); uv_full (N, J, 2) full-image
    px (the frozen 2D branch's output or ground-truth 2D); mode: per-frame | pooled | known ->
    targets (N, J, 3) float32 normalised crop coordinates (NaN where unlabelled), ok (N,) bool.
    """
    if mode not in GEOMETRY_MODES:
        raise InputError(f"pseudo-label mode '{mode}' is unknown; expected one of "
                         f"{', '.join(GEOMETRY_MODES)}; pick one of those.")
    n, J = uv_full.shape[:2]
    targets = np.full((n, J, 3), np.nan, dtype=np.float32)
    ok = np.zeros(n, dtype=bool)
    idx, sequence = multiview_groups(dataset)
    if len(idx) == 0:
        return targets, ok
    X, good = triangulate_groups(np.asarray(uv_full, np.float64), dataset, idx, sequence, mode)
    flat = idx.reshape(-1)
    X = X.reshape(-1, J, 3)
    good = good.reshape(-1) & np.isfinite(X).all(axis=(1, 2)) & (X[..., 2] > 0).all(axis=1)
    flat, X = flat[good], X[good]
    uv = project_with_table(X, dataset.cameras, dataset.camera_index[flat])
    focal, _ = sample_intrinsics(dataset)
    targets[flat] = normalised_targets(uv, X[..., 2], dataset.crop_affine[flat], focal[flat],
                                       image_size, get_skeleton(dataset.skeleton).root)
    ok[flat] = True
    return targets, ok

"""Pseudo-labels for a whole `PoseDataset` split: group samples into multi-view instants, run
`pseudo_labels` per chunk of sequences in parallel (joblib), scatter back to sample rows.

Grouping: samples sharing (subject, action, subaction, frame) form one group (one instant);
views are the dataset's camera ids (sorted); a camera absent from a group is a missing view.
A sequence (static rig, for mode "pooled") is (subject, action, subaction).

Parallelism: `joblib.Parallel` over chunks of whole sequences (``n_jobs``). For Human3.6M-sized
jobs on a cluster, run the call inside a joblib backend context, e.g. with dask::

    from dask.distributed import Client
    import joblib
    client = Client("tcp://scheduler:8786")
    with joblib.parallel_config(backend="dask"):       # joblib >= 1.3
        out = dataset_pseudo_labels(ds, mode="pooled", n_jobs=-1)

or with ray: ``from ray.util.joblib import register_ray; register_ray()`` then
``joblib.parallel_config(backend="ray")``. (Older joblib: ``joblib.parallel_backend("dask")``.)
"""

from __future__ import annotations

import os
import time

import numpy as np

from posebench.errors import InputError
from posebench.geometry.pseudo_labels import PseudoLabels, ViewCameras, pseudo_labels


def _joined(*columns: np.ndarray) -> np.ndarray:
    """Per-row strings 'a|b|...' of equally long key columns."""
    out = columns[0].astype(str)
    for c in columns[1:]:
        out = np.char.add(np.char.add(out, "|"), c.astype(str))
    return out


def group_views(ds, *, complete_only: bool = False) -> dict[str, np.ndarray]:
    """Multi-view grouping of dataset `ds` (see the module docstring): the one grouper of
    posebench, used by `dataset_pseudo_labels` and the EpipolarPose trainer's pseudo-labels.

    Returns group (N,) (-1 for samples of a dropped group), view (N,) per sample, row (G, V)
    sample index or -1 (missing view), camera_ids (V,), sequence (G,) int id (0..S-1, numbered
    in (subject, action, subaction) order), the group keys subject/action/subaction/frame (G,),
    and views_per_instant (V + 1,): how many instants (before `complete_only`) have 0..V views.

    A view column is one physical camera (a camera id of the split), whatever the instant:
    pooled mode calibrates one rig per camera pair and sequence, so a column must never hold
    different cameras in different instants. ``complete_only``: keep only the instants seen by
    every camera of the split (the EpipolarPose trainer labels those alone); otherwise a camera
    absent from an instant is a missing view, which the geometry core flags. Several samples
    for one (instant, camera) raise `InputError` (one person per camera and instant).
    """
    k = ds.keys
    _, first, group = np.unique(_joined(k.subject, k.action, k.subaction, k.frame),
                                return_index=True, return_inverse=True)
    cam_ids, view = np.unique(k.camera, return_inverse=True)
    G, V = len(first), len(cam_ids)
    row = np.full((G, V), -1, dtype=np.int64)
    row[group, view] = np.arange(len(k))
    if (np.bincount(group * V + view, minlength=G * V) > 1).any():
        raise InputError("the dataset has several samples for the same (subject, action, "
                         "subaction, frame, camera); expected one person per camera and instant; "
                         "de-duplicate the keys.")
    views_per_instant = np.bincount((row >= 0).sum(1), minlength=V + 1)
    if complete_only:
        keep = (row >= 0).all(1)
        new_id = np.where(keep, np.cumsum(keep) - 1, -1)
        group, row, first = new_id[group], row[keep], first[keep]
    _, seq = np.unique(_joined(k.subject[first], k.action[first], k.subaction[first]),
                       return_inverse=True)
    return {"group": group, "view": view, "row": row, "camera_ids": cam_ids, "sequence": seq,
            "subject": k.subject[first], "action": k.action[first],
            "subaction": k.subaction[first], "frame": k.frame[first],
            "views_per_instant": views_per_instant}


def _camera_rows(ds, grouping) -> np.ndarray:
    """(G, V) camera-table row per cell (the camera's first row where the view is missing)."""
    row = grouping["row"]
    V = row.shape[1]
    fallback = np.zeros(V, dtype=np.int64)
    for v in range(V):
        present = row[:, v][row[:, v] >= 0]
        fallback[v] = ds.camera_index[present[0]] if len(present) else 0
    return np.where(row >= 0, ds.camera_index[np.maximum(row, 0)], fallback[None, :])


def _run_chunk(x, f, c, k, p, dist, R, t, seq, kw):
    cams = ViewCameras(f, c, k, p, dist, R, t)
    return pseudo_labels(x, cams, sequence_ids=seq, **kw)


def dataset_pseudo_labels(ds, poses_2d: np.ndarray | None = None, *, mode: str = "per-frame",
                          n_jobs: int = 1, **kw) -> dict:
    """Pseudo-labels for every sample of `ds`.

    poses_2d (N, J, 2) px overrides ds.poses_2d (detections, noisy copies). Extra keyword
    arguments go to `pseudo_labels` (seed, estimator, pairs, ...); with ``temporal`` the
    groups' frame numbers go along (groups are not in time order within a sequence). Returns
    a dict with the merged `PseudoLabels` ("result", arrays over (G, V)), the grouping,
    per-sample arrays poses_3d (N, J, 3), ok (N,), reason (N,), and "seconds" (wall time of
    the geometry).
    """
    x2d = ds.poses_2d if poses_2d is None else np.asarray(poses_2d, dtype=np.float64)
    grouping = group_views(ds)
    row = grouping["row"]
    G, V = row.shape
    J = ds.num_joints
    x = np.full((G, V, J, 2), np.nan)
    x[row >= 0] = x2d[row[row >= 0]]
    cr = _camera_rows(ds, grouping)
    cams = ds.cameras
    seq = grouping["sequence"]
    n_chunks = max(1, min(abs(n_jobs) if n_jobs else 1, seq.max() + 1 if G else 1))
    if n_jobs == -1:
        n_chunks = max(1, min(os.cpu_count() or 1, seq.max() + 1 if G else 1))
    seq_chunk = np.arange(seq.max() + 1 if G else 0) % n_chunks
    chunks = [np.flatnonzero(seq_chunk[seq] == i) for i in range(n_chunks)]
    chunks = [ch for ch in chunks if len(ch)]
    args = [(x[ch], cams.f[cr[ch]], cams.c[cr[ch]], cams.k[cr[ch]], cams.p[cr[ch]],
             cams.distortion, cams.R[cr[ch]], cams.t[cr[ch]], seq[ch],
             dict(kw, mode=mode, frames=grouping["frame"][ch].astype(np.int64))
             if kw.get("temporal") is not None else dict(kw, mode=mode))
            for ch in chunks]
    t0 = time.perf_counter()
    if len(args) == 1:
        outs = [_run_chunk(*args[0])]
    else:
        from joblib import Parallel, delayed  # lazy: slow import (~0.5 s), only needed here

        outs = Parallel(n_jobs=n_jobs)(delayed(_run_chunk)(*a) for a in args)
    seconds = time.perf_counter() - t0
    res = _merge(outs, chunks, G, V, J)
    N = len(ds)
    poses = np.full((N, J, 3), np.nan)
    ok = np.zeros(N, dtype=bool)
    reason = np.full(N, "not_enough_views", dtype="<U24")
    sel = row >= 0
    poses[row[sel]] = res.poses_3d[sel]
    ok[row[sel]] = res.ok[sel]
    reason[row[sel]] = res.reason[sel]
    return {"result": res, "grouping": grouping, "poses_3d": poses, "ok": ok, "reason": reason,
            "seconds": seconds, "camera_rows": cr}


def _merge(outs: list[PseudoLabels], chunks, G, V, J) -> PseudoLabels:
    first = outs[0]
    Pn = len(first.pairs)
    res = PseudoLabels(np.full((G, V, J, 3), np.nan), np.zeros((G, V), bool),
                       np.full((G, V), "not_enough_views", dtype="<U24"), first.pairs,
                       np.zeros((G, Pn), bool), np.full((G, Pn), "not_enough_views",
                                                        dtype="<U24"),
                       np.tile(np.eye(3), (G, Pn, 1, 1)), np.zeros((G, Pn, 3)), first.mode,
                       first.scale_convention)
    res.info = {k: v for k, v in first.info.items() if k != "sequences"}
    if any("sequences" in o.info for o in outs):
        res.info["sequences"] = [s for o in outs for s in o.info.get("sequences", [])]
    for out, ch in zip(outs, chunks):
        res.poses_3d[ch], res.ok[ch], res.reason[ch] = out.poses_3d, out.ok, out.reason
        res.pair_ok[ch], res.pair_reason[ch] = out.pair_ok, out.pair_reason
        res.pair_R[ch], res.pair_t[ch] = out.pair_R, out.pair_t
    return res

"""`posebench geometry`: epipolar pseudo-labels for a dataset split.

    posebench geometry pseudo-labels --dataset synth --split train --gt-2d --noise-px 2 \\
        --mode pooled --out labels.npz --report report.json --n-jobs 2

Output npz (no pickle): poses_3d (N, J, 3) per sample row of the split (canonical order), in
that sample's camera frame (mm in known mode, scale-normalised otherwise, see
`posebench.geometry.pseudo_labels`), ok (N,), reason (N,), the sample keys, and per group /
view pair: pairs (P, 2) camera ids, pair_ok (G, P), pair_reason (G, P), pair_R, pair_t.
Cluster use (dask / ray through joblib): see `posebench.geometry.dataset_labels`.
"""

from __future__ import annotations

import json

import click
import numpy as np

from posebench.data.registry import load_dataset
from posebench.errors import InputError
from posebench.geometry.dataset_labels import dataset_pseudo_labels
from posebench.geometry.report import quality_report
from posebench.io import load_npz, savez_atomic, write_json_atomic
from posebench.skeletons import get_skeleton


@click.group()
def geometry() -> None:
    """Multi-view geometry: epipolar pseudo-labels."""


def _load_detections(path: str, n: int, J: int) -> np.ndarray:
    a = load_npz(path, what="a detections file")
    if "poses_2d" not in a:
        raise InputError(f"{path} has no 'poses_2d' array; expected poses_2d (N, {J}, 2) px in "
                         "the split's canonical order (optionally with 'index' (M,) rows).")
    for key, kinds in (("poses_2d", "iuf"), ("index", "iu")):
        if key in a and a[key].dtype.kind not in kinds:
            raise InputError(f"{path}: '{key}' has dtype {a[key].dtype}; expected "
                             f"{'numbers (px)' if key == 'poses_2d' else 'integers'}; save it "
                             "as a numeric array.")
    d = np.asarray(a["poses_2d"], dtype=np.float64)
    if "index" in a:
        idx = np.asarray(a["index"], dtype=np.int64)
        if d.shape != (len(idx), J, 2) or (len(idx) and (idx.min() < 0 or idx.max() >= n)):
            raise InputError(f"{path}: poses_2d {d.shape} / index {idx.shape} do not match a "
                             f"split of {n} samples with {J} joints; expected (M, {J}, 2) and "
                             f"indices in [0, {n}).")
        out = np.full((n, J, 2), np.nan)
        out[idx] = d
        return out
    if d.shape != (n, J, 2):
        raise InputError(f"{path}: poses_2d has shape {d.shape}, expected ({n}, {J}, 2) px in "
                         "the split's canonical order; add an 'index' array for a subset.")
    return d


@geometry.command("pseudo-labels")
@click.option("--dataset", required=True, help="Dataset name (registry) or folder.")
@click.option("--split", default="train", show_default=True, help="Split to triangulate.")
@click.option("--detections", type=click.Path(exists=True, dir_okay=False), default=None,
              help="npz with poses_2d (N, J, 2) px (full image) in canonical order.")
@click.option("--gt-2d", "gt_2d", is_flag=True, help="Use the dataset's 2D poses (default).")
@click.option("--noise-px", type=float, default=0.0, show_default=True,
              help="Add seeded Gaussian noise (std, px per coordinate) to the 2D inputs.")
@click.option("--mode", type=click.Choice(["per-frame", "pooled", "known"]), default="pooled",
              show_default=True, help="Relative pose estimated per frame, pooled over a "
              "sequence, or the known calibration.")
@click.option("--estimator",
              type=click.Choice(["accurate", "fast", "8point", "trimmed", "ransac"]),
              default=None,
              help="accurate (default: 8point + Sampson refinement + optimal triangulation "
                   "per-frame, trimmed pooled), fast (per-frame only: one 8-point solve, "
                   "midpoint triangulation, ~4x the throughput), or an explicit F estimator.")
@click.option("--calibration", type=click.Choice(["bundle", "pairwise"]), default="bundle",
              show_default=True,
              help="pooled mode: bundle (all cameras of a sequence calibrated jointly: "
                   "rotation averaging + bundle adjustment, ill-conditioned sequences flagged) "
                   "or pairwise (one pooled relative pose per camera pair).")
@click.option("--bones/--no-bones", default=False, show_default=True,
              help="pooled bundle: also fit one constant length per bone of the dataset's "
                   "skeleton over each sequence (people and mocap keep their bone lengths).")
@click.option("--temporal", type=click.Choice(["none", "savgol"]), default="none",
              show_default=True,
              help="pooled bundle: smooth each 2D track over time (Savitzky-Golay, 5 frames, "
                   "NaN never spreads) before the bundle adjustment; conditioning figures stay "
                   "on the raw 2D. Measured no better than none (docs/geometry.md, run 5).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="Seed of noise and RANSAC.")
@click.option("--out", "--output", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Pseudo-labels .npz to write; --output is an alias.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="Also write a JSON accuracy report here.")
@click.option("--n-jobs", type=int, default=1, show_default=True, help="Worker processes.")
def pseudo_labels_cmd(dataset, split, detections, gt_2d, noise_px, mode, estimator,
                      calibration, bones, temporal, seed, out_path, report_path,
                      n_jobs) -> None:
    """Triangulate 3D pseudo-labels from multi-view 2D poses of a dataset split."""
    if detections and gt_2d:
        raise InputError("both --detections and --gt-2d were given; expected one 2D source; "
                         "drop one of them.")
    if not np.isfinite(noise_px) or noise_px < 0:
        raise InputError(f"--noise-px is {noise_px}; expected a finite standard deviation >= 0 "
                         "px; pass e.g. --noise-px 2.")
    ds = load_dataset(dataset, split)
    x = ds.poses_2d if detections is None else _load_detections(detections, len(ds),
                                                                ds.num_joints)
    if noise_px > 0:
        x = x + np.random.default_rng(seed).normal(size=x.shape) * noise_px
    kw = {"seed": seed}
    if mode == "pooled":
        kw["calibration"] = calibration
        if bones:
            kw["bones"] = np.array(get_skeleton(ds.skeleton).bones)
        if temporal != "none":
            kw["temporal"] = temporal
    if estimator:
        kw["estimator"] = estimator
    out = dataset_pseudo_labels(ds, x, mode=mode, n_jobs=n_jobs, **kw)
    res, grp = out["result"], out["grouping"]

    gt = gt_R = gt_t = None
    if ds.has_3d:
        row = grp["row"]
        gt = np.full(res.poses_3d.shape, np.nan)
        gt[row >= 0] = ds.poses_3d[row[row >= 0]]
        cr = out["camera_rows"]
        gt_R, gt_t = ds.cameras.R[cr], ds.cameras.t[cr]
    rep = quality_report(res, gt, gt_R, gt_t, seconds=out["seconds"])
    rep.update({"dataset": ds.name, "split": split, "fingerprint": ds.fingerprint(),
                "noise_px": noise_px, "seed": seed,
                "source_2d": "detections" if detections else "ground-truth 2D"})

    cam_ids = grp["camera_ids"]
    arrays = {
        "poses_3d": out["poses_3d"], "ok": out["ok"], "reason": out["reason"],
        "subject": ds.keys.subject, "action": ds.keys.action, "subaction": ds.keys.subaction,
        "camera": ds.keys.camera, "frame": ds.keys.frame, "group": grp["group"],
        "camera_ids": cam_ids, "pairs": cam_ids[res.pairs], "pair_ok": res.pair_ok,
        "pair_reason": res.pair_reason, "pair_R": res.pair_R, "pair_t": res.pair_t,
        "group_subject": grp["subject"], "group_action": grp["action"],
        "group_subaction": grp["subaction"], "group_frame": grp["frame"],
        "mode": np.array(mode), "scale_convention": np.array(res.scale_convention),
        "dataset_fingerprint": np.array(rep["fingerprint"]),
    }
    savez_atomic(out_path, **arrays)
    if report_path:
        write_json_atomic(report_path, rep)
    click.echo(json.dumps(rep, indent=2))

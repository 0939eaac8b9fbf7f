"""Quality report of pseudo-labels against ground truth: failures, rotation error, P-MPJPE,
N-MPJPE (and MPJPE in known mode); the pose errors are `posebench.metrics`' ``p_mpjpe`` and
``n_mpjpe(scale="least_squares")`` (mm per pose).
"""

from __future__ import annotations

import numpy as np

from posebench.geometry.rotations import relative_extrinsics, rotation_angle_deg
from posebench.metrics import n_mpjpe, p_mpjpe

#: where the report's P-MPJPE / N-MPJPE come from (the report's ``metrics_source`` field)
METRICS_SOURCE = "posebench.metrics"


def quality_report(result, gt_poses_3d: np.ndarray | None = None,
                   gt_R: np.ndarray | None = None, gt_t: np.ndarray | None = None,
                   seconds: float | None = None) -> dict:
    """Summary dict of a `PseudoLabels` result.

    gt_poses_3d (G, V, J, 3) mm camera frames (NaN = unknown); gt_R (G, V, 3, 3), gt_t (G, V, 3)
    world->camera extrinsics (for rotation errors of the estimated relative poses); seconds:
    wall time of the computation (for pairs_per_s). Errors are over `ok` entries only.
    """
    pair_ok = np.asarray(result.pair_ok)
    n_pairs = int(pair_ok.size)
    reasons, counts = np.unique(np.asarray(result.pair_reason), return_counts=True)
    rep: dict = {
        "mode": result.mode,
        "scale_convention": result.scale_convention,
        "groups": int(result.ok.shape[0]),
        "views": int(result.ok.shape[1]),
        "pairs": n_pairs,
        "failed_pairs": int(n_pairs - pair_ok.sum()),
        "pair_reasons": {str(r): int(c) for r, c in zip(reasons, counts)},
        "view_reasons": {str(r): int(c) for r, c in zip(
            *np.unique(np.asarray(result.reason), return_counts=True))},
        "views_ok": int(result.ok.sum()),
        "views_failed": int((~result.ok).sum()),
        "pairs_per_s": (n_pairs / seconds) if seconds else None,
        "seconds": seconds,
        "rotation_error_deg_median": None,
        "rotation_error_deg_mean": None,
        "p_mpjpe_mm": None,
        "n_mpjpe_mm": None,
        "mpjpe_mm": None,
    }
    if gt_R is not None and gt_t is not None and result.mode != "known":
        _add_rotation_errors(rep, result, gt_R, gt_t)
    if "sequences" in getattr(result, "info", {}):
        rep["calibration"] = calibration_summary(result.info["sequences"])
    if gt_poses_3d is not None:
        _add_pose_errors(rep, result, np.asarray(gt_poses_3d, dtype=np.float64))
    return rep


def _add_rotation_errors(rep: dict, result, gt_R: np.ndarray, gt_t: np.ndarray) -> None:
    """Median and mean angle (deg) between the successful pairs' relative rotations and the
    true ones (from world->camera extrinsics gt_R (G, V, 3, 3), gt_t (G, V, 3))."""
    P = result.pairs
    Rg, _ = relative_extrinsics(gt_R[:, P[:, 0]], gt_t[:, P[:, 0]], gt_R[:, P[:, 1]],
                                gt_t[:, P[:, 1]])
    err = rotation_angle_deg(result.pair_R, Rg)[np.asarray(result.pair_ok)]
    if err.size:
        rep["rotation_error_deg_median"] = float(np.median(err))
        rep["rotation_error_deg_mean"] = float(np.mean(err))


def _add_pose_errors(rep: dict, result, gt: np.ndarray) -> None:
    """P-MPJPE, N-MPJPE (and MPJPE in known mode) mm over the ok views with a finite pose and
    ground truth gt (G, V, J, 3) mm."""
    sel = result.ok & np.isfinite(gt).all((-2, -1)) & np.isfinite(result.poses_3d).all((-2, -1))
    if not sel.any():
        return
    pred, ref = result.poses_3d[sel], gt[sel]
    rep["p_mpjpe_mm"] = float(np.mean(p_mpjpe(pred, ref)))
    rep["n_mpjpe_mm"] = float(np.mean(n_mpjpe(pred, ref, scale="least_squares")))
    if result.mode == "known":
        rep["mpjpe_mm"] = float(np.linalg.norm(pred - ref, axis=-1).mean())
    rep["metrics_source"] = METRICS_SOURCE
    rep["evaluated_views"] = int(sel.sum())


def calibration_summary(sequences: list[dict]) -> dict:
    """Rig-calibration conditioning over sequences (pooled mode, ``calibration="bundle"``):
    flagged sequence-pairs by reason, the conditioning figures (rotation std from the bundle
    adjustment's covariance, motion figure, frames with >= 8 joints in both views) as
    median / max, seconds per sequence, and every flagged sequence-pair with its figures."""
    flagged, stds, motion, secs, n_pairs = [], [], [], [], 0
    reasons: dict[str, int] = {}
    for s in sequences:
        motion.append(s.get("motion"))
        secs.append(s.get("seconds"))
        for k, r in enumerate(s["pair_reason"]):
            n_pairs += 1
            reasons[r] = reasons.get(r, 0) + 1
            sd = s["rot_std_deg"][k]
            if sd is not None:
                stds.append(sd)
            if r != "ok":
                flagged.append({"sequence": s["sequence"], "pair": s["pairs"][k], "reason": r,
                                "rot_std_deg": sd, "motion": s.get("motion"),
                                "frames_both": s["frames_both"][k]})

    def stat(v):
        v = np.asarray([x for x in v if x is not None and np.isfinite(x)], float)
        return None if not v.size else {"median": float(np.median(v)), "max": float(v.max())}

    return {"sequences": len(sequences), "sequence_pairs": n_pairs, "pair_reasons": reasons,
            "rot_std_deg": stat(stds), "motion": stat(motion), "seconds_per_sequence": stat(secs),
            "flagged": flagged}

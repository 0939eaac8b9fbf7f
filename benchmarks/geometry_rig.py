"""Static-rig calibration benchmark, per sequence and camera pair, synth and real mocap.

Imported by `benchmarks/geometry.py --section rig` (kept in its own module: one job each).
Scenes: the Human3.6M S1 rig (4 cameras, official distortion), 2D noise `noise` px on the
distorted pixels, joints outside the image or behind a camera not visible (NaN, the rule of
`posebench.synth.build.visible_projection`).
- synth: `synth.scenes.random_sequences` (half walking, half standing), 200 frames: the
  length of a `posebench data synth` sequence (``frames_per_action`` = 200, train and "h36m"
  test layout), the unit pooled calibration runs on (100 frames before: shorter than the
  dataset's sequences; the bundle's error follows its covariance, ~1/sqrt(frames));
- real mocap: Bandai dataset-1 (../shared/fixtures/mocap/converted/bandai_ds1.npz, 30 fps),
  every clip placed in the capture volume as `posebench data synth` does by default.
Pipelines, all from the same undistorted pixels, per sequence:
- opencv pooled (the anchor): per camera pair findFundamentalMat(FM_8POINT) on all of the
  sequence's correspondences + recoverPose;
- ours pooled pairwise: `relative_pose(estimator="trimmed")` per pair (the named option
  ``calibration="pairwise"``);
- ours pooled bundle: `rig_calibration.calibrate_rig` (rotation averaging + bundle
  adjustment, conditioning flags);
- ours pooled bundle + bones: the same with the h36m17 skeleton's constant bone lengths
  (``bones``, default ``bone_sigma``; ``--rig-bones on|off|both``, default both);
- ours pooled bundle + temporal: the same with the 2D tracks smoothed over 5 frames
  (``temporal="savgol"``; ``--rig-temporal on|off|both``, default both);
- known cameras: multi-view DLT with the true rig (pseudo-label reference).
Failures (no estimate) and flags count as failures (error = infinity) in every figure whose
name says "incl."; accepted-only figures are printed next to them.

Measured (2026-12-04, 2 px, BLAS one thread, 2 cores shared with other work; results in
benchmarks/results/geometry_rig.json), bundle without / with bones:
- synth (240 sequence-pairs): median 0.105 / 0.107 deg (goal 0.1: missed either way), RMS
  0.142 / 0.144, covariance predicts 0.108 / 0.104, 0 flagged, RRA@1 1.000 / 1.000,
  fit_ratio 0.88-1.00 / 0.95-1.01, pseudo-label P-MPJPE 1.004x / 0.747x known cameras,
  1.05 / 3.83 s per sequence;
- Bandai ds-1 (1044): median 0.111 / 0.114 deg, 0.0% / 0.0% above 5 deg, 0 / 0 flagged or
  failed eligible, RRA@1 0.991 / 0.989, fit_ratio 0.92-1.02 / 0.95-1.01, P-MPJPE 1.003x /
  0.818x known, 0.95 / 3.55 s per sequence.
Other noise seeds (docs/geometry.md, run 4): synth medians 0.105 -> 0.093, 0.102 -> 0.093 deg
with bones; Bandai (every third clip) 0.117 -> 0.123 deg, RMS 0.266 -> 0.340: bones stay off.
Run 5 (2026-12-05, same conditions), bundle + temporal (2D tracks smoothed over 5 frames):
synth median 0.108 deg (RMS 0.144; without 0.105 / 0.142), Bandai 0.112 (RMS 0.265; without
0.111 / 0.267), 0 flagged or failed, covariance prediction and fit_ratio unchanged, pseudo-label
P-MPJPE 0.891x / 0.710x known, 1.32 / 1.21 s per sequence (bundle 1.20 / 1.05). Over 3 noise
seeds (docs/geometry.md, run 5) the synth median / RMS go 0.104 / 0.152 -> 0.108 / 0.153 deg:
temporal stays off (the synth motion is not smooth at the frame rate, and the rotations gain
at most 2% of Gauss-Newton std even from a correct acceleration prior).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from geometry_pipelines import opencv_per_frame, ours_per_frame, ours_per_frame_fast
from tabulate import tabulate

from posebench.geometry.camera import intrinsic_matrix, project, undistort_points
from posebench.geometry.rig_calibration import calibrate_rig
from posebench.geometry.rotations import relative_extrinsics, rotation_angle_deg
from posebench.geometry.triangulation import triangulate_dlt_checked
from posebench.geometry.two_view import REASONS, relative_pose
from posebench.metrics import p_mpjpe
from posebench.skeletons import get_skeleton
from posebench.synth import rig as synth_rig
from posebench.synth.build import place_in_capture_volume
from posebench.synth.scenes import h36m_rig, random_sequences

PAIRS = np.array([(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)])


def bandai_sequences(path, max_frames: int = 300, every: int = 1):
    """World joints (T, 17, 3) mm per clip, placed in the capture volume (default rule)."""
    a = np.load(path)
    centre = synth_rig.capture_centre(synth_rig.h36m_cameras("S1"))
    out, names = [], []
    for c in range(0, len(a["clip_start"]), every):
        s, n = int(a["clip_start"][c]), int(a["clip_len"][c])
        J = a["joints3d"][s:s + min(n, max_frames)].astype(np.float64)
        J[..., :2] += centre - J[:, 0, :2].mean(0)
        J = place_in_capture_volume(J, centre)
        J[..., 2] += 80.0 - np.minimum(J[:, 3, 2], J[:, 6, 2]).min()
        out.append(J)
        names.append(str(a["clip_names"][c]))
    return out, names


def observe(Xw, rig, noise, rng, min_depth=100.0, size=1000):
    """(T, 4, 17, 2) undistorted px with NaN where not visible; camera-frame GT (T, 4, 17, 3)."""
    Xc = np.einsum("vij,tnj->tvni", rig["R"], Xw) + rig["t"][None, :, None]
    with np.errstate(all="ignore"):
        uv = project(Xc, rig["f"], rig["c"], rig["k"], rig["p"], "h36m")
    vis = (Xc[..., 2] > min_depth) & (uv >= 0).all(-1) & (uv < size).all(-1)
    uv = uv + rng.normal(size=uv.shape) * noise
    uv[~vis] = np.nan
    und = undistort_points(uv, rig["f"], rig["c"], rig["k"], rig["p"], "h36m")
    return und, Xc


def opencv_pooled(und, K):
    import cv2  # lazy: OpenCV is an optional, slow-to-import comparison dependency

    out = np.full((len(PAIRS), 3, 3), np.nan)
    for k, (a, b) in enumerate(PAIRS):
        m = np.isfinite(und[:, a]).all(-1) & np.isfinite(und[:, b]).all(-1)
        x1, x2 = und[:, a][m], und[:, b][m]
        if len(x1) < 8:
            continue
        F, _ = cv2.findFundamentalMat(x1, x2, cv2.FM_8POINT)
        if F is None or F.shape != (3, 3):
            continue
        E = K[b].T @ F @ K[a]
        Ki1, Ki2 = np.linalg.inv(K[a]), np.linalg.inv(K[b])
        n1 = x1 @ Ki1[:2, :2].T + Ki1[:2, 2]
        n2 = x2 @ Ki2[:2, :2].T + Ki2[:2, 2]
        _, R, _, _ = cv2.recoverPose(E, n1, n2, np.eye(3))
        out[k] = R
    return out


def similarity_centre_error(C_est, C_gt):
    """Camera-centre error (V,) mm after the least-squares similarity alignment (Umeyama)."""
    ok = np.isfinite(C_est).all(-1)
    if ok.sum() < 3:
        return np.full(len(C_gt), np.inf)
    A, B = C_est[ok], C_gt[ok]
    ma, mb = A.mean(0), B.mean(0)
    a, b = A - ma, B - mb
    U, S, Vt = np.linalg.svd(b.T @ a)
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
    R = U @ D @ Vt
    s = np.trace(np.diag(S) @ D) / (a * a).sum()
    err = np.full(len(C_gt), np.inf)
    err[ok] = np.linalg.norm(s * a @ R.T + mb - B, axis=-1)
    return err


def _per_frame(und, Xc, K, Rg, pf, pf_pm, pf_secs, every):
    """Per-frame pipelines on every `every`-th frame: rotation error (inf where flagged or
    failed) and P-MPJPE (mm, accepted pairs) per frame pair."""
    a, b = PAIRS[:, 0], PAIRS[:, 1]
    sel = np.arange(0, len(und), every)
    x1 = und[sel][:, a].reshape(-1, 17, 2)
    x2 = und[sel][:, b].reshape(-1, 17, 2)
    gt = Xc[sel][:, a].reshape(-1, 17, 3)
    n = len(x1)
    k1 = np.broadcast_to(K[a], (len(sel), len(PAIRS), 3, 3)).reshape(n, 3, 3)
    k2 = np.broadcast_to(K[b], (len(sel), len(PAIRS), 3, 3)).reshape(n, 3, 3)
    Rgb = np.broadcast_to(Rg, (len(sel),) + Rg.shape).reshape(n, 3, 3)
    # OpenCV cannot take NaN: it sees only the joints visible in both views
    both = np.isfinite(x1).all(-1) & np.isfinite(x2).all(-1)
    runs = {}
    with np.errstate(all="ignore"):
        t0 = time.perf_counter()
        Rs = np.full((n, 3, 3), np.nan)
        Xs = np.full((n, 17, 3), np.nan)
        for i in np.flatnonzero(both.sum(-1) >= 8):
            m = both[i]
            R, X, _ = opencv_per_frame(x1[i:i + 1, m], x2[i:i + 1, m], k1[i:i + 1],
                                       k2[i:i + 1], "8pt")
            Rs[i], Xs[i, m] = R[0], X[0]
        runs["opencv 8pt per-frame"] = (Rs, Xs, np.isfinite(Rs).all((-2, -1)) & ~np.isclose(
            Rs, np.eye(3)).all((-2, -1)), time.perf_counter() - t0)
        R, X, ok, s = ours_per_frame_fast(x1, x2, k1, k2, 2)
        runs["ours per-frame fast"] = (R, X, ok, s)
        R, X, ok, s = ours_per_frame(x1, x2, k1, k2, 2)
        runs["ours per-frame accurate"] = (R, X, ok, s)
    for k, (R, X, ok, s) in runs.items():
        e = rotation_angle_deg(np.nan_to_num(R), Rgb)
        pf[k].append(np.where(ok, e, np.inf))
        fin = ok & (np.isfinite(X).sum((-2, -1)) >= 8 * 3)
        if fin.any():
            pf_pm[k].append(_pm_nan(X[fin], gt[fin]))
        pf_secs[k] += s


def _pm_nan(X, gt):
    """P-MPJPE (N,) mm over each pose's finite joints, batched: a missing joint is put at its
    pose's finite-joint centroid in both poses (it adds nothing to the alignment and 0 error),
    then the mean is rescaled from J to the finite-joint count."""
    m = np.isfinite(X).all(-1) & np.isfinite(gt).all(-1)
    cx = np.where(m[..., None], X, 0).sum(1) / np.maximum(m.sum(1), 1)[:, None]
    cg = np.where(m[..., None], gt, 0).sum(1) / np.maximum(m.sum(1), 1)[:, None]
    Xf = np.where(m[..., None], X, cx[:, None])
    gf = np.where(m[..., None], gt, cg[:, None])
    J = X.shape[1]
    return p_mpjpe(Xf, gf) * J / np.maximum(m.sum(1), 1)


def _bundle_run(cal, Xw, und, K, rig, Rg, C_gt, acc):
    """Accumulate one `calibrate_rig` result of a sequence into acc (dict of lists)."""
    R, _ = cal.relative()
    ok = cal.pair_reason == 0
    e = rotation_angle_deg(np.nan_to_num(R), Rg)
    acc["err"].append(np.where(ok, e, np.inf))
    acc["flagged"].append(~ok)
    acc["raw"].append(e)  # bundle errors of flagged pairs too (diagnosis column)
    acc["rot_std"].append(cal.pair_rot_std_deg)
    acc["fit_ratio"].append(cal.info.get("fit_ratio", np.nan))
    for r in cal.pair_reason[~ok]:
        acc["reasons"][int(r)] = acc["reasons"].get(int(r), 0) + 1
    # camera centres after similarity alignment (reference frame -> world)
    C = -np.einsum("vji,vj->vi", np.nan_to_num(cal.R), np.nan_to_num(cal.t))
    C[~cal.view_ok] = np.nan
    acc["cca"].append(similarity_centre_error(C, C_gt))
    # pseudo-labels: bundle points vs known cameras (multi-view DLT), P-MPJPE per frame
    P = K @ np.concatenate([rig["R"], rig["t"][..., None]], -1)
    Xk, _ = triangulate_dlt_checked(np.broadcast_to(P, (len(Xw), 4, 3, 4)), und)
    sel = np.isfinite(cal.points).all((-2, -1)) & np.isfinite(Xk).all((-2, -1))
    if sel.any() and ok.all():
        acc["pm_bundle"].append(p_mpjpe(cal.points[sel], Xw[sel]))
        acc["pm_known"].append(p_mpjpe(Xk[sel], Xw[sel]))


def _bundle_summary(acc, s):
    """Bundle-only figures of one variant's accumulators into its summary row s."""
    s["camera_centre_error_mm_median"] = float(np.median(np.concatenate(acc["cca"])))
    s["flag_reasons"] = {REASONS[k]: v for k, v in acc["reasons"].items()}
    # the bundle's own covariance: a 3-axis isotropic error of total std s has median angle
    # 0.888 s (Maxwell), the figure to put beside the measured median
    rs = np.concatenate(acc["rot_std"])
    s["covariance_predicted_median_deg"] = float(
        0.888 * np.nanmedian(np.where(np.isfinite(rs), rs, np.nan)))
    s["fit_ratio_min"] = float(np.nanmin(acc["fit_ratio"]))
    s["fit_ratio_max"] = float(np.nanmax(acc["fit_ratio"]))
    e = np.concatenate(acc["err"])
    s["rms_accepted_deg"] = float(np.sqrt(np.mean(e[np.isfinite(e)] ** 2)))
    # honesty of the conditioning figure: |error| / rot_std over all pairs (RMS ~1 when the
    # covariance neither under- nor overstates the error)
    raw, ok = np.concatenate(acc["raw"]), np.isfinite(rs) & (rs > 0)
    s["normalised_error_rms"] = float(np.sqrt(np.mean((raw[ok] / rs[ok]) ** 2)))
    fl = np.concatenate(acc["flagged"])
    s["flagged_true_error_deg"] = np.concatenate(acc["raw"])[fl].tolist()
    if acc["pm_bundle"]:
        pb = np.concatenate(acc["pm_bundle"]).mean()
        pk = np.concatenate(acc["pm_known"]).mean()
        s["pseudo_label_p_mpjpe_mm"] = {"bundle": float(pb), "known": float(pk),
                                        "ratio": float(pb / pk)}


def run_dataset(name, sequences, rig, noise, seed=0, frames_min=30, joints_min=8,
                per_frame_every=4, bundles=None):
    """Every pipeline on `sequences`; bundles: {row name: `calibrate_rig` keyword arguments}
    (default: the one row "ours pooled bundle" with the defaults)."""
    bundles = {"ours pooled bundle": {}} if bundles is None else bundles
    rng = np.random.default_rng(seed)
    K = intrinsic_matrix(rig["f"], rig["c"])
    a, b = PAIRS[:, 0], PAIRS[:, 1]
    Rg, _ = relative_extrinsics(rig["R"][a], rig["t"][a], rig["R"][b], rig["t"][b])
    C_gt = -np.einsum("vji,vj->vi", rig["R"], rig["t"])
    pooled = ("opencv pooled", "ours pooled pairwise", *bundles)
    err = {k: [] for k in pooled}
    flagged = {k: [] for k in pooled}
    secs = {k: 0.0 for k in pooled}
    acc = {k: {"err": err[k], "flagged": flagged[k], "raw": [], "rot_std": [], "fit_ratio": [],
               "reasons": {}, "cca": [], "pm_bundle": [], "pm_known": []} for k in bundles}
    eligible = []
    pf = {k: [] for k in ("opencv 8pt per-frame", "ours per-frame fast",
                          "ours per-frame accurate")}
    pf_pm = {k: [] for k in pf}
    pf_secs = {k: 0.0 for k in pf}
    for Xw in sequences:
        und, Xc = observe(Xw, rig, noise, rng)
        _per_frame(und, Xc, K, Rg, pf, pf_pm, pf_secs, every=per_frame_every)
        both = np.isfinite(und[:, a]).all(-1) & np.isfinite(und[:, b]).all(-1)
        eligible.append((both.sum(-1) >= joints_min).sum(0) >= frames_min)
        t0 = time.perf_counter()
        Rcv = opencv_pooled(und, K)
        secs["opencv pooled"] += time.perf_counter() - t0
        e = rotation_angle_deg(np.nan_to_num(Rcv), Rg)
        err["opencv pooled"].append(np.where(np.isfinite(Rcv).all((-2, -1)), e, np.inf))
        flagged["opencv pooled"].append(~np.isfinite(Rcv).all((-2, -1)))
        t0 = time.perf_counter()
        p1 = np.swapaxes(und[:, a], 0, 1).reshape(len(PAIRS), -1, 2)
        p2 = np.swapaxes(und[:, b], 0, 1).reshape(len(PAIRS), -1, 2)
        rp = relative_pose(p1, p2, K[a], K[b], estimator="trimmed")
        secs["ours pooled pairwise"] += time.perf_counter() - t0
        e = rotation_angle_deg(rp.R, Rg)
        err["ours pooled pairwise"].append(np.where(rp.ok, e, np.inf))
        flagged["ours pooled pairwise"].append(~rp.ok)
        for k, kw in bundles.items():
            t0 = time.perf_counter()
            cal = calibrate_rig(und, K, **kw)
            secs[k] += time.perf_counter() - t0
            _bundle_run(cal, Xw, und, K, rig, Rg, C_gt, acc[k])
    eligible = np.concatenate(eligible)
    rows, summary = [], {}
    for k in pooled:
        e = np.concatenate(err[k])
        f = np.concatenate(flagged[k])
        acc_e = e[np.isfinite(e)]
        s = summary[k] = {
            "sequence_pairs": int(e.size), "flagged_or_failed": int(f.sum()),
            "median_incl_deg": float(np.median(e)),
            "median_accepted_deg": float(np.median(acc_e)) if acc_e.size else None,
            "above_5deg_incl": float(np.mean(~(e <= 5.0))),
            "RRA@1": float(np.mean(e < 1)), "RRA@2": float(np.mean(e < 2)),
            "RRA@5": float(np.mean(e < 5)),
            "failed_eligible": int((f & eligible).sum()),
            "seconds_per_sequence": secs[k] / len(sequences)}
        rows.append([name, k, s["sequence_pairs"], s["flagged_or_failed"],
                     f"{s['median_incl_deg']:.3g}",
                     "-" if s["median_accepted_deg"] is None else
                     f"{s['median_accepted_deg']:.3g}",
                     f"{100 * s['above_5deg_incl']:.1f}%",
                     f"{s['RRA@1']:.3f}/{s['RRA@2']:.3f}/{s['RRA@5']:.3f}",
                     s["failed_eligible"], f"{s['seconds_per_sequence']:.3f}"])
        if k in bundles:
            _bundle_summary(acc[k], s)
    for k in pf:
        if not pf[k]:
            continue
        e = np.concatenate(pf[k])
        pm = np.concatenate(pf_pm[k]) if pf_pm[k] else np.array([np.nan])
        s = summary[k] = {"frame_pairs": int(e.size), "flagged_or_failed": int((~np.isfinite(
            e)).sum()), "median_incl_deg": float(np.median(e)),
            "median_accepted_deg": float(np.median(e[np.isfinite(e)])) if np.isfinite(
                e).any() else None,
            "above_5deg_incl": float(np.mean(~(e <= 5.0))),
            "p_mpjpe_accepted_mm": float(np.nanmean(pm)), "pairs_per_s": e.size / max(
                pf_secs[k], 1e-9)}
        rows.append([name, k + " (frame pairs)", s["frame_pairs"], s["flagged_or_failed"],
                     f"{s['median_incl_deg']:.3g}", "-" if s["median_accepted_deg"] is None
                     else f"{s['median_accepted_deg']:.3g}",
                     f"{100 * s['above_5deg_incl']:.1f}%", "-", "-",
                     f"{s['pairs_per_s']:,.0f} pairs/s; P-MPJPE {s['p_mpjpe_accepted_mm']:.3g}"])
    main = summary[next(iter(bundles))]
    if "pseudo_label_p_mpjpe_mm" in main:  # where it was before: the default bundle's
        summary["pseudo_label_p_mpjpe_mm"] = main["pseudo_label_p_mpjpe_mm"]
    return rows, summary


def synth_sequences(n, frames=200, seed=0):
    return list(random_sequences(n, frames, np.random.default_rng(seed)))


def bundle_variants(mode: str, temporal: str = "off") -> dict:
    """{row name: `calibrate_rig` keyword arguments} of the bundle rows. mode (bones): "off"
    (every frame's joints free), "on" (the h36m17 skeleton's bones, default bone_sigma) or
    "both"; temporal: the same for the row with ``temporal="savgol"`` (default window), which
    replaces the plain row when "on" and joins it when "both"."""
    bones = np.array(get_skeleton("h36m17").bones)  # synth and converted Bandai: h36m17
    rows = {"ours pooled bundle": {}, "ours pooled bundle + bones": {"bones": bones}}
    rows = {k: v for k, v in rows.items() if mode == "both" or (mode == "on") == ("bones" in v)}
    if temporal == "on":
        rows.pop("ours pooled bundle", None)
    if temporal in ("on", "both"):
        rows["ours pooled bundle + temporal"] = {"temporal": "savgol"}
    return rows


def main_rig(args) -> dict:
    rig = h36m_rig("S1")
    rows, out = [], {}
    bundles = bundle_variants(args.rig_bones, getattr(args, "rig_temporal", "off"))
    seed = getattr(args, "rig_seed", 0)
    r, out["synth"] = run_dataset("synth", synth_sequences(args.rig_synth_sequences), rig,
                                  args.rig_noise, seed=seed, bundles=bundles)
    rows += r
    path = Path(args.mocap)
    if path.is_file():
        seqs, _ = bandai_sequences(path, every=args.rig_every)
        r, out["bandai_ds1"] = run_dataset("real mocap (Bandai ds-1)", seqs, rig, args.rig_noise,
                                           seed=seed, bundles=bundles)
        rows += r
    else:
        print(f"(real mocap section skipped: {path} not found)")
    print(tabulate(rows, headers=["data", "pipeline", "seq-pairs", "flagged/failed",
                                  "median incl. deg", "median accepted", ">5 deg incl.",
                                  "RRA@1/2/5 incl.", "failed eligible", "s/sequence"]))
    checks = []
    for name in bundles:
        b = out["synth"][name]
        checks.append([f"synth: {name} median <= 0.1 deg",
                       f"{b['median_incl_deg']:.3g} (own covariance predicts "
                       f"{b['covariance_predicted_median_deg']:.3g})",
                       b["median_incl_deg"] <= 0.1])
        if "bandai_ds1" not in out:
            continue
        b = out["bandai_ds1"][name]
        checks.append([f"real: {name} median <= 0.2 deg",
                       f"{b['median_incl_deg']:.3g} (own covariance predicts "
                       f"{b['covariance_predicted_median_deg']:.3g})",
                       b["median_incl_deg"] <= 0.2])
        checks.append([f"real: {name} <= 2% seq-pairs > 5 deg (flagged counted)",
                       f"{100 * b['above_5deg_incl']:.2f}%", b["above_5deg_incl"] <= 0.02])
        checks.append([f"real: {name} no failed eligible seq-pair (>= 30 frames, >= 8 joints)",
                       str(b["failed_eligible"]), b["failed_eligible"] == 0])
    for k, v in out.items():
        for name in bundles:
            if "pseudo_label_p_mpjpe_mm" in v[name]:
                p = v[name]["pseudo_label_p_mpjpe_mm"]
                checks.append([f"{k}: {name} pseudo-label P-MPJPE <= 1.05x known",
                               f"{p['bundle']:.3g} / {p['known']:.3g} = {p['ratio']:.3f}x",
                               p["ratio"] <= 1.05])
    print(tabulate([[c, v, "PASS" if ok else "FAIL"] for c, v, ok in checks],
                   headers=["target", "measured", "result"]))
    return out

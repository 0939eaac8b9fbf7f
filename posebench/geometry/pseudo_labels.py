"""Epipolar pseudo-labels: 3D poses from synchronised 2D poses in several views.

Entry point for trainers::

    from posebench.geometry.pseudo_labels import ViewCameras, pseudo_labels
    cams = ViewCameras(f=f, c=c, k=k, p=p, distortion="h36m")          # (G, V, 2), (G, V, 3) ...
    res = pseudo_labels(poses_2d, cams, mode="pooled", sequence_ids=seq, seed=0)
    res.poses_3d   # (G, V, J, 3) pose of group g seen by view v, in view v's camera frame
    res.ok         # (G, V) bool: use res.poses_3d[g, v] only where ok
    res.reason     # (G, V) str: "ok" or why not (see two_view.REASONS)

Inputs: ``poses_2d (G, V, J, 2)`` pixels in the *full, distorted* image (as a detector or the
dataset gives them; NaN = missing joint, an all-NaN view = missing view); G groups (one
instant), V views. Distortion is removed inside (iterative, `camera.undistort_points`).

Modes:
- ``"known"``: extrinsics given (``R, t``: ``X_c = R X_w + t`` mm). Weighted DLT over all
  valid views (``known_method="dlt"``) or the vector median of the optimal (Hartley-Sturm)
  pairwise triangulations (``"pairwise-median"``, the paper's recipe). Output in millimetres.
- ``"per-frame"``: the paper literally: for every group and view pair, F from the 2D joints of
  that instant (normalised 8-point, optional RANSAC, then Levenberg-Marquardt on the Sampson
  distance), E, the cheirality check, optimal triangulation. ``estimator="fast"`` selects the
  throughput path instead (`fast_two_view.fast_relative_pose`: one 8-point solve, no
  refinement, midpoint triangulation; ~3-5x faster, less accurate than the default
  ``"accurate"`` path but more accurate than OpenCV's per-frame 8-point pipeline).
- ``"pooled"``: static rig: one relative pose per view pair and *sequence* (``sequence_ids``
  (G,)), estimated from all frames' correspondences at once (trimmed 8-point + LM), then every
  frame triangulated with it (optimal two-view). Needs far fewer assumptions than it looks: only
  that cameras do not move within a sequence.

Multi-view (V > 2) in unknown-scale modes: each view pair (a, b) gives a reconstruction in view
a's frame (and, through its R, t, in view b's); for view v the estimates of all successful pairs
containing v are scale-normalised (below) and combined by the per-joint vector median.

Scale convention for unknown-scale modes (``per-frame``, ``pooled``): a reconstruction is only
defined up to scale. Each output pose ``X (J, 3)`` (camera frame of its view, not root-centred)
is divided by ``s = sqrt(mean_j ||X_j - X_root||^2)`` over its valid joints, so the
*root-centred* pose has unit RMS joint distance to the root (``root`` argument, default 0, the
pelvis of h36m17). Dividing the whole camera-frame pose keeps every projection ``(X/Z, Y/Z)``
unchanged, so a trainer can either root-centre (unit-RMS shape, compare after scale alignment)
or project to pixels. ``result.scale_convention`` names it. Known mode returns millimetres.

Failure flags (never silent garbage): a pair fails with a reason code when it has fewer than 8
valid joints, identical views, collinear joints, no parallax (coplanar joints, pure rotation),
fails the cheirality test, or is not finite; a view of a group is ``ok`` when at least one
pair containing it succeeded and its root joint was reconstructed. Failed entries are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from posebench.errors import InputError
from posebench.geometry.camera import intrinsic_matrix, undistort_points, world_to_camera
from posebench.geometry.fast_two_view import fast_relative_pose
from posebench.geometry.rig_calibration import calibrate_rig
from posebench.geometry.rotations import relative_extrinsics
from posebench.geometry.triangulation import (
    triangulate_dlt_checked,
    triangulate_two_view_optimal,
    vector_median,
)
from posebench.geometry.two_view import (
    BEHIND_CAMERA,
    NOT_ENOUGH_VIEWS,
    NOT_VISIBLE,
    OK,
    PARALLEL_RAYS,
    REASONS,
    ROOT_MISSING,
    TOO_FEW,
    relative_pose,
)

SCALE_CONVENTION = "root-centred pose has unit RMS joint distance to the root (camera frame)"


@dataclass
class ViewCameras:
    """Per-view calibration of G groups x V views (arrays broadcast against (G, V, ...)).

    f, c (G, V, 2) or (V, 2) px; k (.., 3) radial, p (.., 2) tangential (None = no distortion);
    distortion: "h36m" | "opencv" | "none"; R (.., 3, 3), t (.., 3) mm world->camera
    (``X_c = R X_w + t``), needed only for mode "known" and for reports.
    """

    f: np.ndarray
    c: np.ndarray
    k: np.ndarray | None = None
    p: np.ndarray | None = None
    distortion: str = "h36m"
    R: np.ndarray | None = None
    t: np.ndarray | None = None

    def broadcast(self, G: int, V: int) -> ViewCameras:
        def b(a, tail):
            return None if a is None else np.broadcast_to(np.asarray(a, float), (G, V) + tail)
        return ViewCameras(b(self.f, (2,)), b(self.c, (2,)), b(self.k, (3,)), b(self.p, (2,)),
                           self.distortion, b(self.R, (3, 3)), b(self.t, (3,)))


@dataclass
class PseudoLabels:
    """Result of `pseudo_labels` (see module docstring).

    poses_3d (G, V, J, 3): view v's camera frame; mm (known) or scale-normalised.
    ok (G, V) bool; reason (G, V) str. pairs (P, 2) view indices (a, b); pair_ok (G, P);
    pair_reason (G, P) str; pair_R (G, P, 3, 3), pair_t (G, P, 3): ``X_b = R X_a + t`` (t unit
    length in unknown-scale modes, mm in known mode).
    """

    poses_3d: np.ndarray
    ok: np.ndarray
    reason: np.ndarray
    pairs: np.ndarray
    pair_ok: np.ndarray
    pair_reason: np.ndarray
    pair_R: np.ndarray
    pair_t: np.ndarray
    mode: str
    scale_convention: str
    info: dict = field(default_factory=dict)


def normalise_scale(X: np.ndarray, root: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Divide poses X (..., J, 3) by s = RMS distance of valid joints to the root joint.
    Returns (X / s, s (...,)); NaN where the root is missing or s is 0."""
    d2 = ((X - X[..., root:root + 1, :]) ** 2).sum(-1)
    v = np.isfinite(d2)
    s = np.sqrt(np.where(v, d2, 0.0).sum(-1) / np.maximum(v.sum(-1), 1))
    s = np.where(np.isfinite(X[..., root, :]).all(-1) & (s > 0), s, np.nan)
    return X / s[..., None, None], s


def _pair_list(V: int, pairs) -> np.ndarray:
    if pairs is None or pairs == "all":
        out = list(combinations(range(V), 2))
    else:
        out = [tuple(int(i) for i in p) for p in pairs]
    arr = np.asarray(out, dtype=np.int64).reshape(-1, 2)
    if len(arr) == 0 or arr.min() < 0 or arr.max() >= V or (arr[:, 0] == arr[:, 1]).any():
        raise InputError(f"view pairs {out} are invalid for {V} views; expected distinct view "
                         f"indices in [0, {V}); pass pairs=None for all pairs.")
    return arr


def pseudo_labels(poses_2d: np.ndarray, cameras: ViewCameras, *, mode: str = "per-frame",
                  sequence_ids: np.ndarray | None = None, pairs=None, root: int = 0,
                  estimator: str | None = None, refine: bool = True, threshold_px: float = 1.0,
                  ransac_iters: int = 100, known_method: str = "dlt", seed: int = 0,
                  min_points: int = 8, n_threads: int | None = None,
                  triangulation: str | None = None, calibration: str = "bundle",
                  calibration_kw: dict | None = None, bones=None, temporal: str | None = None,
                  frames=None) -> PseudoLabels:
    """3D pseudo-labels from multi-view 2D poses (see the module docstring for everything).

    poses_2d (G, V, J, 2) px, full distorted image; cameras: `ViewCameras`; mode "known" |
    "per-frame" | "pooled"; sequence_ids (G,) any dtype (pooled: groups of one static rig);
    pairs: None (all view pairs) or a list of (a, b); estimator: "accurate" (the mode's
    default: "8point" + Sampson refinement per-frame, "trimmed" pooled) | "8point" | "trimmed" |
    "ransac" | "fast" (per-frame only: 8-point without refinement, midpoint triangulation;
    `refine` and `triangulation` do not apply); seed drives RANSAC sampling.
    triangulation (unknown-scale modes and known "pairwise-median"): "certified" (Hartley-Sturm
    degree-6 polynomial, the paper-literal path) or "iterative" (iterated linearisation with
    Hartley-Sturm fallback: same optimum to < 1e-7 px, ~4x faster); default "iterative" for
    per-frame (its throughput target), "certified" otherwise.
    calibration (pooled only): "bundle" (default: all cameras of a sequence calibrated jointly,
    `rig_calibration.calibrate_rig`; every frame's joints are the bundle-adjusted points;
    ill-conditioned sequences are flagged with their reason) or "pairwise" (one pooled
    relative pose per camera pair, then two-view optimal triangulation and the vector median);
    calibration_kw: extra arguments of `calibrate_rig` (thresholds, ``bone_sigma``).
    bones (pooled bundle only): None or the skeleton's (parent, child) joint pairs (B, 2)
    (`Skeleton.bones`): the bundle then also fits one constant length per bone over each
    sequence (`calibrate_rig`'s ``bones``); None keeps every frame's joints free.
    temporal (pooled bundle only): None or "savgol" (`calibrate_rig`'s ``temporal``: each 2D
    track smoothed over time before the bundle); frames (G,) integer frame numbers of the
    groups (None: each sequence's groups are consecutive frames in order).
    Never raises on data: degenerate groups, views and pairs come back flagged with a reason.
    Longer than 60 lines on purpose: the docstring documents every option of this one public
    entry point; the body is ~35 lines of dispatch.
    """
    x = np.asarray(poses_2d, dtype=np.float64)
    if x.ndim != 4 or x.shape[-1] != 2:
        raise InputError(f"poses_2d has shape {x.shape}, expected (G, V, J, 2) pixels; stack "
                         "the views of each instant along axis 1.")
    G, V, J, _ = x.shape
    cams, estimator = _checked_arguments(cameras, G, V, mode, sequence_ids, estimator,
                                         calibration)
    if V < 2:  # nothing to triangulate: every view flagged, no pair
        names = np.asarray(REASONS)
        return PseudoLabels(np.full((G, V, J, 3), np.nan), np.zeros((G, V), bool),
                            np.full((G, V), names[NOT_ENOUGH_VIEWS]), np.zeros((0, 2), np.int64),
                            np.zeros((G, 0), bool), np.zeros((G, 0), dtype="<U16"),
                            np.zeros((G, 0, 3, 3)), np.zeros((G, 0, 3)), mode,
                            "millimetres" if mode == "known" else SCALE_CONVENTION)
    P = _pair_list(V, pairs)
    with np.errstate(all="ignore"):  # far-off labels may overflow the distortion model
        und = undistort_points(x, cams.f, cams.c, cams.k, cams.p, cams.distortion)
        und = np.where(np.isfinite(und).all(-1, keepdims=True), und, np.nan)
    K = intrinsic_matrix(cams.f, cams.c)  # (G, V, 3, 3)
    if mode == "known":
        return _known(und, K, cams, P, root, known_method, n_threads)
    kw = dict(refine=refine, threshold_px=threshold_px, ransac_iters=ransac_iters, seed=seed,
              min_points=min_points, n_threads=n_threads)
    if mode == "pooled" and calibration == "bundle":
        cal_kw = dict(calibration_kw or {})
        if bones is not None:
            cal_kw["bones"] = bones
        if temporal is not None:
            cal_kw["temporal"] = temporal
        return _pooled_bundle(und, K, P, np.asarray(sequence_ids), root, cal_kw,
                              dict(kw, estimator=estimator or "trimmed"), frames)
    return _unknown_scale(und, K, P, mode, estimator, np.asarray(sequence_ids)
                          if mode == "pooled" else None, root, triangulation, kw)


def _checked_arguments(cameras, G, V, mode, sequence_ids, estimator, calibration):
    """`pseudo_labels`' option checks (one `InputError` sentence each); returns the cameras
    broadcast to (G, V, ...) and the estimator (None for "accurate")."""
    if calibration not in ("bundle", "pairwise"):
        raise InputError(f"calibration '{calibration}' is unknown; expected bundle or pairwise.")
    if mode not in ("known", "per-frame", "pooled"):
        raise InputError(f"mode '{mode}' is unknown; expected known, per-frame or pooled.")
    try:
        cams = cameras.broadcast(G, V)
    except ValueError:
        raise InputError(f"the cameras do not match poses_2d of {G} groups x {V} views; "
                         "expected camera arrays of shape (V, ...) or (G, V, ...); pass one "
                         "calibration per view.") from None
    if mode == "known" and (cams.R is None or cams.t is None):
        raise InputError("mode 'known' needs extrinsics R, t in ViewCameras; pass them or use "
                         "mode 'per-frame' / 'pooled'.")
    if mode == "pooled" and sequence_ids is None:
        raise InputError("mode 'pooled' needs sequence_ids (G,) naming the static-rig sequence "
                         "of every group; pass them or use mode 'per-frame'.")
    if estimator == "accurate":
        estimator = None
    if estimator not in (None, "8point", "trimmed", "ransac", "fast"):
        raise InputError(f"estimator '{estimator}' is unknown; expected accurate, fast, 8point, "
                         "trimmed or ransac.")
    if estimator == "fast" and mode != "per-frame":
        raise InputError(f"estimator 'fast' is the per-frame throughput path, but mode is "
                         f"'{mode}'; use mode 'per-frame' or estimator 'accurate'.")
    return cams, estimator


def _unknown_scale(und, K, P, mode, estimator, seq, root, triangulation, kw):
    """Modes "per-frame" and pooled "pairwise": relative pose of every pair (per frame, or per
    sequence `seq` (G,) when pooled), two-view triangulation, vector median per view."""
    G, V, J, _ = und.shape
    a, b = P[:, 0], P[:, 1]
    x1, x2 = und[:, a], und[:, b]  # (G, P, J, 2)
    K1, K2 = K[:, a], K[:, b]
    n_pairs = G * len(P)
    flat = (x1.reshape(n_pairs, J, 2), x2.reshape(n_pairs, J, 2), K1.reshape(n_pairs, 3, 3),
            K2.reshape(n_pairs, 3, 3))
    if estimator == "fast":
        rp, Xa = fast_relative_pose(*flat, min_points=kw["min_points"],
                                    n_threads=kw["n_threads"])
        R, t = rp.R.reshape(G, len(P), 3, 3), rp.t.reshape(G, len(P), 3)
        Xa = Xa.reshape(G, len(P), J, 3)
        return _combine(Xa, world_to_camera(Xa, R, t), rp.ok.reshape(G, len(P)),
                        rp.reason.reshape(G, len(P)), R, t, P, V, root, mode, SCALE_CONVENTION)
    if mode == "per-frame":
        rp = relative_pose(*flat, estimator=estimator or "8point", **kw)
        R, t = rp.R.reshape(G, len(P), 3, 3), rp.t.reshape(G, len(P), 3)
        pair_reason = rp.reason.reshape(G, len(P))
    else:
        R, t, pair_reason = _pooled_poses(x1, x2, K1, K2, seq, estimator or "trimmed", kw)
        n_valid = (np.isfinite(x1).all(-1) & np.isfinite(x2).all(-1)).sum(-1)
        pair_reason = np.where((pair_reason == OK) & (n_valid < 2), TOO_FEW, pair_reason)

    tri = triangulation or ("iterative" if mode == "per-frame" else "certified")
    if tri not in ("certified", "iterative"):
        raise InputError(f"triangulation '{tri}' is unknown; expected certified or iterative.")
    Xa = triangulate_two_view_optimal(R.reshape(n_pairs, 3, 3), t.reshape(n_pairs, 3), *flat,
                                      n_threads=kw["n_threads"], method=tri
                                      ).reshape(G, len(P), J, 3)
    Xb = world_to_camera(Xa, R, t)
    pair_ok = pair_reason == OK
    return _combine(Xa, Xb, pair_ok, pair_reason, R, t, P, V, root, mode, SCALE_CONVENTION)


def _pooled_poses(x1, x2, K1, K2, seq, estimator, kw):
    """One relative pose per (sequence, pair) from all frames of the sequence (batched over
    pairs; a Python loop over sequences only). Returns R (G, P, 3, 3), t (G, P, 3), reason."""
    G, Pn, J, _ = x1.shape
    R = np.zeros((G, Pn, 3, 3))
    t = np.zeros((G, Pn, 3))
    reason = np.zeros((G, Pn), dtype=np.int64)
    _, inv = np.unique(seq, return_inverse=True)
    for s in range(inv.max() + 1 if G else 0):
        rows = np.flatnonzero(inv == s)
        # (P, n_frames * J, 2): every frame's joints are correspondences of the same rig
        p1 = np.swapaxes(x1[rows], 0, 1).reshape(Pn, -1, 2)
        p2 = np.swapaxes(x2[rows], 0, 1).reshape(Pn, -1, 2)
        # intrinsics are taken from the sequence's first frame (a static rig)
        rp = relative_pose(p1, p2, K1[rows[0]], K2[rows[0]], estimator=estimator, **kw)
        R[rows], t[rows], reason[rows] = rp.R, rp.t, rp.reason
    return R, t, reason


def _pooled_bundle(und, K, P, seq, root, cal_kw, pair_kw, frames=None):
    """Pooled mode with joint rig calibration per sequence (`rig_calibration`); a Python loop
    over sequences only. Per-view outputs are the bundle-adjusted joints in each camera;
    frames (G,) the groups' frame numbers (option ``temporal``) or None."""
    G, V, J, _ = und.shape
    Pn = len(P)
    poses = np.full((G, V, J, 3), np.nan)
    reason = np.full((G, V), NOT_ENOUGH_VIEWS, dtype=np.int64)
    pair_reason = np.full((G, Pn), NOT_ENOUGH_VIEWS, dtype=np.int64)
    pair_R = np.tile(np.eye(3), (G, Pn, 1, 1))
    pair_t = np.zeros((G, Pn, 3))
    seq_info = []
    kw = {k: v for k, v in pair_kw.items() if k in ("estimator", "threshold_px", "ransac_iters",
                                                    "seed", "min_points", "refine")}
    _, inv = np.unique(seq, return_inverse=True)
    for s in range(inv.max() + 1 if G else 0):
        rows = np.flatnonzero(inv == s)
        fr = None if frames is None or "temporal" not in cal_kw else np.asarray(frames)[rows]
        cal = calibrate_rig(und[rows], K[rows[0]], root=root, pair_kw=kw, frames=fr, **cal_kw)
        Rv, tv = np.nan_to_num(cal.R), np.nan_to_num(cal.t)
        Xv = np.matmul(cal.points[:, None], np.swapaxes(Rv, -1, -2)[None]) + tv[None, :, None]
        Xv, _ = normalise_scale(Xv, root)
        pair_R[rows], pair_t[rows], pair_reason[rows] = _rig_pairs(cal, Rv, tv, P)
        r = _bundle_view_reasons(cal, Xv, und[rows], root)
        reason[rows] = r
        poses[rows] = np.where((r == OK)[..., None, None], Xv, np.nan)
        seq_info.append({"sequence": str(seq[rows[0]]), "frames": int(len(rows)),
                         "pair_reason": [REASONS[c] for c in cal.pair_reason],
                         "pairs": cal.pairs.tolist(),
                         "frames_both": cal.frames_both.tolist(),
                         "rot_std_deg": [None if not np.isfinite(v) else float(v)
                                         for v in cal.pair_rot_std_deg],
                         "motion": cal.info.get("motion"),
                         "reprojection_rms_px": cal.info.get("reprojection_rms_px"),
                         "seconds": cal.info.get("seconds")})
    names = np.asarray(REASONS)
    res = PseudoLabels(poses, reason == OK, names[reason], P, pair_reason == OK,
                       names[pair_reason], pair_R, pair_t, "pooled", SCALE_CONVENTION)
    res.info["calibration"] = "bundle"
    res.info["sequences"] = seq_info
    return res


def _rig_pairs(cal, Rv, tv, P):
    """Relative poses R (P, 3, 3), unit t (P, 3) and reasons (P,) of the requested pairs P
    (P, 2) from a calibrated rig (cameras Rv (V, 3, 3), tv (V, 3), NaN-free)."""
    a, b = P[:, 0], P[:, 1]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    k = np.array([np.flatnonzero((cal.pairs[:, 0] == i) & (cal.pairs[:, 1] == j))[0]
                  for i, j in zip(lo, hi)], dtype=np.int64)
    Rab = Rv[b] @ np.swapaxes(Rv[a], -1, -2)
    tab = tv[b] - np.einsum("pij,pj->pi", Rab, tv[a])
    tab = tab / np.maximum(np.linalg.norm(tab, axis=-1, keepdims=True), 1e-300)
    return Rab, tab, cal.pair_reason[k]


def _bundle_view_reasons(cal, Xv, und, root):
    """Reason codes (T, V) of a sequence's views: usable where the view is calibrated, at
    least one of its pairs is confident, and its root was reconstructed (Xv (T, V, J, 3)) in
    front of it and is seen (und (T, V, J, 2)); else the view's first failed pair's reason."""
    V = Xv.shape[1]
    conf = np.zeros(V, bool)
    first_bad = np.full(V, NOT_ENOUGH_VIEWS)
    for v in range(V):
        has = (cal.pairs == v).any(1)
        conf[v] = cal.view_ok[v] and (cal.pair_reason[has] == OK).any()
        bad = cal.pair_reason[has][cal.pair_reason[has] != OK]
        first_bad[v] = bad[0] if len(bad) else NOT_ENOUGH_VIEWS
    root_ok = np.isfinite(Xv[..., root, :]).all(-1)
    front = Xv[..., root, 2] > 0
    seen = np.isfinite(und[..., root, :]).all(-1)  # (T, V)
    return np.where(conf[None], np.where(root_ok, np.where(front, np.where(
        seen, OK, NOT_VISIBLE), BEHIND_CAMERA), ROOT_MISSING), first_bad[None])


def _combine(Xa, Xb, pair_ok, pair_reason, R, t, P, V, root, mode, convention,
             normalise=True):
    G, Pn, J, _ = Xa.shape
    if normalise:
        Xa, _ = normalise_scale(Xa, root)
        Xb, _ = normalise_scale(Xb, root)
    root_ok = np.isfinite(Xa[..., root, :]).all(-1)
    pair_reason = np.where((pair_reason == OK) & ~root_ok, ROOT_MISSING, pair_reason)
    pair_ok = pair_reason == OK
    # candidates per view: (G, V, P, J, 3), NaN where the pair does not contain the view
    cand = np.full((G, V, Pn, J, 3), np.nan)
    idx = np.arange(Pn)
    cand[:, P[:, 0], idx] = Xa
    cand[:, P[:, 1], idx] = Xb
    cand = np.where(pair_ok[:, None, :, None, None], cand, np.nan)
    out = vector_median(cand)
    if normalise:
        out, _ = normalise_scale(out, root)
    ok = np.isfinite(out[..., root, :]).all(-1)
    # a failed view reports the reason of its first failed pair (or not_enough_views)
    reason = np.full((G, V), NOT_ENOUGH_VIEWS, dtype=np.int64)
    for v in range(V):
        has = (P == v).any(1)
        first_fail = pair_reason[:, has][:, 0] if has.any() else np.full(G, NOT_ENOUGH_VIEWS)
        reason[:, v] = np.where(ok[:, v], OK, np.where(first_fail == OK, NOT_ENOUGH_VIEWS,
                                                       first_fail))
    out = np.where(ok[..., None, None], out, np.nan)
    names = np.asarray(REASONS)
    return PseudoLabels(out, ok, names[reason], P, pair_ok, names[pair_reason], R, t, mode,
                        convention)


def _known(und, K, cams, P, root, method, n_threads):
    G, V, J, _ = und.shape
    a, b = P[:, 0], P[:, 1]
    R, t = relative_extrinsics(cams.R[:, a], cams.t[:, a], cams.R[:, b], cams.t[:, b])
    valid = np.isfinite(und).all(-1)
    n_pair_valid = (valid[:, a] & valid[:, b]).sum(-1)
    pair_reason = np.where(n_pair_valid >= 1, OK, TOO_FEW)
    if method == "dlt":
        Pm = K @ np.concatenate([cams.R, cams.t[..., None]], -1)  # (G, V, 3, 4)
        # views that would see a point behind them are dropped per point (a 2D label of a
        # point behind the camera is not an image of it), degenerate points are flagged
        Xw, why = triangulate_dlt_checked(Pm, und)  # (G, J, 3), (G, J)
        Xc = world_to_camera(Xw[:, None], cams.R, cams.t)  # (G, V, J, 3)
        root_reason = np.array([OK, ROOT_MISSING, PARALLEL_RAYS, BEHIND_CAMERA])[why[:, root]]
        reason = np.broadcast_to(root_reason[:, None], (G, V)).copy()
        # a view whose camera has the root behind it cannot use the label
        reason = np.where((reason == OK) & ~(Xc[..., root, 2] > 0), BEHIND_CAMERA, reason)
        # a view whose image does not show the root gets no label (nothing to learn from)
        reason = np.where((reason == OK) & ~valid[..., root], NOT_VISIBLE, reason)
        ok = (reason == OK) & np.isfinite(Xc[..., root, :]).all(-1)
        reason = np.where(ok, OK, np.where(reason == OK, ROOT_MISSING, reason))
        names = np.asarray(REASONS)
        return PseudoLabels(np.where(ok[..., None, None], Xc, np.nan), ok, names[reason], P,
                            pair_reason == OK, names[pair_reason], R, t, "known", "millimetres")
    if method != "pairwise-median":
        raise InputError(f"known_method '{method}' is unknown; expected dlt or pairwise-median.")
    n = G * len(P)
    Xa = triangulate_two_view_optimal(R.reshape(n, 3, 3), t.reshape(n, 3),
                                      und[:, a].reshape(n, J, 2), und[:, b].reshape(n, J, 2),
                                      K[:, a].reshape(n, 3, 3), K[:, b].reshape(n, 3, 3),
                                      n_threads=n_threads).reshape(G, len(P), J, 3)
    Xb = world_to_camera(Xa, R, t)
    res = _combine(Xa, Xb, pair_reason == OK, pair_reason, R, t, P, V, root, "known",
                   "millimetres", normalise=False)
    return res

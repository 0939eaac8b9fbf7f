"""Joint calibration of a static multi-camera rig from the 2D joints of one sequence.

`calibrate_rig` (pooled mode's default, ``calibration="bundle"``):

1. pairwise pooled relative poses (`two_view.relative_pose`, trimmed 8-point + Sampson LM on
   all of the sequence's correspondences of each camera pair);
2. rotation averaging over the view graph: the spanning tree whose chained rotations agree
   (within 2 `edge_tol_deg`) with the most edges (RANSAC over spanning trees; edge weight:
   inlier count / Sampson RMS^2 breaks ties) gives the first absolute rotations from its
   consensus edges, refined by iterative chordal L2 averaging; edges disagreeing with the
   average by more than `edge_tol_deg` are dropped and the average recomputed (a gross
   pairwise failure cannot poison the rig; on Bandai guide_normal_001 two pairs have a wrong
   pairwise minimum, 58-59 deg off, fitting as well as the right one, and greedy dropping
   from the maximum spanning tree kept them);
3. translations: the best kept edge fixes the scale (its baseline = 1); its points are
   triangulated and every other camera's translation solved linearly with its rotation known
   (``[x]_x (R X + t) = 0``, reweighted);
4. bundle adjustment of every camera (6 parameters, the reference camera fixed) and every
   frame's joints (3 each) on the reprojection error in undistorted pixels, with
   `scipy.optimize.least_squares` (trust-region reflective, the points eliminated at each
   evaluation by variable projection (`_BundleProblem`), robust ``loss`` for outlier
   joints); the scale stays fixed by a gauge
   residual on the reference baseline (any scale is equivalent: outputs follow the scale
   convention of `pseudo_labels`).
   Optional prior (``bones``, off by default): the person's bone lengths are constant over a
   sequence (human-pose rig calibration uses it, e.g. Takahashi et al., CVPRW 2018). One
   length per bone joins the camera parameters, and every frame's bone with both joints
   triangulable adds the residual ``s_px (|X_a - X_b| - L_b) / (bone_sigma median(L))`` in
   pixels (s_px: median pairwise Sampson RMS, the pixel-noise figure), so a deviation of
   ``bone_sigma`` (fraction of the median bone length) weighs as one noise-sized pixel
   residual; each frame's joints are then solved jointly (a (3J, 3J) system per frame).
   At the true rig it lowers the rotations' Gauss-Newton std by 1-13% per camera pair (synth,
   hard-constraint limit); see `benchmarks/geometry_rig.py` for what it measured.
   Optional smoothing (``temporal="savgol"``, off by default): steps 3-4 see every 2D track
   smoothed over `temporal_window` frames (`temporal.savgol_tracks`, NaN never spreads); the
   conditioning figures below stay on the raw pixels (`_raw_fit`). A camera perturbation is
   absorbed by per-frame point shifts that vary as smoothly as the motion, so temporal
   information adds almost nothing to the rotations (an acceleration prior lowers their
   Gauss-Newton std at the true rig by at most 2%); it lowers the points' error.

Conditioning (a confident wrong rotation is the worst outcome): each camera pair reports
``frames_both`` (frames with >= `min_joints` joints visible in both views), the motion figure
``motion`` (RMS deviation of the joints from their sequence mean, over the RMS joint distance
to the root: ~0.03 for someone standing still, > 0.3 when walking), and ``rot_std_deg``, the
standard deviation of the relative rotation from the Gauss-Newton covariance of the bundle
adjustment (Schur complement over the points, robust residual scale). A pair is flagged
``few_visible`` (fewer than `min_frames` such frames and no path through other views), or,
when rot_std is above `max_rot_std_deg`, ``little_motion`` (motion below `min_motion`: the
likely cause) or ``ill_conditioned`` (otherwise); flagged pairs carry NaN-free but unusable
poses and their reason. Before those, a bundle that fits the data worse than the pairwise
estimates do is a wrong minimum, not noise: ``fit_ratio`` (info), the bundle's robust residual
sigma (dof-corrected) over the median Sampson RMS of the kept edges, is 0.88-1.00 on synth and
all Bandai scenes but one at 2 px (max 1.10), 1.30 on bye_normal_001 (wrong minimum,
pairs 9-26 deg off) and 1.42 for guide_normal_001 started the old way; above
`max_fit_ratio` the calibration is restarted once from a wider rotation consensus
(3 `edge_tol_deg`) and the better fit kept; if still above, every calibrated pair is flagged
``inconsistent``. (Flagging low motion
alone, at rot_std > max / 3, flagged 10 of 1044 Bandai sequence-pairs whose true errors were
0.13-0.55 deg: the covariance is the better judge.)

Conventions: x (T, V, J, 2) undistorted pinhole pixels (NaN = not visible), K (V, 3, 3);
camera v maps reference-frame points by ``X_v = R_v X + t_v`` (reference camera: R = I, t = 0).
"""

from __future__ import annotations

import contextlib
import time
import warnings
from dataclasses import dataclass, field
from itertools import combinations
from math import comb

import numpy as np

from posebench.errors import InputError
from posebench.geometry.rotations import rodrigues, rotation_angle_deg, skew
from posebench.geometry.temporal import SAVGOL_WINDOW, savgol_tracks
from posebench.geometry.triangulation import triangulate_dlt_checked
from posebench.geometry.two_view import (
    FEW_VISIBLE,
    ILL_CONDITIONED,
    INCONSISTENT,
    LITTLE_MOTION,
    NOT_ENOUGH_VIEWS,
    OK,
    relative_pose,
)
from posebench.parallel import single_threaded_blas

BONE_SIGMA = 0.005  # default bone-length spread, fraction of the median bone length


def _checked_bones(bones, J: int) -> np.ndarray | None:
    """bones as an int array (B, 2) of distinct joint indices in [0, J); None when empty."""
    b = np.asarray(bones)
    if b.size == 0:
        return None
    if b.ndim != 2 or b.shape[1] != 2 or not np.issubdtype(b.dtype, np.integer) \
            or (b < 0).any() or (b >= J).any() or (b[:, 0] == b[:, 1]).any():
        raise InputError(f"bones must be (B, 2) pairs of distinct joint indices in [0, {J}); "
                         f"got {b.tolist()}; pass the skeleton's (parent, child) pairs.")
    return b.astype(np.int64)


@dataclass
class RigCalibration:
    """Result of `calibrate_rig` for V views, P = V (V - 1) / 2 pairs (all (a < b)).

    R (V, 3, 3), t (V, 3): ``X_v = R_v X + t_v`` (reference-camera frame, reference baseline
    1); view_ok (V,); points (T, J, 3) bundle-adjusted joints (NaN where fewer than two views
    see them); pairs (P, 2); pair_reason (P,) int code into `two_view.REASONS`;
    pair_rot_std_deg, frames_both, pair_R_pairwise (P, 3, 3) (step 1), pair_ok_pairwise;
    info: motion, reprojection RMS px, reference view, iterations, seconds.
    """

    R: np.ndarray
    t: np.ndarray
    view_ok: np.ndarray
    points: np.ndarray
    pairs: np.ndarray
    pair_reason: np.ndarray
    pair_rot_std_deg: np.ndarray
    frames_both: np.ndarray
    pair_R_pairwise: np.ndarray
    pair_ok_pairwise: np.ndarray
    info: dict = field(default_factory=dict)

    def relative(self) -> tuple[np.ndarray, np.ndarray]:
        """Relative poses of the pairs: R (P, 3, 3), unit t (P, 3) with ``X_b = R X_a + t``."""
        a, b = self.pairs[:, 0], self.pairs[:, 1]
        R = self.R[b] @ np.swapaxes(self.R[a], -1, -2)
        t = self.t[b] - np.einsum("pij,pj->pi", R, self.t[a])
        n = np.linalg.norm(t, axis=-1, keepdims=True)
        return R, np.where(n > 0, t / np.where(n > 0, n, 1.0), 0.0)


def _project_to_so3(M: np.ndarray) -> np.ndarray:
    U, _, Vt = np.linalg.svd(M)
    d = np.sign(np.linalg.det(U @ Vt))
    return (U * np.stack([np.ones_like(d), np.ones_like(d), d], -1)[..., None, :]) @ Vt


def average_rotations(V: int, pairs: np.ndarray, R_rel: np.ndarray, weight: np.ndarray,
                      ref: int, *, iters: int = 20, edge_tol_deg: float = 5.0,
                      consensus_tol_deg: float | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Absolute rotations (V, 3, 3) (R_ref = I) from relative ones ``R_b = R_rel R_a`` of the
    edges `pairs` (E, 2) with weights (E,) (0 = unusable): maximum spanning tree, then chordal
    L2 averaging. While some edge disagrees with the average by more than `edge_tol_deg`, the
    edge whose removal leaves the most consistent graph (smallest largest residual, graph still
    connected) is dropped and the average redone. Returns (R, reached (V,) bool, edge_used
    (E,) bool)."""
    tol = 2 * edge_tol_deg if consensus_tol_deg is None else consensus_tol_deg
    used = _consensus_edges(V, pairs, R_rel, weight, ref, tol)
    R, reached, resid = _average(V, pairs, R_rel, weight, used, ref, iters)
    while (resid[used] > edge_tol_deg).any():
        best = None
        for e in np.flatnonzero(used & (resid > edge_tol_deg / 2)):
            trial = used.copy()
            trial[e] = False
            if not _connected(V, pairs[trial], ref)[reached].all():
                continue
            Rt, rt, res_t = _average(V, pairs, R_rel, weight, trial, ref, iters)
            worst = res_t[trial].max(initial=0.0)
            if best is None or worst < best[0]:
                best = (worst, trial, Rt, rt, res_t)
        if best is None:
            break
        _, used, R, reached, resid = best
    return R, reached, used


def _consensus_edges(V: int, pairs: np.ndarray, R_rel: np.ndarray, weight: np.ndarray,
                     ref: int, tol_deg: float, n_trees: int = 200) -> np.ndarray:
    """Edges (E,) bool of the largest-weight consistent subgraph: each candidate spanning
    tree (all of them when there are at most `n_trees` edge subsets of size V - 1, else
    `n_trees` seeded random ones and the maximum one) chains absolute rotations; its consensus
    is the set of usable edges within `tol_deg` of them; the largest consensus wins, ties to
    the heavier (RANSAC
    over spanning trees: two wrong edges that happen to form a tree with one good edge no
    longer outvote a consistent cycle, as greedy dropping allowed)."""
    usable = np.flatnonzero(weight > 0)
    if len(usable) < V:  # at most a tree: nothing to vote on
        return weight > 0
    k = V - 1
    if comb(len(usable), k) <= n_trees:
        subsets = [np.array(c) for c in combinations(usable, k)]
    else:
        rng = np.random.default_rng(0)
        subsets = [_kruskal(V, pairs, usable, key) for key in
                   [-weight[usable]] + [rng.random(len(usable)) for _ in range(n_trees)]]
    best, best_score = weight > 0, -1.0
    for sub in subsets:
        tree = np.zeros(len(pairs), bool)
        tree[sub] = True
        R, reached, _ = _average(V, pairs, R_rel, weight, tree, ref, iters=0)
        if not reached[np.unique(pairs[usable])].all():
            continue
        resid = rotation_angle_deg(R_rel, R[pairs[:, 1]] @ np.swapaxes(R[pairs[:, 0]], -1, -2))
        cons = (weight > 0) & (resid < tol_deg)
        score = cons.sum() + weight[cons].sum() / (weight.sum() + 1e-300)  # count, then weight
        if score > best_score:
            best, best_score = cons, score
    return best


def _kruskal(V: int, pairs: np.ndarray, edges: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Edges (indices into pairs) of the spanning forest taking `edges` in order of `key`."""
    parent = list(range(V))

    def root(v):
        while parent[v] != v:
            v = parent[v]
        return v

    out = []
    for e in edges[np.argsort(key)]:
        ra, rb = root(pairs[e, 0]), root(pairs[e, 1])
        if ra != rb:
            parent[ra] = rb
            out.append(e)
    return np.array(out, dtype=np.int64)


def _average(V, pairs, R_rel, weight, used, ref, iters):
    """Spanning tree + chordal L2 averaging over the `used` edges; returns (R, reached,
    residual angle (E,) deg of every edge)."""
    reached = np.zeros(V, bool)
    reached[ref] = True
    R = np.tile(np.eye(3), (V, 1, 1))
    while True:  # Prim: best edge from the reached set to a new view (V <= a few dozen)
        cand = used & (reached[pairs[:, 0]] ^ reached[pairs[:, 1]])
        if not cand.any():
            break
        e = np.flatnonzero(cand)[np.argmax(weight[cand])]
        a, b = pairs[e]
        if reached[a]:
            R[b] = R_rel[e] @ R[a]
            reached[b] = True
        else:
            R[a] = R_rel[e].T @ R[b]
            reached[a] = True
    for _ in range(iters):
        for v in range(V):
            if v == ref or not reached[v]:
                continue
            M = np.zeros((3, 3))
            for e in np.flatnonzero(used & ((pairs[:, 0] == v) | (pairs[:, 1] == v))):
                a, b = pairs[e]
                if reached[a] and reached[b]:
                    M += weight[e] * (R_rel[e] @ R[a] if b == v else R_rel[e].T @ R[b])
            if np.abs(M).sum() > 0:
                R[v] = _project_to_so3(M)
    resid = rotation_angle_deg(R_rel, R[pairs[:, 1]] @ np.swapaxes(R[pairs[:, 0]], -1, -2))
    return R, reached, resid


def _connected(V: int, edges: np.ndarray, ref: int) -> np.ndarray:
    reached = np.zeros(V, bool)
    reached[ref] = True
    for _ in range(V):
        new = reached.copy()
        for a, b in edges:
            if reached[a] or reached[b]:
                new[a] = new[b] = True
        if (new == reached).all():
            break
        reached = new
    return reached


def _camera_translation(R: np.ndarray, X: np.ndarray, xn: np.ndarray, iters: int = 4
                        ) -> np.ndarray:
    """t (3,) with ``[x]_x (R X + t) = 0`` for points X (N, 3) and normalised image points
    xn (N, 2) (NaN = unusable), iteratively reweighted least squares (Cauchy-like weights)."""
    m = np.isfinite(X).all(-1) & np.isfinite(xn).all(-1)
    if m.sum() < 3:
        return np.full(3, np.nan)
    X, xn = X[m], xn[m]
    RX = X @ R.T
    u, v = xn[:, 0], xn[:, 1]
    # rows of [x]_x t = -[x]_x R X with x = (u, v, 1): (0, -1, v), (1, 0, -u)
    A = np.concatenate([np.stack([np.zeros_like(u), -np.ones_like(u), v], -1),
                        np.stack([np.ones_like(u), np.zeros_like(u), -u], -1)])
    b = -np.concatenate([-RX[:, 1] + v * RX[:, 2], RX[:, 0] - u * RX[:, 2]])
    w = np.ones(len(A))
    t = np.zeros(3)
    for _ in range(iters):
        sw = np.sqrt(w)
        t = np.linalg.lstsq(A * sw[:, None], b * sw, rcond=None)[0]
        r = np.abs(A @ t - b)
        s = 1.4826 * np.median(r) + 1e-12
        w = 1.0 / (1.0 + (r / (2 * s)) ** 2)
    return t


def _motion_figure(X: np.ndarray, root: int = 0) -> float:
    """RMS deviation of joints (T, J, 3) from their sequence mean over the RMS joint distance
    to the root (scale-free; NaN-aware)."""
    with np.errstate(all="ignore"):
        mean = np.nanmean(X, axis=0)
        dev = np.nanmean(((X - mean) ** 2).sum(-1))
        size = np.nanmean(((X - X[:, root:root + 1]) ** 2).sum(-1))
    return float(np.sqrt(dev / size)) if size > 0 else float("nan")


def calibrate_rig(x: np.ndarray, K: np.ndarray, *, min_joints: int = 8, min_frames: int = 30,
                  loss: str = "soft_l1", max_rot_std_deg: float = 1.0,
                  min_motion: float = 0.05, edge_tol_deg: float = 5.0, max_nfev: int = 60,
                  root: int = 0, pair_kw: dict | None = None, max_fit_ratio: float = 1.2,
                  consensus_tol_deg: float | None = None, bones=None,
                  bone_sigma: float = BONE_SIGMA, temporal: str | None = None,
                  temporal_window: int = SAVGOL_WINDOW, frames=None) -> RigCalibration:
    """Joint calibration of a static rig from one sequence (see the module docstring).

    x (T, V, J, 2) undistorted px (NaN = not visible); K (V, 3, 3). Never raises on data:
    views that cannot be connected come back with view_ok False and NaN poses.
    bones: None (every frame's joints are free points) or (B, 2) joint index pairs (the
    skeleton's parent-child edges) whose lengths are constant over the sequence: the bundle
    adds, per frame and bone with both joints seen by >= 2 views, the residual
    ``s_px (|X_a - X_b| - L_b) / (bone_sigma median(L))`` with one free length L_b per bone
    (see `_BundleProblem`); bone_sigma: the bone-length spread as a fraction of the median
    bone length (a deviation of that size weighs as one pixel-noise residual).
    temporal: None (default) or "savgol": the bundle (steps 3-4) sees each 2D track smoothed
    by `temporal.savgol_tracks` (quadratic, `temporal_window` frames, NaN never spreads;
    frames (T,) the rows' frame numbers, None = consecutive rows); the pairwise step, the
    residual sigma, fit_ratio and the covariance (rot_std) use the raw observations at the
    bundle's cameras (filtered residuals are smaller and correlated: they would understate
    rot_std). Off by default: see `benchmarks/geometry_rig.py` for what it measured.

    Longer than 60 lines on purpose: the five numbered steps are one pipeline read top to
    bottom, each a call to a named helper; the early returns share one `done`.
    """
    t0 = time.perf_counter()
    x = np.asarray(x, dtype=np.float64)
    T, V, J, _ = x.shape
    K = np.broadcast_to(np.asarray(K, dtype=np.float64), (V, 3, 3))
    bones = None if bones is None else _checked_bones(bones, J)
    if temporal not in (None, "savgol"):
        raise InputError(f"temporal '{temporal}' is unknown; expected None or 'savgol'.")
    xb = x if temporal is None else savgol_tracks(x, temporal_window, frames)
    pairs = np.array(list(combinations(range(V), 2)), dtype=np.int64).reshape(-1, 2)
    vis = np.isfinite(x).all(-1)  # (T, V, J)
    both = vis[:, pairs[:, 0]] & vis[:, pairs[:, 1]]  # (T, P, J)
    frames_both = (both.sum(-1) >= min_joints).sum(0)  # (P,)
    few = frames_both < min_frames
    info = {"motion": float("nan"), "reprojection_rms_px": float("nan"), "reference_view": -1,
            "nfev": 0}

    # 1. pairwise pooled estimates (batched over pairs)
    rp, weight = _pairwise_poses(x, K, pairs, frames_both, pair_kw)

    def done(R, t, view_ok, points, reason, rot_std=None):
        info["seconds"] = time.perf_counter() - t0
        rot_std = np.full(len(pairs), np.nan) if rot_std is None else rot_std
        return RigCalibration(R, t, view_ok, points, pairs, reason, rot_std, frames_both, rp.R,
                              rp.ok, info)

    no_rig = (np.full((V, 3, 3), np.nan), np.full((V, 3), np.nan), np.zeros(V, bool),
              np.full((T, J, 3), np.nan))
    if not (weight > 0).any():
        reason = np.where(few, FEW_VISIBLE, rp.reason)
        reason[reason == OK] = NOT_ENOUGH_VIEWS
        return done(*no_rig, reason)

    # 2. rotation averaging over the view graph; the best edge kept by it is the reference
    Rabs, reached, used = average_rotations(V, pairs, rp.R, weight, int(pairs[np.argmax(
        weight), 0]), edge_tol_deg=edge_tol_deg, consensus_tol_deg=consensus_tol_deg)
    best = int(np.argmax(np.where(used, weight, -1.0)))
    ref, other = (int(v) for v in pairs[best])
    Rabs = Rabs @ Rabs[ref].T
    info["reference_view"] = ref
    info["edges_used"] = used.tolist()

    # 3. translations (the best edge's baseline is 1) and the points they give
    tabs, cam_ok, Xinit = _initial_translations(xb, K, rp, best, ref, other, Rabs, reached)

    # 4. bundle adjustment in pixels (cameras outer, every joint inner: see `_BundleProblem`)
    free = [v for v in range(V) if cam_ok[v] and v != ref]
    obs = vis & cam_ok[None, :, None]  # (T, V, J)
    pt_ok = np.isfinite(Xinit).all(-1) & (obs.sum(1) >= 2)  # (T, J)
    if not pt_ok.any():
        return done(*no_rig, np.where(few, FEW_VISIBLE, NOT_ENOUGH_VIEWS).astype(np.int64))
    sig_pw = np.median(rp.sampson_rms_px[np.array(info["edges_used"])])
    prob = _BundleProblem(xb, K, Rabs, np.nan_to_num(tabs), free, other,
                          obs & pt_ok[:, None, :], Xinit, pt_ok, loss)
    if bones is not None:
        prob.set_bones(bones, bone_sigma, sig_pw)
    Rc, tc, Xp, sol = _bundle_adjust(prob, tabs, cam_ok, loss, max_nfev, info)
    jac = sol.jac
    if temporal is not None:  # residual scale and covariance from the raw observations
        raw = _BundleProblem(x, K, Rabs, np.nan_to_num(tabs), free, other,
                             obs & pt_ok[:, None, :], Xinit, pt_ok, loss)
        if bones is not None:
            raw.set_bones(bones, bone_sigma, sig_pw)
        jac = _raw_fit(raw, prob, tabs, sol.x, info)

    # 5. conditioning flags (fit_ratio: reprojection residuals only, dof from the points'
    # effective parameter count, which the bone terms lower)
    n_res = int(prob.obs.sum()) * 2
    n_free = 3 * int(pt_ok.sum()) + 6 * len(free)  # parameters of free points and cameras
    n_par = info.pop("point_dof", n_free - 6 * len(free)) + 6 * len(free)
    sig_ba = info["residual_sigma_px"] * np.sqrt(n_res / max(n_res - n_par, 1))
    # the covariance keeps the free-point fit's residual-scale convention (raw robust sigma):
    # bone terms absorb fewer residual dofs, so their raw sigma is rescaled to that convention
    sig_cov = info["residual_sigma_px"] * np.sqrt(max(n_res - n_free, 1) / max(n_res - n_par, 1))
    var_v = _rotation_variance(jac, sig_cov, free, V)
    # floor 0.05 px: below it both fits are exact and their ratio is rounding noise
    info["fit_ratio"] = float(sig_ba / max(sig_pw, 0.05)) if np.isfinite(sig_pw) \
        else float("nan")
    info["motion"] = _motion_figure(Xp, root)
    a, b = pairs[:, 0], pairs[:, 1]
    rot_std = np.degrees(np.sqrt(var_v[a] + var_v[b]))
    if info["fit_ratio"] > max_fit_ratio and consensus_tol_deg is None:
        # second start: a wider consensus (3 edge_tol) admits good edges a few degrees off
        alt = calibrate_rig(x, K, min_joints=min_joints, min_frames=min_frames, loss=loss,
                            max_rot_std_deg=max_rot_std_deg, min_motion=min_motion,
                            edge_tol_deg=edge_tol_deg, max_nfev=max_nfev, root=root,
                            pair_kw=pair_kw, max_fit_ratio=max_fit_ratio,
                            consensus_tol_deg=3 * edge_tol_deg, bones=bones,
                            bone_sigma=bone_sigma, temporal=temporal,
                            temporal_window=temporal_window, frames=frames)
        if alt.info["fit_ratio"] < info["fit_ratio"]:
            alt.info["second_start"] = True
            return alt
    reason = _pair_flags(cam_ok[a] & cam_ok[b], few, rot_std <= max_rot_std_deg,
                         info["motion"] < min_motion, info["fit_ratio"] > max_fit_ratio)
    return done(Rc, tc, cam_ok, Xp, reason, rot_std)


def _pair_flags(calibrated: np.ndarray, few: np.ndarray, confident: np.ndarray,
                little_motion: bool, inconsistent: bool = False) -> np.ndarray:
    """Reason codes (P,) of the rig's pairs: both cameras calibrated (else few_visible where
    `few` frames, not_enough_views otherwise), then the bundle consistent with the pairwise
    fits (else inconsistent), then rotation std within the limit (else little_motion or
    ill_conditioned)."""
    reason = np.full(len(calibrated), OK, dtype=np.int64)
    reason = np.where(~calibrated, np.where(few, FEW_VISIBLE, NOT_ENOUGH_VIEWS), reason)
    if inconsistent:
        reason = np.where(reason == OK, INCONSISTENT, reason)
    return np.where((reason == OK) & ~confident,
                    LITTLE_MOTION if little_motion else ILL_CONDITIONED, reason)


def _pairwise_poses(x, K, pairs, frames_both, pair_kw):
    """Step 1 of `calibrate_rig`: pooled `relative_pose` (trimmed by default) of every pair
    (P, 2) from all frames, and the pair weights (P,) of the view graph (inliers / (Sampson
    RMS^2 + 0.25 px^2); 0 for failed pairs and pairs never seen together)."""
    kw = dict(estimator="trimmed")
    kw.update(pair_kw or {})
    Pn = len(pairs)
    p1 = np.swapaxes(x[:, pairs[:, 0]], 0, 1).reshape(Pn, -1, 2)
    p2 = np.swapaxes(x[:, pairs[:, 1]], 0, 1).reshape(Pn, -1, 2)
    rp = relative_pose(p1, p2, K[pairs[:, 0]], K[pairs[:, 1]], **kw)
    n_in = rp.inliers.sum(-1)
    weight = np.where(rp.ok & (frames_both >= 1), n_in / (rp.sampson_rms_px**2 + 0.25), 0.0)
    return rp, np.nan_to_num(weight)


def _initial_translations(x, K, rp, best, ref, other, Rabs, reached):
    """Step 3 of `calibrate_rig`: the reference view at the origin, the best edge's other view
    at unit baseline along its pairwise translation, every other reached view's translation
    solved linearly from the best edge's triangulated points (the averaged rotations are
    kept: the best edge's own may differ slightly from the consensus). Returns t (V, 3)
    (NaN where unknown), cam_ok (V,) and the DLT points (T, J, 3) of all usable cameras."""
    T, V = x.shape[:2]
    Kinv = np.linalg.inv(K)
    xn = np.einsum("vij,tvnj->tvni", Kinv[:, :2, :2], x) + Kinv[None, :, None, :2, 2]
    tabs = np.full((V, 3), np.nan)
    tabs[ref] = 0.0
    tabs[other] = rp.t[best] / np.linalg.norm(rp.t[best])
    Pm = np.concatenate([Rabs, tabs[..., None]], -1)  # normalised-coordinate cameras
    X0, _ = triangulate_dlt_checked(Pm[[ref, other]][None], xn[:, [ref, other]])
    for v in range(V):
        if v in (ref, other) or not reached[v]:
            continue
        tabs[v] = _camera_translation(Rabs[v], X0.reshape(-1, 3), xn[:, v].reshape(-1, 2))
    cam_ok = reached & np.isfinite(tabs).all(-1)
    Pm = np.concatenate([Rabs, np.nan_to_num(tabs)[..., None]], -1)
    xn_use = np.where(cam_ok[None, :, None, None], xn, np.nan)
    Xinit, _ = triangulate_dlt_checked(np.broadcast_to(Pm, (T, V, 3, 4)), xn_use)
    return tabs, cam_ok, Xinit


def _bundle_adjust(prob, tabs, cam_ok, loss, max_nfev, info):
    """Step 4 of `calibrate_rig`: `scipy.optimize.least_squares` (trust-region reflective,
    robust `loss` with the scale from the initial residuals) on `prob` from the initial
    translations tabs (V, 3); records nfev, reprojection RMS, robust residual sigma and
    f_scale (px) in `info`. Returns cameras R (V, 3, 3), t (V, 3) (NaN where not cam_ok),
    points (T, J, 3) and the `least_squares` result (parameters x, final Jacobian jac)."""
    from scipy.optimize import least_squares  # lazy: scipy.optimize is slow to import

    p0 = np.concatenate([np.zeros(3 * len(prob.free)), np.nan_to_num(tabs[prob.free]).ravel(),
                         prob.L0])
    r0 = prob.residuals(p0)
    f_scale = float(np.clip(3.0 * 1.4826 * np.median(np.abs(r0[:prob.n_rep])), 1.0, 50.0))
    prob.f_scale = f_scale
    # with bone terms, BLAS held to one thread: the (3J, 3J) frame solves and the tall SVDs of
    # `least_squares` gain nothing from threads and lose ~3x on a busy 2-core machine (the
    # path without bones keeps its threads: its figures stay bit-identical)
    blas = single_threaded_blas() if prob.bones is not None else contextlib.nullcontext()
    with np.errstate(all="ignore"), blas:
        sol = least_squares(prob.residuals, p0, jac=prob.jacobian, method="trf", loss=loss,
                            f_scale=f_scale, x_scale="jac", max_nfev=max_nfev, xtol=1e-12,
                            ftol=1e-12, gtol=1e-12)
    info["nfev"] = int(sol.nfev)
    res = sol.fun[:prob.n_rep]
    if prob.bones is not None:
        info["bone_lengths"] = sol.x[prob.n_cam:].tolist()
        info["bone_rms_px"] = float(np.sqrt(np.mean(sol.fun[prob.n_rep:-1] ** 2)))
        info["point_dof"] = prob.point_dof(sol.x)
    info["reprojection_rms_px"] = float(np.sqrt(np.mean(res**2)))
    info["residual_sigma_px"] = float(1.4826 * np.median(np.abs(res))) if len(res) \
        else float("nan")
    info["f_scale_px"] = f_scale
    Rc, tc = prob.cameras(sol.x)
    Xp = prob.points(Rc, tc, sol.x[prob.n_cam:])
    Rc[~cam_ok] = np.nan
    tc[~cam_ok] = np.nan
    return Rc, tc, Xp, sol


def _raw_fit(raw, prob, tabs, p, info):
    """Option ``temporal``: the raw observations' problem `raw` at the bundle's parameters p
    (points re-solved from the raw pixels). Its robust residual sigma replaces the filtered
    one in `info` (kept as ``residual_sigma_filtered_px``); its Jacobian, rows scaled for the
    robust loss as `least_squares` scales its own (f_scale from the raw residuals at the
    initial cameras tabs (V, 3), as the bundle without the option sets it), is returned for
    the covariance: the same figure the bundle would report on the raw pixels."""
    p0 = np.concatenate([np.zeros(3 * len(raw.free)), np.nan_to_num(tabs[raw.free]).ravel(),
                         raw.L0])
    with np.errstate(all="ignore"):
        r0 = raw.residuals(p0)
        raw.f_scale = float(np.clip(3.0 * 1.4826 * np.median(np.abs(r0[:raw.n_rep])), 1.0,
                                    50.0))
        f = raw.residuals(p)
        jac = raw.jacobian(p) * _loss_row_scale(f, raw.loss, raw.f_scale)[:, None]
    res = f[:raw.n_rep]
    info["residual_sigma_filtered_px"] = info["residual_sigma_px"]
    info["reprojection_rms_filtered_px"] = info["reprojection_rms_px"]
    info["reprojection_rms_px"] = float(np.sqrt(np.mean(res**2)))
    info["residual_sigma_px"] = float(1.4826 * np.median(np.abs(res))) if len(res) \
        else float("nan")
    if raw.bones is not None:
        info["point_dof"] = raw.point_dof(p)
    return jac


def _loss_row_scale(f: np.ndarray, loss: str, f_scale: float) -> np.ndarray:
    """Row scale (n,) of a Jacobian for the robust `loss` at residuals f (n,):
    ``sqrt(max(rho'(z) + 2 z rho''(z), eps))``, z = (f / f_scale)^2, as
    `scipy.optimize.least_squares` scales the Jacobian it returns."""
    z = (f / f_scale) ** 2
    if loss == "soft_l1":
        s = (1.0 + z) ** -1.5
    elif loss == "huber":
        s = np.where(z <= 1.0, 1.0, 0.0)
    elif loss == "cauchy":
        s = (1.0 - z) / (1.0 + z) ** 2
    else:
        s = np.ones_like(z)
    return np.sqrt(np.maximum(s, np.finfo(float).eps))


def _rotation_variance(jac: np.ndarray, sigma: float, free: list[int], V: int) -> np.ndarray:
    """Variance (V,) rad^2 (summed over the 3 axes) of each free camera's rotation from the
    Gauss-Newton covariance ``sigma^2 (J^T J)^-1`` of the bundle adjustment (the Jacobian of
    the reduced problem, points eliminated, is the Schur complement of the full one); 0 for the
    reference, inf where the covariance is not usable."""
    with np.errstate(all="ignore"):
        JtJ = jac.T @ jac
        try:
            cov = np.linalg.inv(JtJ) * sigma**2
        except np.linalg.LinAlgError:
            cov = np.full(JtJ.shape, np.inf)
    var_v = np.zeros(V)
    for i, v in enumerate(free):
        d = np.diag(cov)[3 * i:3 * i + 3]
        var_v[v] = d.sum() if np.isfinite(d).all() and (d >= 0).all() else np.inf
    return var_v


def _solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched ``A^-1 b`` for (T, n, n) matrices that are positive definite by construction;
    a singular one (degenerate data) falls back to the pseudo-inverse, non-finite to 0."""
    with np.errstate(all="ignore"):
        try:
            x = np.linalg.solve(A, b)
        except np.linalg.LinAlgError:
            x = np.linalg.pinv(A) @ b
    return np.where(np.isfinite(x), x, 0.0)


class _BundleProblem:
    """Reprojection error of a rig: cameras are the parameters of `least_squares` (6 per free
    camera: rotation increment ``R = exp(w) R0``, translation), every joint of every frame is
    eliminated at each evaluation by an exact robust Gauss-Newton triangulation (variable
    projection: the same optimum as a bundle adjustment over cameras and points jointly,
    with an 18-column Jacobian instead of a 10^4-column sparse one).

    x (T, V, J, 2) px; K (V, 3, 3); R0 (V, 3, 3), t0 (V, 3) initial cameras; free: views
    optimised (the reference view stays R = I, t = 0); gauge: the view whose centre stays at
    distance 1 from the reference; obs (T, V, J) observations used; X0 (T, J, 3) start points.
    """

    def __init__(self, x, K, R0, t0, free, gauge, obs, X0, pt_ok, loss, iters: int = 4):
        self.x, self.K, self.R0, self.t0 = x, K, R0, t0
        self.free, self.gauge, self.obs, self.X0 = free, gauge, obs, np.nan_to_num(X0)
        self.pt_ok, self.loss, self.iters, self.f_scale = pt_ok, loss, iters, 1.0
        self.V = x.shape[1]
        self.n_cam, self.n_rep = 6 * len(free), 2 * int(obs.sum())
        self.bones, self.L0 = None, np.zeros(0)

    def set_bones(self, bones, sigma_rel: float, s_px: float):
        """Bone-length terms: bones (B, 2) (None = none); per frame, a bone whose joints are
        both points (>= 2 views) gets the residual ``w_b (|X_a - X_b| - L_b)`` with
        ``w_b = s_px / (sigma_rel median(L0))`` (pixels: s_px is the pairwise Sampson RMS, the
        pixel-noise figure, floored at 0.05 px); L (B,) are extra parameters after the
        cameras', started at the median triangulated lengths L0. Bones never seen are
        dropped (none left: no bone terms)."""
        if bones is None:
            return
        ok = self.pt_ok[:, bones[:, 0]] & self.pt_ok[:, bones[:, 1]]  # (T, B)
        d = np.linalg.norm(self.X0[:, bones[:, 0]] - self.X0[:, bones[:, 1]], axis=-1)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # bones never seen: NaN, dropped
            L0 = np.nanmedian(np.where(ok, d, np.nan), axis=0)
        keep = ok.any(0) & np.isfinite(L0) & (L0 > 0)
        if not keep.any() or not np.isfinite(sigma_rel) or sigma_rel <= 0:
            return
        self.bones, self.bone_ok, self.L0 = bones[keep], ok[:, keep], L0[keep]
        s_px = max(float(s_px), 0.05) if np.isfinite(s_px) else 1.0
        self.bone_w = s_px / (sigma_rel * float(np.median(self.L0)))
        J = self.x.shape[2]
        self.D = np.zeros((len(self.bones), J))  # incidence: +1 at a, -1 at b
        self.D[np.arange(len(self.bones)), self.bones[:, 0]] = 1.0
        self.D[np.arange(len(self.bones)), self.bones[:, 1]] = -1.0
        self.DD = (self.D[:, :, None] * self.D[:, None, :]).reshape(len(self.bones), J * J)

    def _bone_terms(self, X, L):
        """Unit bone directions u (T, B, 3), residuals rb (T, B) (0 where unused) and robust
        weights wb (T, B) (0 where unused) of the points X (T, J, 3) and lengths L (B,)."""
        d = X[:, self.bones[:, 0]] - X[:, self.bones[:, 1]]
        n = np.linalg.norm(d, axis=-1)
        ok = self.bone_ok & (n > 1e-12)
        u = np.where(ok[..., None], d / np.where(ok, n, 1.0)[..., None], 0.0)
        rb = np.where(ok, self.bone_w * (n - L), 0.0)
        return u, rb, ok * self._weights(rb * rb)

    def _frame_hessian(self, Hd, u, wb):
        """Per-frame normal matrix (T, 3J, 3J) of the points: the joints' reprojection blocks
        Hd (T, J, 3, 3) (regularised, identity for joints that are not points) plus the bone
        terms ``w_b^2 wb u u^T`` on the incidence pattern."""
        T, J = Hd.shape[:2]
        Hd = Hd + 1e-9 * np.trace(Hd, axis1=-2, axis2=-1)[..., None, None] * np.eye(3)
        Hd = np.where(self.pt_ok[..., None, None], Hd, np.eye(3))
        Mb = (self.bone_w**2 * wb)[..., None, None] * u[..., :, None] * u[..., None, :]
        # sum_b D_bj D_bk Mb as one matmul over the (j, k) pattern: (T, 9, B) @ (B, J J)
        H = (np.swapaxes(Mb.reshape(T, -1, 9), 1, 2) @ self.DD).reshape(T, 3, 3, J, J)
        H = H.transpose(0, 3, 1, 4, 2).copy()  # (T, J, 3, J, 3)
        jj = np.arange(J)
        H[:, jj, :, jj, :] += np.moveaxis(Hd, 1, 0)
        return H.reshape(T, 3 * J, 3 * J)

    def _block_diagonal(self, Hd):
        """(T, 3J, 3J) block-diagonal matrix of the blocks Hd (T, J, 3, 3)."""
        T, J = Hd.shape[:2]
        H = np.zeros((T, J, 3, J, 3))
        jj = np.arange(J)
        H[:, jj, :, jj, :] = np.moveaxis(Hd, 1, 0)
        return H.reshape(T, 3 * J, 3 * J)

    def point_dof(self, p) -> float:
        """Effective parameter count of the points in the reprojection fit at parameters p:
        sum over frames of ``trace(H^-1 H_reprojection)`` (3 per point without bone terms)."""
        R, t, X = self._points_cached(p)
        Xs = np.nan_to_num(X)
        uv, (Ju, Jv) = self._project(R, t, Xs)
        r = np.where(self.obs[..., None], uv - self.x, 0.0)
        w = (self.obs * self._weights((r * r).sum(-1)))[..., None]
        Hd = (w[..., None] * (Ju[..., :, None] * Ju[..., None, :] + Jv[..., :, None]
                              * Jv[..., None, :])).sum(1)  # (T, J, 3, 3)
        Hd = np.where(self.pt_ok[..., None, None], Hd, 0.0)
        u, _, wb = self._bone_terms(Xs, p[self.n_cam:])
        H = self._frame_hessian(Hd, u, wb)
        T, J = Hd.shape[:2]
        Hr = self._block_diagonal(Hd)
        okf = np.isfinite(H).all((-2, -1)) & np.isfinite(Hr).all((-2, -1))
        tr = np.trace(_solve(np.where(okf[:, None, None], H, np.eye(3 * J)),
                             np.where(okf[:, None, None], Hr, 0.0)), axis1=1, axis2=2)
        return float(np.nansum(tr) + 3 * self.pt_ok[~okf].sum())

    def cameras(self, p):
        n = len(self.free)
        w, tt = p[:3 * n].reshape(n, 3), p[3 * n:6 * n].reshape(n, 3)
        R = np.tile(np.eye(3), (self.V, 1, 1))
        t = np.zeros((self.V, 3))
        R[self.free] = rodrigues(w) @ self.R0[self.free]
        t[self.free] = tt
        return R, t

    def _project(self, R, t, X, jac: bool = True):
        """X (T, J, 3) -> pixels (T, V, J, 2), dpix/dX (T, V, J, 2, 3) (when `jac`)."""
        K = self.K
        Xc = np.matmul(X[:, None], np.swapaxes(R, -1, -2)[None]) + t[None, :, None]
        z = Xc[..., 2]
        zi = 1.0 / np.where(np.abs(z) > 1e-12, z, 1e-12)
        xn, yn = Xc[..., 0] * zi, Xc[..., 1] * zi
        fx, sk, cx = K[:, 0, 0, None], K[:, 0, 1, None], K[:, 0, 2, None]
        fy, cy = K[:, 1, 1, None], K[:, 1, 2, None]
        uv = np.stack([fx * xn + sk * yn + cx, fy * yn + cy], -1)
        if not jac:
            return uv, None
        # d(u, v)/dXc (rows), then times R: row_a . R
        du = (fx * zi, sk * zi, -(fx * xn + sk * yn) * zi)
        dv = (fy * zi, -fy * yn * zi)
        Rb = R[None, :, None]  # (1, V, 1, 3, 3)
        Ju = du[0][..., None] * Rb[..., 0, :] + du[1][..., None] * Rb[..., 1, :] \
            + du[2][..., None] * Rb[..., 2, :]
        Jv = dv[0][..., None] * Rb[..., 1, :] + dv[1][..., None] * Rb[..., 2, :]
        return uv, (Ju, Jv)

    def _weights(self, r2):
        s = r2 / self.f_scale**2
        if self.loss == "soft_l1":
            return 1.0 / np.sqrt(1.0 + s)
        if self.loss == "huber":
            return np.where(s <= 1.0, 1.0, 1.0 / np.sqrt(np.maximum(s, 1e-300)))
        if self.loss == "cauchy":
            return 1.0 / (1.0 + s)
        return np.ones_like(s)

    def points(self, R, t, L=None):
        """Robust (IRLS Gauss-Newton) triangulation of every used joint: (T, J, 3); with bone
        terms, each frame's joints jointly (bone lengths L (B,))."""
        if self.bones is not None:
            return self._points_bones(R, t, L)
        X = self.X0.copy()
        m = self.obs.astype(np.float64)
        eye = np.eye(3)
        for _ in range(self.iters):
            H, g = self._reprojection_normal(R, t, X, m)
            H = H + 1e-9 * (H[..., 0, 0] + H[..., 1, 1] + H[..., 2, 2])[..., None, None] * eye
            okh = self.pt_ok & np.isfinite(H).all((-2, -1)) & np.isfinite(g).all(-1)
            Hs = np.where(okh[..., None, None], H, eye)
            okh &= np.abs(np.linalg.det(Hs)) > 1e-300
            Hs = np.where(okh[..., None, None], Hs, eye)
            d = np.linalg.solve(Hs, np.where(okh[..., None], g, 0.0)[..., None])[..., 0]
            X = X - np.where(okh[..., None], d, 0.0)
        return np.where(self.pt_ok[..., None], X, np.nan)

    def _reprojection_normal(self, R, t, X, m):
        """Per-joint Gauss-Newton normal matrices H (T, J, 3, 3) and gradients g (T, J, 3) of
        the robustly weighted reprojection error of the points X (T, J, 3); m (T, V, J) 1.0
        where observed."""
        uv, (Ju, Jv) = self._project(R, t, X)
        r = np.where(self.obs[..., None], uv - self.x, 0.0)
        w = (m * self._weights((r * r).sum(-1)))[..., None]  # (T, V, J, 1)
        wu, wv = w * Ju, w * Jv
        H = (wu[..., :, None] * Ju[..., None, :] + wv[..., :, None] * Jv[..., None, :]).sum(1)
        return H, (wu * r[..., 0:1] + wv * r[..., 1:2]).sum(1)

    def _points_bones(self, R, t, L):
        """`points` with bone terms: Gauss-Newton on each frame's 3J coordinates at once (a
        (3J, 3J) system per frame; reprojection weights as in `points`)."""
        X = self.X0.copy()
        T, J = X.shape[:2]
        m = self.obs.astype(np.float64)
        for _ in range(self.iters):
            Hd, g = self._reprojection_normal(R, t, X, m)
            u, rb, wb = self._bone_terms(X, L)
            g = g + self.D.T @ ((self.bone_w * wb * rb)[..., None] * u)
            g = np.where(self.pt_ok[..., None], g, 0.0)
            H = self._frame_hessian(Hd, u, wb)
            okf = np.isfinite(H).all((-2, -1)) & np.isfinite(g).all((-2, -1))
            d = _solve(np.where(okf[:, None, None], H, np.eye(3 * J)),
                       np.where(okf[:, None], g.reshape(T, -1), 0.0)[..., None])
            X = X - d.reshape(T, J, 3)
        return np.where(self.pt_ok[..., None], X, np.nan)

    def _points_cached(self, p):
        key = p.tobytes()
        if getattr(self, "_key", None) != key:
            R, t = self.cameras(p)
            self._key, self._cache = key, (R, t, self.points(R, t, p[self.n_cam:]))
        return self._cache

    def jacobian(self, p):
        """Analytic Jacobian (2 n_obs + 1, 6 n_free) of `residuals`: the camera derivatives
        plus the points' response through the (robustly weighted) normal equations of the
        eliminated points, ``dX/dc = -H^-1 J_p^T W J_c`` (variable projection)."""
        R, t, X = self._points_cached(p)
        Xs = np.nan_to_num(X)
        n = len(self.free)
        T, V, J = self.obs.shape
        nb = 0 if self.bones is None else len(self.bones)
        K = self.K
        Xc = np.matmul(Xs[:, None], np.swapaxes(R, -1, -2)[None]) + t[None, :, None]
        z = Xc[..., 2]
        zi = 1.0 / np.where(np.abs(z) > 1e-12, z, 1e-12)
        xn, yn = Xc[..., 0] * zi, Xc[..., 1] * zi
        fx, sk = K[:, 0, 0, None], K[:, 0, 1, None]
        fy = K[:, 1, 1, None]
        zero = np.zeros_like(zi)
        A = np.stack([np.stack([fx * zi, sk * zi, -(fx * xn + sk * yn) * zi], -1),
                      np.stack([zero, fy * zi, -fy * yn * zi], -1)], -2)  # (T, V, J, 2, 3)
        RX = Xc - t[None, :, None]
        Sk = np.zeros(RX.shape + (3,))
        Sk[..., 0, 1], Sk[..., 0, 2] = -RX[..., 2], RX[..., 1]
        Sk[..., 1, 0], Sk[..., 1, 2] = RX[..., 2], -RX[..., 0]
        Sk[..., 2, 0], Sk[..., 2, 1] = -RX[..., 1], RX[..., 0]
        Jw = -np.matmul(A, Sk)  # (T, V, J, 2, 3)
        Jc = np.zeros((T, V, J, 2, 6 * n + nb))
        for i, v in enumerate(self.free):
            Jc[:, v, :, :, 3 * i:3 * i + 3] = Jw[:, v]
            Jc[:, v, :, :, 3 * n + 3 * i:3 * n + 3 * i + 3] = A[:, v]
        Jp = np.matmul(A, R[None, :, None])  # (T, V, J, 2, 3)
        uv, _ = self._project(R, t, Xs, jac=False)
        r = np.where(self.obs[..., None], uv - self.x, 0.0)
        w = (self.obs * self._weights((r * r).sum(-1)))[..., None, None]
        H = (np.swapaxes(Jp, -1, -2) @ (w * Jp)).sum(1)  # (T, J, 3, 3)
        Bm = (np.swapaxes(Jp, -1, -2) @ (w * Jc)).sum(1)  # (T, J, 3, 6n + B)
        if nb:
            return self._jacobian_bones(p, Xs, Jc, Jp, H, Bm)
        H = H + 1e-9 * np.trace(H, axis1=-2, axis2=-1)[..., None, None] * np.eye(3)
        okh = self.pt_ok & np.isfinite(H).all((-2, -1))
        Hs = np.where(okh[..., None, None], H, np.eye(3))
        dX = -np.linalg.solve(Hs, np.where(okh[..., None, None], Bm, 0.0))  # (T, J, 3, 6n)
        Jt = Jc + np.matmul(Jp, dX[:, None])
        out = Jt[self.obs].reshape(-1, 6 * n)
        return np.nan_to_num(np.concatenate([out, self._gauge_row(R, t, 6 * n)]))

    def _jacobian_bones(self, p, Xs, Jc, Jp, Hd, Bm):
        """`jacobian` with bone terms: the points respond through each frame's full (3J, 3J)
        normal matrix; the bone rows are ``w_b u^T (dX_a - dX_b)`` plus ``-w_b`` on their
        length's column."""
        R, t, _ = self._points_cached(p)
        T, V, J = self.obs.shape
        nc, nb = self.n_cam, len(self.bones)
        L = p[nc:]
        u, _, wb = self._bone_terms(Xs, L)
        Bm = Bm.copy()
        vb = -(self.bone_w**2 * wb)[..., None] * u  # (T, B, 3): d grad_X / d L_b
        Bm[..., nc:] += self.D.T[None, :, None, :] * np.swapaxes(vb, 1, 2)[:, None]
        Bm = np.where(self.pt_ok[..., None, None], Bm, 0.0)
        H = self._frame_hessian(np.where(self.pt_ok[..., None, None], Hd, 0.0), u, wb)
        okf = np.isfinite(H).all((-2, -1)) & np.isfinite(Bm).all((-3, -2, -1))
        Hs = np.where(okf[:, None, None], H, np.eye(3 * J))
        Bs = np.where(okf[:, None, None], Bm.reshape(T, 3 * J, -1), 0.0)
        dX = -_solve(Hs, Bs).reshape(T, J, 3, -1)  # (T, J, 3, 6n + B)
        Jt = Jc + np.matmul(Jp, dX[:, None])
        out = Jt[self.obs].reshape(-1, nc + nb)
        dd = dX[:, self.bones[:, 0]] - dX[:, self.bones[:, 1]]  # (T, B, 3, 6n + B)
        Jb = self.bone_w * (u[..., None, :] @ dd)[..., 0, :]
        Jb[..., nc:] -= self.bone_w * np.eye(nb)
        return np.nan_to_num(np.concatenate([out, Jb[self.bone_ok],
                                             self._gauge_row(R, t, nc + nb)]))

    def _gauge_row(self, R, t, ncol):
        """Jacobian (1, ncol) of the gauge residual (distance of the gauge camera's centre
        from the reference, weight 100) with respect to the free cameras' parameters."""
        n = len(self.free)
        g = np.zeros((1, ncol))
        if self.gauge in self.free:
            i = self.free.index(self.gauge)
            Rg, tg = R[self.gauge], t[self.gauge]
            C = -Rg.T @ tg
            u = C / max(np.linalg.norm(C), 1e-300)
            g[0, 3 * i:3 * i + 3] = 100.0 * u @ (-Rg.T @ skew(tg))
            g[0, 3 * n + 3 * i:3 * n + 3 * i + 3] = 100.0 * u @ (-Rg.T)
        return g

    def residuals(self, p):
        R, t, X = self._points_cached(p)
        uv, _ = self._project(R, t, np.nan_to_num(X), jac=False)
        r = (uv - self.x)[self.obs].ravel()
        if self.bones is not None:
            _, rb, _ = self._bone_terms(np.nan_to_num(X), p[self.n_cam:])
            r = np.concatenate([r, rb[self.bone_ok]])
        C = -R[self.gauge].T @ t[self.gauge]
        r = np.append(r, 100.0 * (np.linalg.norm(C) - 1.0))
        return np.nan_to_num(r, nan=1e6, posinf=1e6, neginf=-1e6)

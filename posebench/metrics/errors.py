"""The batched per-pose metrics: MPJPE, P-MPJPE, N-MPJPE, 3D PCK, AUC, MPJVE, fast.

The definitions are `posebench.metrics.reference` (one short function per metric, with the
anchor each follows); this module computes the same numbers several times faster (chunked,
shared intermediate sums, the quaternion Procrustes solver of `alignment`) and is tested equal
to them to 1e-9 mm (tests/metrics/test_metrics_reference.py).

Every function takes ``pred`` and ``gt`` of shape ``(..., J, 3)`` in millimetres (any float
dtype; accumulated in float64, processed in chunks) and returns one value per pose, shape
``(...)``, unless stated otherwise. How per-pose values become one number is a separate,
explicit choice: see `posebench.metrics.aggregate`.

In short (e_j = Euclidean error of joint j after the stated alignment, J joints):

- MPJPE = mean_j e_j; with ``root=r`` both poses are first centred on joint r (Protocol 1).
- P-MPJPE = MPJPE after the similarity transform (s, R, t; det R = +1) that minimises the
  squared error (VideoPose3D / mmpose Protocol 2; also called PA-MPJPE); `p_mpjpe_rerooted`
  re-centres the aligned prediction and the ground truth on the root afterwards (EpipolarPose).
- N-MPJPE = MPJPE of root-centred poses after scaling the prediction by one factor s:
  ``"least_squares"``: s = <P, G> / <P, P> of the root-centred poses (Rhodin et al. CVPR 2018,
  VideoPose3D ``n_mpjpe``); ``"procrustes"``: s = the scale of the similarity Procrustes alignment
  (EpipolarPose's evaluation: s is computed with the optimal rotation, which is then NOT applied).
  `reference.n_mpjpe_given_frame` (mmpose) fits s on the poses as given.
- PCK@t = percent of joints with e_j strictly below t mm (an error of exactly 150 mm is a miss).
- AUC = mean of PCK over thresholds 0, 5, ..., 150 mm, strict < (MPI-INF-3DHP's official
  definition), so a perfect prediction scores 30/31 * 100 = 96.77 (no joint is below 0 mm).

Non-finite coordinates never raise here: they give NaN (or inf) for that pose, and PCK and AUC
count such joints as misses. Validating predictions is the job of `posebench.predictions`.
"""

from __future__ import annotations

import numpy as np

from posebench.errors import InputError
from posebench.metrics.alignment import (
    apply_similarity,
    centred_stats,
    least_squares_scale_chunk,
    max_trace,
    similarity_from_stats,
)
from posebench.metrics.inputs import check_n_mpjpe_scale, check_pair, check_root
from posebench.metrics.kernels import (
    add_per_pose,
    as_f64,
    joint_norms,
    map_chunks,
    mean_over_joints,
    safe_ratio,
)
from posebench.metrics.reference import AUC_THRESHOLDS as DEFAULT_AUC_THRESHOLDS
from posebench.parallel import chunks, for_each_chunk

# ----------------------------------------------------------------------------- kernels

def _residual_norms(p: np.ndarray, g: np.ndarray, m: np.ndarray | None = None,
                    t: np.ndarray | None = None) -> np.ndarray:
    """Per-joint errors (C, J) of ``p @ m + t - g`` (m (C, 3, 3) or None, t (C, 3) or None)."""
    if m is None:
        d = np.subtract(p, g)
    else:
        d = np.matmul(p, m)
        d -= g
    if t is not None:
        add_per_pose(d, t)
    return joint_norms(d)


def _root_shift(p: np.ndarray, g: np.ndarray, root: int | None) -> np.ndarray | None:
    """Translation that root-centres the residual: (g_r - p_r) (C, 3), or None."""
    return None if root is None else g[:, root] - p[:, root]


def _errors_chunk(p: np.ndarray, g: np.ndarray, root: int | None) -> np.ndarray:
    return _residual_norms(p, g, None, _root_shift(p, g, root))


def _per_joint(pred, gt, root):
    p, g, lead = check_pair(pred, gt)
    check_root(root, p.shape[1])
    return p, g, lead


# ----------------------------------------------------------------------------- public metrics

def per_joint_errors(pred: np.ndarray, gt: np.ndarray, root: int | None = None) -> np.ndarray:
    """Euclidean error of every joint, ``(..., J)`` mm (poses centred on `root` first if given)."""
    p, g, lead = _per_joint(pred, gt, root)
    return map_chunks(lambda a, b: _errors_chunk(a, b, root), p, g, (p.shape[1],)).reshape(
        *lead, p.shape[1])


def mpjpe(pred: np.ndarray, gt: np.ndarray, root: int | None = None) -> np.ndarray:
    """Mean per-joint position error per pose ``(...)`` mm; ``root=r`` centres both poses on
    joint r first (Human3.6M Protocol 1), ``None`` compares them as given."""
    p, g, lead = _per_joint(pred, gt, root)
    return map_chunks(lambda a, b: mean_over_joints(_errors_chunk(a, b, root)), p, g, ()).reshape(
        lead)


def _p_mpjpe_chunk(p: np.ndarray, g: np.ndarray) -> np.ndarray:
    m, t, _ = similarity_from_stats(centred_stats(p, g))
    return mean_over_joints(_residual_norms(p, g, m, t))


def p_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """MPJPE after the least-squares similarity alignment (s, R, t; det R = +1) of `pred` onto
    `gt`, per pose ``(...)`` mm (Protocol 2 / PA-MPJPE). Root-centring is irrelevant here."""
    p, g, lead = check_pair(pred, gt)
    return map_chunks(_p_mpjpe_chunk, p, g, ()).reshape(lead)


def p_mpjpe_rerooted(pred: np.ndarray, gt: np.ndarray, root: int) -> np.ndarray:
    """P-MPJPE with the ALIGNED prediction and the ground truth both re-centred on joint `root`
    after the similarity fit (EpipolarPose lib/dataset/h36m.py evaluate: the aligned root's
    residual moves onto every joint), per pose ``(...)`` mm."""
    p, g, lead = check_pair(pred, gt)
    check_root(root, p.shape[1], allow_none=False)

    def one(pc, gc):
        a = apply_similarity(pc, *similarity_from_stats(centred_stats(pc, gc))[:2])
        d = (a - a[:, root : root + 1]) - (gc - gc[:, root : root + 1])
        return np.sqrt((d * d).sum(-1)).mean(-1)

    return map_chunks(one, p, g, ()).reshape(lead)


def n_mpjpe(pred: np.ndarray, gt: np.ndarray, scale: str = "least_squares",
            root: int = 0) -> np.ndarray:
    """Scale-normalised MPJPE per pose ``(...)`` mm: both poses centred on joint `root`, the
    prediction multiplied by one scalar s, no rotation.

    scale="least_squares": s = <P, G> / <P, P> of the root-centred poses P, G, the minimiser of
    |s P - G|^2 (Rhodin et al. 2018; VideoPose3D ``n_mpjpe``).
    scale="procrustes": s = scale of the similarity Procrustes alignment (centroid-centred, with
    its optimal rotation), as EpipolarPose's evaluation computes it; the rotation is not applied.
    Both are invariant to a uniform scaling of the prediction."""
    check_n_mpjpe_scale(scale)
    p, g, lead = check_pair(pred, gt)
    if root is None:
        raise InputError("N-MPJPE needs a root joint (int), got None; pass root=0 or the "
                         "skeleton's root index.")
    name = "n_mpjpe" if scale == "least_squares" else "n_mpjpe_procrustes"
    return pose_errors(p, g, (name,), root=root)[name].reshape(lead)


def pck(pred: np.ndarray, gt: np.ndarray, threshold: float = 150.0,
        root: int | None = None) -> np.ndarray:
    """3D PCK per pose ``(...)``: percent (0-100) of joints whose error is strictly below
    `threshold` mm (poses centred on `root` first if given)."""
    p, g, lead = _per_joint(pred, gt, root)
    thr = float(threshold)

    def one(a, b):
        e = _errors_chunk(a, b, root)
        return np.count_nonzero(e < thr, axis=1) * (100.0 / e.shape[1])

    return map_chunks(one, p, g, ()).reshape(lead)


def _count_not_above(e: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """For each error, how many thresholds are <= it (i.e. NOT passed with strict <)."""
    t0, n = thresholds[0], thresholds.shape[0]
    step = thresholds[1] - thresholds[0] if n > 1 else 0.0
    if n > 1 and step > 0 and np.array_equal(thresholds, t0 + step * np.arange(n)):
        # uniform grid: closed form, then exact integer fix-up for rounding in the division;
        # fmin maps a NaN error to n (above every threshold: a miss, as in `pck`)
        k = np.fmax(np.fmin(np.floor((e - t0) / step) + 1.0, n), 0.0)
        k -= (k >= 1) & (t0 + step * (k - 1) > e)
        k += (k < n) & (t0 + step * k <= e)
        return k
    return np.searchsorted(thresholds, e, side="right").astype(np.float64)


def auc(pred: np.ndarray, gt: np.ndarray, thresholds: np.ndarray = DEFAULT_AUC_THRESHOLDS,
        root: int | None = None) -> np.ndarray:
    """Area under the 3D PCK curve per pose ``(...)``, in percent: the mean of PCK over
    `thresholds` mm (default 0:5:150, strict <), so a perfect prediction scores 96.77 (30/31)."""
    thr = np.sort(np.asarray(thresholds, dtype=np.float64).ravel())
    if thr.size == 0:
        raise InputError("AUC needs at least one threshold, got none; pass e.g. "
                         "np.arange(0, 151, 5).")
    p, g, lead = _per_joint(pred, gt, root)

    def one(a, b):
        e = _errors_chunk(a, b, root)
        passed = thr.size - _count_not_above(e, thr)
        return passed @ np.full(e.shape[1], 100.0 / (thr.size * e.shape[1]))

    return map_chunks(one, p, g, ()).reshape(lead)


def mpjve(pred: np.ndarray, gt: np.ndarray, sequence_ids: np.ndarray | None = None,
          frames: np.ndarray | None = None, root: int | None = None) -> np.ndarray:
    """Mean per-joint velocity error per pose ``(N,)`` mm per frame.

    Velocities are finite differences between consecutive samples of the same sequence:
    ``mean_j |(x_i - x_prev) - (y_i - y_prev)| / (frame_i - frame_prev)`` where x, y are
    prediction and ground truth. Samples of one sequence need not be contiguous: they are
    ordered by `frames` when given (then the result is per frame even with a stride), else kept
    in their given order (then "per frame" means per step between consecutive samples). The
    first sample of each sequence has no velocity and gets NaN (aggregate ignores NaN).

    Args: pred, gt ``(N, J, 3)`` mm; sequence_ids ``(N,)`` any labels (None: one sequence);
    frames ``(N,)`` integer frame numbers (optional); root: centre poses on this joint first.
    """
    p, g, lead = _per_joint(pred, gt, root)
    n = p.shape[0]
    codes = np.zeros(n, dtype=np.int64) if sequence_ids is None else \
        np.unique(np.asarray(sequence_ids).reshape(-1), return_inverse=True)[1].reshape(-1)
    if codes.shape[0] != n:
        raise InputError(f"sequence_ids has {codes.shape[0]} entries for {n} poses; expected one "
                         "per pose; pass an (N,) array.")
    if frames is not None:
        fr = np.asarray(frames, dtype=np.float64).reshape(-1)
        if fr.shape[0] != n:
            raise InputError(f"frames has {fr.shape[0]} entries for {n} poses; expected one per "
                             "pose; pass an (N,) array.")
        order = np.lexsort((fr, codes))
    else:
        fr = None
        order = np.argsort(codes, kind="stable")
    out = np.full(n, np.nan)
    for sl in chunks(max(n - 1, 0)):
        idx = order[sl.start : sl.stop + 1]  # one sample of overlap
        a, b = as_f64(p[idx]), as_f64(g[idx])
        d = a - b
        if root is not None:
            d -= d[:, root : root + 1]
        e = mean_over_joints(joint_norms(np.diff(d, axis=0)))
        same = codes[idx[1:]] == codes[idx[:-1]]
        if fr is not None:
            gap = np.diff(fr[idx])
            if np.any(same & (gap == 0)):
                raise InputError("two samples of one sequence have the same frame number; "
                                 "expected unique frames per sequence; remove duplicates or "
                                 "pass the right sequence_ids.")
            e = e / np.where(same, gap, 1.0)
        out[idx[1:][same]] = e[same]
    return out.reshape(lead)


#: Per-pose metrics `pose_errors` can compute in one pass, in its output order.
SUITE_METRICS = ("mpjpe", "p_mpjpe", "n_mpjpe", "n_mpjpe_procrustes", "pck", "auc")


def _suite_chunk(p: np.ndarray, g: np.ndarray, names: tuple, root: int, pck_threshold: float,
                 auc_thresholds: np.ndarray) -> dict[str, np.ndarray]:
    """All requested metrics of one float64 chunk, sharing the root-centred poses, the per-joint
    errors and the Procrustes statistics between metrics."""
    pc = p - p[:, root : root + 1]
    gc = g - g[:, root : root + 1]
    out: dict[str, np.ndarray] = {}
    if {"mpjpe", "pck", "auc"} & set(names):
        e = joint_norms(pc - gc)
        if "mpjpe" in names:
            out["mpjpe"] = mean_over_joints(e)
        if "pck" in names:
            out["pck"] = np.count_nonzero(e < pck_threshold, axis=1) * (100.0 / e.shape[1])
        if "auc" in names:
            passed = auc_thresholds.size - _count_not_above(e, auc_thresholds)
            out["auc"] = passed @ np.full(e.shape[1], 100.0 / (auc_thresholds.size * e.shape[1]))
    if "n_mpjpe" in names:
        s = least_squares_scale_chunk(pc, gc, None)
        out["n_mpjpe"] = mean_over_joints(joint_norms(pc * s[:, None, None] - gc))
    if {"p_mpjpe", "n_mpjpe_procrustes"} & set(names):
        st = centred_stats(pc, gc)
        if "p_mpjpe" in names:
            m, t, scale = similarity_from_stats(st)
            out["p_mpjpe"] = mean_over_joints(_residual_norms(pc, gc, m, t))
        else:
            scale = safe_ratio(max_trace(st), st.ssp)
        if "n_mpjpe_procrustes" in names:
            d = pc * scale[:, None, None] - gc
            out["n_mpjpe_procrustes"] = mean_over_joints(joint_norms(d))
    return out


def pose_errors(pred: np.ndarray, gt: np.ndarray, metrics: tuple | list = SUITE_METRICS,
                root: int = 0, pck_threshold: float = 150.0,
                auc_thresholds: np.ndarray = DEFAULT_AUC_THRESHOLDS) -> dict[str, np.ndarray]:
    """Several per-pose metrics in one chunked pass (faster than one call per metric, equal
    values to ~1e-9 mm): ``{name: (...)}`` for names in SUITE_METRICS.

    "mpjpe", "pck" and "auc" are computed on poses centred on joint `root` (as
    ``mpjpe(pred, gt, root=root)`` etc.); "n_mpjpe" is the least-squares variant and
    "n_mpjpe_procrustes" the EpipolarPose variant of `n_mpjpe`; "p_mpjpe" is `p_mpjpe`."""
    names = tuple(metrics)
    unknown = [n for n in names if n not in SUITE_METRICS]
    if unknown:
        raise InputError(f"unknown metric(s) {', '.join(unknown)}; expected names from "
                         f"{', '.join(SUITE_METRICS)}; fix the metric list.")
    p, g, lead = _per_joint(pred, gt, root)
    if root is None:
        raise InputError("pose_errors needs a root joint (int), got None; pass root=0 or the "
                         "skeleton's root index.")
    thr = np.sort(np.asarray(auc_thresholds, dtype=np.float64).ravel())
    out = {n: np.empty(p.shape[0]) for n in names}

    def work(sl: slice) -> None:
        res = _suite_chunk(as_f64(p[sl]), as_f64(g[sl]), names, root, float(pck_threshold), thr)
        for n in names:
            out[n][sl] = res[n]

    for_each_chunk(p.shape[0], work)
    return {n: out[n].reshape(lead) for n in names}

"""The definitions of the numbers posebench reports: one short plain-numpy function per metric.

Read these to know what a metric means. They are batched over leading dimensions (poses
``(..., J, 3)`` in millimetres, computed in float64) but make no effort to be fast; the batched
modules `posebench.metrics.errors` and `posebench.metrics.alignment` compute the same numbers
several times faster, and tests/metrics/test_metrics_reference.py proves them equal to these
(1e-9 mm) over adversarial poses. Row-vector convention: an aligned pose is ``s * pred @ R + t``.

Anchors, followed in meaning (the code is our own):
- MPJPE: VideoPose3D common/loss.py:11-17 ``mpjpe`` (mean Euclidean joint distance).
- P-MPJPE: VideoPose3D common/loss.py:27-66 ``p_mpjpe`` (similarity Procrustes by SVD; the
  reflection fix at :51-55 flips the last singular vector when det(R) < 0).
- N-MPJPE, least squares: VideoPose3D common/loss.py:68-78 ``n_mpjpe`` (Rhodin et al. 2018).
- N-MPJPE, Procrustes scale; P-MPJPE re-rooted: EpipolarPose lib/dataset/h36m.py evaluate
  (transcribed in tests/data/test_anchor_transcriptions.py).
- MPJVE: VideoPose3D common/loss.py:80-89 ``mean_velocity_error``.
- PCK / AUC: MPI-INF-3DHP mpii_compute_3d_pck.m: thresholds 0:5:150 mm, strict ``<``.

Non-finite input never raises: a NaN/inf coordinate makes that pose's error NaN (or inf) and
its joint a PCK/AUC miss; the scales of such a pose are unspecified (0, NaN or inf).
Where the least-squares alignment is not unique (collinear ground truth; a mirror image with two
equal principal spreads), the squared error and the scale are, but the rotation, and with it
P-MPJPE in the second case, depend on the rotation picked.
"""

from __future__ import annotations

import numpy as np

from posebench.errors import InputError
from posebench.metrics.inputs import check_n_mpjpe_scale, check_root, float_pair, float_poses

#: AUC thresholds of MPI-INF-3DHP, mm (0, 5, ..., 150).
AUC_THRESHOLDS = np.arange(0, 151, 5, dtype=np.float64)


def root_centre(poses: np.ndarray, root: int = 0) -> np.ndarray:
    """Every joint minus joint `root`: ``(..., J, 3)`` -> ``(..., J, 3)`` float64 mm."""
    p = float_poses(poses)
    check_root(root, p.shape[-2], allow_none=False)
    return p - p[..., root : root + 1, :]


def error_vectors(pred: np.ndarray, gt: np.ndarray, root: int | None = None) -> np.ndarray:
    """``pred - gt`` ``(..., J, 3)`` mm, both poses centred on joint `root` first (``None``: as
    given)."""
    pred, gt = float_pair(pred, gt)
    if root is not None:
        pred, gt = root_centre(pred, root), root_centre(gt, root)
    return pred - gt


def joint_errors(pred: np.ndarray, gt: np.ndarray, root: int | None = None) -> np.ndarray:
    """Euclidean distance of every joint ``(..., J)`` mm (see `error_vectors`)."""
    return np.linalg.norm(error_vectors(pred, gt, root), axis=-1)


def mpjpe(pred: np.ndarray, gt: np.ndarray, root: int | None = None) -> np.ndarray:
    """Mean per-joint position error per pose ``(...)`` mm (Protocol 1 with ``root=r``)."""
    return joint_errors(pred, gt, root).mean(axis=-1)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den where den > 0, else 0 (a prediction without spread has scale 0)."""
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def procrustes(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Similarity transform minimising ``|s * pred @ R + t - gt|^2`` with det R = +1.

    SVD of the cross-covariance ``S = P0^T G0 = U diag(sigma) V^T`` of the centroid-centred
    poses; R = U diag(1, 1, d) V^T with d = sign det(U V^T) (a reflection is never chosen),
    s = (sigma1 + sigma2 + d sigma3) / |P0|^2, t = mean(gt) - s mean(pred) @ R.
    Returns s ``(...)``, R ``(..., 3, 3)``, t ``(..., 3)`` mm; poses with a non-finite
    coordinate get R = NaN (the SVD skips them)."""
    pred, gt = float_pair(pred, gt)
    finite = np.isfinite(pred).all(axis=(-2, -1)) & np.isfinite(gt).all(axis=(-2, -1))
    mu_p, mu_g = pred.mean(axis=-2), gt.mean(axis=-2)
    p0, g0 = pred - mu_p[..., None, :], gt - mu_g[..., None, :]
    cov = np.where(finite[..., None, None], np.swapaxes(p0, -1, -2) @ g0, 0.0)
    u, sigma, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))
    u[..., :, 2] *= d[..., None]
    rot = np.where(finite[..., None, None], u @ vt, np.nan)
    trace = np.where(finite, sigma[..., 0] + sigma[..., 1] + d * sigma[..., 2], np.nan)
    s = _ratio(trace, (p0 * p0).sum(axis=(-2, -1)))
    return s, rot, mu_g - s[..., None] * np.einsum("...a,...ab->...b", mu_p, rot)


def similarity_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """`pred` moved by its `procrustes` transform onto `gt`: ``(..., J, 3)`` mm."""
    s, rot, t = procrustes(pred, gt)
    return s[..., None, None] * (np.asarray(pred, dtype=np.float64) @ rot) + t[..., None, :]


def p_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """MPJPE after the similarity Procrustes alignment, per pose ``(...)`` mm (Protocol 2)."""
    return mpjpe(similarity_align(pred, gt), gt)


def p_mpjpe_rerooted(pred: np.ndarray, gt: np.ndarray, root: int) -> np.ndarray:
    """P-MPJPE with the ALIGNED prediction and the ground truth centred on `root` afterwards
    (EpipolarPose; protocol option ``p_mpjpe_reroot_after_alignment``), ``(...)`` mm."""
    return mpjpe(similarity_align(pred, gt), gt, root=root)


def scale_least_squares(pred: np.ndarray, gt: np.ndarray, root: int | None = 0) -> np.ndarray:
    """s = <P, G> / <P, P> minimising ``|s P - G|^2`` for the poses centred on `root` (``None``:
    as given), ``(...)``; 0 where P is all zeros."""
    if root is not None:
        pred, gt = root_centre(pred, root), root_centre(gt, root)
    pred, gt = float_pair(pred, gt)
    return _ratio((pred * gt).sum(axis=(-2, -1)), (pred * pred).sum(axis=(-2, -1)))


def procrustes_scale(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """The scale s of `procrustes` alone, ``(...)`` (EpipolarPose's N-MPJPE scale)."""
    return procrustes(pred, gt)[0]


def n_mpjpe(pred: np.ndarray, gt: np.ndarray, scale: str = "least_squares",
            root: int = 0) -> np.ndarray:
    """MPJPE of the root-centred poses after multiplying the prediction by one scalar s (no
    rotation), ``(...)`` mm. scale="least_squares": `scale_least_squares` (VideoPose3D);
    "procrustes": `procrustes_scale` (EpipolarPose: the fit's rotation is NOT applied)."""
    check_n_mpjpe_scale(scale)
    p, g = root_centre(pred, root), root_centre(gt, root)
    s = scale_least_squares(p, g, None) if scale == "least_squares" else procrustes_scale(p, g)
    return mpjpe(s[..., None, None] * p, g)


def n_mpjpe_given_frame(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """N-MPJPE with the least-squares scale fitted on the poses as given (no centring; mmpose
    ``keypoint_mpjpe(alignment='scale')``), ``(...)`` mm."""
    s = scale_least_squares(pred, gt, root=None)
    return mpjpe(s[..., None, None] * np.asarray(pred, dtype=np.float64), gt)


def pck(pred: np.ndarray, gt: np.ndarray, threshold: float = 150.0,
        root: int | None = None) -> np.ndarray:
    """Percent (0-100) of joints with error strictly below `threshold` mm, per pose ``(...)``."""
    return 100.0 * (joint_errors(pred, gt, root) < threshold).mean(axis=-1)


def auc(pred: np.ndarray, gt: np.ndarray, thresholds: np.ndarray = AUC_THRESHOLDS,
        root: int | None = None) -> np.ndarray:
    """Mean of `pck` over `thresholds` mm, per pose ``(...)`` percent; with the default 0:5:150 a
    perfect prediction scores 30/31 * 100 = 96.77 (no error is below 0 mm)."""
    return np.mean([pck(pred, gt, t, root) for t in np.ravel(thresholds)], axis=0)


def mpjve(pred: np.ndarray, gt: np.ndarray, sequence_ids: np.ndarray | None = None,
          frames: np.ndarray | None = None, root: int | None = None) -> np.ndarray:
    """Mean per-joint velocity error ``(N,)`` mm per frame: ``mean_j |dx_j - dy_j| / dframe``
    between consecutive samples of one sequence (ordered by `frames`; without frames, in the
    given order and per step); the first sample of each sequence gets NaN.
    pred, gt ``(N, J, 3)`` mm; sequence_ids, frames ``(N,)`` (None: one sequence / per step)."""
    d = error_vectors(pred, gt, root)
    n = len(d)
    labels = np.zeros(n) if sequence_ids is None else np.ravel(sequence_ids)
    seq = np.unique(labels, return_inverse=True)[1].ravel()
    frame = np.arange(n) if frames is None else np.ravel(frames).astype(np.float64)
    order = np.lexsort((frame, seq))
    step = 1.0 if frames is None else np.diff(frame[order])
    same = seq[order][1:] == seq[order][:-1]
    if np.any(same & (step == 0)):
        raise InputError("two samples of one sequence have the same frame number; expected "
                         "unique frames per sequence; remove duplicates or pass the right "
                         "sequence_ids.")
    velocity_error = np.linalg.norm(np.diff(d[order], axis=0), axis=-1).mean(axis=-1) / step
    out = np.full(n, np.nan)
    out[order[1:][same]] = velocity_error[same]
    return out

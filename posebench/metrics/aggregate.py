"""From per-pose values to reported numbers: aggregation is an explicit, named choice.

- ``how="frame"``: mean over all samples (mmpose, EpipolarPose, MPI-INF-3DHP).
- ``how="action"``: mean over groups of each group's mean (VideoPose3D's action-wise protocol:
  every action weighs the same regardless of its number of frames).

NaN values mean "undefined for this sample" (e.g. the first frame of a sequence for MPJVE) and
are ignored everywhere here; an all-NaN selection gives NaN.
"""

from __future__ import annotations

import numpy as np

from posebench.errors import InputError

AGGREGATIONS = ("frame", "action")


def _values_groups(values, groups):
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if groups is None:
        return v, None
    g = np.asarray(groups).reshape(-1)
    if g.shape[0] != v.shape[0]:
        raise InputError(
            f"got {v.shape[0]} values but {g.shape[0]} group labels; expected one label per "
            "sample; pass groups in the same order as the values."
        )
    return v, g


def _group_sums(v: np.ndarray, g: np.ndarray):
    """Unique labels (sorted), per-group sums and counts of the non-NaN values (no loop over
    samples). Small non-negative integer labels (codes) are counted directly, without the
    sort np.unique makes."""
    ok = ~np.isnan(v)
    if g.dtype.kind in "iu" and g.size and g.min() >= 0 and g.max() <= 2 * g.size:
        present = np.bincount(g) > 0
        labels = np.flatnonzero(present).astype(g.dtype)
        sums = np.bincount(g[ok], weights=v[ok], minlength=present.size)[labels]
        counts = np.bincount(g[ok], minlength=present.size)[labels]
        return labels, sums, counts
    labels, inverse = np.unique(g, return_inverse=True)
    inverse = inverse.reshape(-1)
    sums = np.bincount(inverse[ok], weights=v[ok], minlength=labels.shape[0])
    counts = np.bincount(inverse[ok], minlength=labels.shape[0])
    return labels, sums, counts


def group_means(values: np.ndarray, groups: np.ndarray) -> dict:
    """Mean of `values` ``(N,)`` per label of `groups` ``(N,)`` (e.g. action, subject, camera):
    ``{label: mean}`` with labels as plain Python values, sorted; NaN values are ignored."""
    v, g = _values_groups(values, groups)
    if g is None:
        raise InputError("group_means needs group labels, got None; pass an (N,) array such as "
                         "the action of every sample.")
    labels, sums, counts = _group_sums(v, g)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    return {lab: float(m) for lab, m in zip(labels.tolist(), means)}


def aggregate(values: np.ndarray, groups: np.ndarray | None = None, how: str = "frame") -> float:
    """One number from per-sample `values` ``(N,)``.

    how="frame": mean over samples (groups ignored). how="action": mean over the labels in
    `groups` ``(N,)`` of the per-label means (VideoPose3D). NaN values are ignored."""
    if how not in AGGREGATIONS:
        raise InputError(f"aggregation '{how}' is unknown; expected one of "
                         f"{', '.join(AGGREGATIONS)}; pick 'frame' or 'action'.")
    v, g = _values_groups(values, groups)
    if how == "frame":
        ok = ~np.isnan(v)
        return float(v[ok].mean()) if ok.any() else float("nan")
    if g is None:
        raise InputError("action-wise aggregation needs group labels, got None; pass the action "
                         "of every sample as groups= or use how='frame'.")
    _, sums, counts = _group_sums(v, g)
    present = counts > 0
    return float((sums[present] / counts[present]).mean()) if present.any() else float("nan")


def joint_means(errors: np.ndarray, joint_names: list[str] | None = None) -> dict:
    """Mean error of every joint from per-joint errors ``(N, J)`` mm: ``{name or index: mean}``
    (NaN ignored)."""
    e = np.asarray(errors, dtype=np.float64)
    if e.ndim != 2:
        raise InputError(f"per-joint errors have shape {e.shape}; expected (N, J); pass the "
                         "output of per_joint_errors.")
    names = list(range(e.shape[1])) if joint_names is None else list(joint_names)
    if len(names) != e.shape[1]:
        raise InputError(f"got {len(names)} joint names for {e.shape[1]} joints; expected one "
                         "name per joint; pass the skeleton's joint names.")
    with np.errstate(invalid="ignore"):
        means = np.nanmean(e, axis=0) if np.isnan(e).any() else e.mean(axis=0)
    return {n: float(m) for n, m in zip(names, means)}

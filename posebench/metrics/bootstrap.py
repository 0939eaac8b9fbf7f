"""Seeded percentile-bootstrap confidence intervals for per-sample values that ARE independent.

Frames of pose sequences are not: for pose results use `posebench.stats` (sequence-block
bootstrap; `Report.ci`, `posebench eval`, `posebench compare`), see docs/statistics.md.
On synth the frame bootstrap here is 4-18x too narrow.

Resampling is vectorised: indices are drawn for a block of replicates at once (about 8M draws per
block), never one Python iteration per sample. Special case, exact and O(n_boot): when the values
are all 0/1 (e.g. PSS hits) and the statistic is the mean, the number of ones in a resample of N
is Binomial(N, p_hat), so the replicates are drawn from that distribution directly.

With ``groups`` the bootstrap is stratified: each group is resampled within itself (group sizes
kept) and the replicate statistic is the mean over groups of the per-group statistic, i.e. the
action-wise aggregation of VideoPose3D. NaN values are dropped first (as in `aggregate`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from posebench.errors import InputError

_BLOCK_DRAWS = 1 << 23


def _replicates(v: np.ndarray, n_boot: int, rng: np.random.Generator,
                statistic: Callable) -> np.ndarray:
    """`n_boot` bootstrap replicates of statistic(v) for one sample ``v`` (n,)."""
    n = v.shape[0]
    if statistic is np.mean and np.all((v == 0) | (v == 1)):
        return rng.binomial(n, float(v.mean()), size=n_boot) / n
    out = np.empty(n_boot)
    block = max(1, min(n_boot, _BLOCK_DRAWS // n))
    index_dtype = np.uint32 if n < 2**32 else np.int64  # 32-bit draws: ~3x faster
    for start in range(0, n_boot, block):
        b = min(block, n_boot - start)
        sample = v[rng.integers(0, n, size=(b, n), dtype=index_dtype)]
        try:
            out[start : start + b] = statistic(sample, axis=1)
        except TypeError:  # a statistic without an axis argument: one call per replicate
            out[start : start + b] = [statistic(row) for row in sample]
    return out


def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0,
                 statistic: Callable = np.mean, groups: np.ndarray | None = None
                 ) -> tuple[float, float]:
    """Percentile bootstrap ``(low, high)`` interval at level 1 - alpha of statistic(values).

    Args:
        values: per-sample values ``(N,)`` (floats, or bools such as PSS hits).
        n_boot: number of bootstrap replicates.
        alpha: 0.05 gives a 95% interval (quantiles alpha/2 and 1 - alpha/2).
        seed: seed of numpy's default_rng; same seed and inputs give the same interval.
        statistic: reduces a sample; called as statistic(x, axis=1) on (b, n) blocks when
            it accepts `axis`, else once per replicate.
        groups: optional ``(N,)`` labels for a stratified bootstrap (see module doc).
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if not 0 < alpha < 1:
        raise InputError(f"bootstrap alpha must be in (0, 1), got {alpha}; use e.g. 0.05 for a "
                         "95% interval.")
    if int(n_boot) < 1:
        raise InputError(f"bootstrap needs n_boot >= 1, got {n_boot}; use e.g. 1000.")
    g = None
    if groups is not None:
        g = np.asarray(groups).reshape(-1)
        if g.shape[0] != v.shape[0]:
            raise InputError(f"got {v.shape[0]} values but {g.shape[0]} group labels; expected "
                             "one label per value; pass groups in the same order.")
    ok = ~np.isnan(v)
    v = v[ok]
    if v.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    if g is None:
        reps = _replicates(v, int(n_boot), rng, statistic)
    else:
        g = g[ok]
        labels, inverse = np.unique(g, return_inverse=True)
        inverse = inverse.reshape(-1)
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(labels.shape[0] + 1))
        reps = np.zeros(int(n_boot))
        for i in range(labels.shape[0]):  # loop over groups (e.g. 15 actions), not samples
            reps += _replicates(v[order[bounds[i] : bounds[i + 1]]], int(n_boot), rng, statistic)
        reps /= labels.shape[0]
    low, high = np.quantile(reps, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)

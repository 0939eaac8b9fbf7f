"""Paired comparison of two result sets on the same samples, over sequence blocks.

- interval: paired percentile block bootstrap of delta = stat(A) - stat(B): the same block
  draws (count matrix) for A and B, so the correlation between the two is kept;
- p-value: approximate randomisation over blocks. Under H0 (A and B exchangeable) swapping the
  labels A/B of a whole block leaves the distribution unchanged; each replicate swaps every
  block with probability 1/2, and p = (c + 1) / (n + 1) with c the replicates whose |delta| is
  at least the observed |delta| (two-sided). A swap only moves per-block sums between A and B,
  so all replicates are one matrix product, as in the bootstrap.
"""

from __future__ import annotations

import numpy as np

from posebench.stats.block_bootstrap import (
    check_args,
    count_matrix,
    percentile_interval,
    statistic,
)
from posebench.stats.blocks import BlockStats


def paired_block_test(a: BlockStats, b: BlockStats, aggregation: str = "frame",
                      n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """``{metric: {a, b, delta, low, high, p_value}}`` for the metrics A and B share (same
    blocks, same order). `aggregation` as in `block_bootstrap`; the stratum comes from A."""
    check_args(n_boot, level, aggregation)
    names = [n for n in a.names if n in b.names]
    ia = [a.names.index(n) for n in names]
    ib = [b.names.index(n) for n in names]
    sa, ca = a.sums[:, ia], a.counts[:, ia]
    sb, cb = b.sums[:, ib], b.counts[:, ib]
    strat = a.stratum if aggregation == "action" else None
    nb = a.n_blocks
    ones = np.ones((1, nb))
    va = statistic(ones, sa, ca, aggregation, strat)[0]
    vb = statistic(ones, sb, cb, aggregation, strat)[0]
    delta = va - vb
    rng = np.random.default_rng(seed)
    w = count_matrix(int(n_boot), nb, rng, strat)
    d_boot = statistic(w, sa, ca, aggregation, strat) - statistic(w, sb, cb, aggregation, strat)
    lo, hi = percentile_interval(d_boot, level)
    # approximate randomisation: swap whole blocks between A and B
    swap = rng.integers(0, 2, size=(int(n_boot), nb)).astype(np.float64)
    keep = 1.0 - swap
    a_p = _mixed(keep, swap, sa, ca, sb, cb, aggregation, strat)
    b_p = _mixed(keep, swap, sb, cb, sa, ca, aggregation, strat)
    d_perm = a_p - b_p
    obs = np.abs(delta)
    tol = 1e-9 * np.maximum(obs, 1.0)
    c = (np.abs(d_perm) >= (obs - tol)[None]).sum(axis=0)
    p = (c + 1.0) / (int(n_boot) + 1.0)
    out = {}
    for j, n in enumerate(names):
        out[n] = {"a": float(va[j]), "b": float(vb[j]), "delta": float(delta[j]),
                  "low": float(lo[j]), "high": float(hi[j]), "p_value": float(p[j])}
    return out


def _mixed(keep, swap, s1, c1, s2, c2, aggregation, strat) -> np.ndarray:
    """Statistic of blocks taken from set 1 where keep = 1 and from set 2 where swap = 1
    (both sets' sums stacked along the block axis)."""
    w = np.concatenate([keep, swap], axis=1)
    st = None if strat is None else np.concatenate([strat, strat])
    return statistic(w, np.concatenate([s1, s2]), np.concatenate([c1, c2]), aggregation, st)

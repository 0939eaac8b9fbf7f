"""Blocks (sequences) and their sufficient statistics.

A block is one sequence of the protocol: (subject, action, subaction). All cameras of an instant
and all frames of the sequence fall in one block, so the block bootstrap keeps the correlation
between views and between neighbouring frames inside a resampled unit.

The summary metrics are (ratios of) sums: a frame-wise mean is sum / count, an action-wise mean
is the mean over actions of (sum over the action's blocks) / (count over them). So per-block
sums and counts of every metric (NaN left out) are sufficient for every replicate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posebench.errors import InputError

#: Key columns that define a block (sequence).
BLOCK_COLUMNS = ("subject", "action", "subaction")
#: Human-readable name of the block, recorded with every interval.
BLOCK_NAME = "sequence (subject, action, subaction; all cameras and frames)"


def block_ids(*columns: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense block id ``(N,)`` int64 of samples from key columns ``(N,)`` each (e.g. subject,
    action, subaction), ids numbered in sorted order of the key tuples; and the number of
    blocks."""
    if not columns:
        raise InputError("block_ids needs at least one key column; pass subject, action and "
                         "subaction arrays.")
    n = len(columns[0])
    ids = np.zeros(n, dtype=np.int64)
    for c in columns:
        c = np.asarray(c)
        if c.shape != (n,):
            raise InputError(f"block key columns have shapes {c.shape} and ({n},); expected one "
                             "value per sample; pass aligned key arrays.")
        codes, size = sorted_codes(c.astype(str) if c.dtype == object else c)
        ids, _ = sorted_codes(ids * size + codes)  # re-densified: never overflows
    if n == 0:
        return np.zeros(0, np.int64), 0
    return ids, int(ids.max()) + 1


def sorted_codes(values: np.ndarray) -> tuple[np.ndarray, int]:
    """``(codes (N,) int64, number of distinct values)``: each value's rank among the distinct
    values in sorted order (``np.unique(values, return_inverse=True)[1]``), by hashing
    (`pandas.factorize`): a million strings in ~0.1 s where np.unique sorts them in ~2 s."""
    import pandas as pd  # lazy: ~0.3 s, only when blocks are built

    codes, uniques = pd.factorize(np.asarray(values), sort=True, use_na_sentinel=False)
    return codes.astype(np.int64, copy=False), len(uniques)


@dataclass
class BlockStats:
    """Per-block sufficient statistics of several metrics.

    sums     (B, K) float64: sum of the non-NaN values of metric k in block b
    counts   (B, K) float64: number of non-NaN values
    stratum  (B,) int64: the block's action index (for action-wise aggregation), or None
    names    metric names (K)
    """

    sums: np.ndarray
    counts: np.ndarray
    stratum: np.ndarray | None
    names: list[str]

    @property
    def n_blocks(self) -> int:
        return int(self.sums.shape[0])


def block_stats(values: dict[str, np.ndarray], block: np.ndarray, n_blocks: int | None = None,
                stratum_of_sample: np.ndarray | None = None) -> BlockStats:
    """Sums and counts per block of every metric in `values` ({name: (N,)}), NaN left out.

    `stratum_of_sample` (N,) (e.g. the action) must be constant within a block; it gives the
    stratum of each block for action-wise aggregation."""
    block = np.asarray(block, dtype=np.int64).reshape(-1)
    nb = int(block.max()) + 1 if n_blocks is None and block.size else int(n_blocks or 0)
    names = list(values)
    sums = np.zeros((nb, len(names)))
    counts = np.zeros((nb, len(names)))
    for j, name in enumerate(names):
        v = np.asarray(values[name], dtype=np.float64).reshape(-1)
        if v.shape != block.shape:
            raise InputError(f"metric '{name}' has {v.size} values but there are {block.size} "
                             "block ids; expected one value per sample; pass aligned arrays.")
        ok = ~np.isnan(v)
        sums[:, j] = np.bincount(block[ok], weights=v[ok], minlength=nb)
        counts[:, j] = np.bincount(block[ok], minlength=nb)
    stratum = None
    if stratum_of_sample is not None:
        s = np.asarray(stratum_of_sample)
        _, code = np.unique(s.astype(str) if s.dtype == object else s, return_inverse=True)
        code = code.reshape(-1)
        stratum = np.zeros(nb, np.int64)
        stratum[block] = code
        if np.any(stratum[block] != code):
            raise InputError("a block spans several actions; expected the action to be part of "
                             "the block key (subject, action, subaction); fix the block ids.")
    return BlockStats(sums, counts, stratum, names)

"""Paired block test: exact cases by hand and the p-value's size under the null."""

from __future__ import annotations

import numpy as np
import pytest

from posebench.stats import block_stats, paired_block_test


def _blocks(seed, n_blocks=30, per=20):
    rng = np.random.default_rng(seed)
    block = np.repeat(np.arange(n_blocks), per)
    base = rng.normal(0, 10, n_blocks)[block] + rng.normal(0, 2, block.size)
    return rng, block, base, block % 5


@pytest.mark.parametrize("agg", ["frame", "action"])
def test_constant_shift_and_identity(agg):
    _, block, base, act = _blocks(0)
    a = block_stats({"m": base + 2.5}, block, stratum_of_sample=act)
    b = block_stats({"m": base}, block, stratum_of_sample=act)
    r = paired_block_test(a, b, agg, n_boot=999, seed=1)["m"]
    assert r["delta"] == pytest.approx(2.5) and r["low"] == pytest.approx(2.5)
    assert r["high"] == pytest.approx(2.5) and r["p_value"] == pytest.approx(1 / 1000)
    same = paired_block_test(b, b, agg, n_boot=999, seed=1)["m"]
    assert same["p_value"] == 1.0 and same["low"] == same["high"] == same["delta"] == 0.0


def test_p_value_size_under_null_and_power():
    # A and B: same sequence effects, independent per-sample noise -> H0 true
    rejections = 0
    for i in range(200):
        rng, block, base, act = _blocks(100 + i)
        a = block_stats({"m": base + rng.normal(0, 5, base.size)}, block)
        b = block_stats({"m": base + rng.normal(0, 5, base.size)}, block)
        rejections += paired_block_test(a, b, "frame", n_boot=199, seed=i)["m"]["p_value"] < 0.05
    assert 0.01 <= rejections / 200 <= 0.11
    rng, block, base, _ = _blocks(7)
    a = block_stats({"m": base + 1.0 + rng.normal(0, 5, base.size)}, block)
    b = block_stats({"m": base + rng.normal(0, 5, base.size)}, block)
    assert paired_block_test(a, b, "frame", n_boot=999, seed=0)["m"]["p_value"] < 0.01

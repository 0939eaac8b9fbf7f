"""Aggregation choices and the seeded bootstrap."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from posebench.errors import InputError
from posebench.metrics import aggregate, bootstrap_ci, group_means, joint_means


def test_frame_vs_action_mean_hand_values():
    values = np.array([10.0, 20.0, 30.0, 100.0])
    actions = np.array(["walk", "walk", "walk", "sit"])
    assert aggregate(values) == pytest.approx(40.0)  # (10+20+30+100)/4
    assert aggregate(values, actions, how="action") == pytest.approx(60.0)  # (20 + 100)/2
    assert group_means(values, actions) == {"sit": 100.0, "walk": 20.0}
    assert group_means(values, np.array([1, 1, 2, 2])) == {1: 15.0, 2: 65.0}


def test_nan_is_ignored():
    values = np.array([np.nan, 2.0, 4.0, np.nan])
    assert aggregate(values) == pytest.approx(3.0)
    assert aggregate(values, np.array([0, 0, 1, 1]), how="action") == pytest.approx(3.0)
    assert np.isnan(aggregate(np.array([np.nan])))


def test_joint_means():
    e = np.array([[1.0, 2.0], [3.0, 6.0]])
    assert joint_means(e, ["hip", "knee"]) == {"hip": 2.0, "knee": 4.0}
    with pytest.raises(InputError):
        joint_means(e, ["hip"])


def test_aggregate_errors():
    with pytest.raises(InputError, match="action"):
        aggregate(np.ones(3), how="action")
    with pytest.raises(InputError, match="unknown"):
        aggregate(np.ones(3), how="subject-wise")
    with pytest.raises(InputError, match="label"):
        aggregate(np.ones(3), np.ones(2), how="action")


def test_bootstrap_is_seeded_and_covers_the_mean():
    rng = np.random.default_rng(0)
    v = rng.normal(50.0, 10.0, size=5000)
    a = bootstrap_ci(v, n_boot=400, seed=3)
    assert a == bootstrap_ci(v, n_boot=400, seed=3)
    assert a != bootstrap_ci(v, n_boot=400, seed=4)
    lo, hi = a
    assert lo < v.mean() < hi
    # width ~ 2 * 1.96 * sd / sqrt(n) for the mean (normal theory, independent formula)
    expected = 2 * 1.96 * v.std() / np.sqrt(v.size)
    assert hi - lo == pytest.approx(expected, rel=0.15)


def test_bootstrap_median_and_plain_callables():
    v = np.random.default_rng(1).exponential(size=801)
    lo, hi = bootstrap_ci(v, n_boot=200, statistic=np.median)
    assert lo < np.median(v) < hi
    lo2, hi2 = bootstrap_ci(v, n_boot=200, statistic=lambda x: float(np.median(x)))
    assert (lo2, hi2) == (lo, hi)  # same draws, per-replicate path


def test_bootstrap_of_pss_hits_binomial_path():
    hits = np.zeros(10_000, dtype=bool)
    hits[:8000] = True
    lo, hi = bootstrap_ci(hits, n_boot=2000, seed=0)
    se = np.sqrt(0.8 * 0.2 / hits.size)
    assert lo == pytest.approx(0.8 - 1.96 * se, abs=0.003)
    assert hi == pytest.approx(0.8 + 1.96 * se, abs=0.003)
    assert bootstrap_ci(np.ones(100, bool)) == (1.0, 1.0)


def test_bootstrap_stratified_by_group():
    rng = np.random.default_rng(2)
    v = np.concatenate([rng.normal(10, 1, 3000), rng.normal(100, 1, 30)])
    g = np.array(["a"] * 3000 + ["b"] * 30)
    lo, hi = bootstrap_ci(v, n_boot=300, groups=g)
    action_mean = aggregate(v, g, how="action")
    assert lo < action_mean < hi
    assert hi - lo < 2.0  # group sizes are kept: the action mean stays near 55, not near 10.9
    with pytest.raises(InputError):
        bootstrap_ci(v, groups=g[:-1])


def test_metrics_import_neither_torch_nor_sklearn():
    code = ("import sys, posebench.metrics; "
            "bad = [m for m in ('torch', 'sklearn') if m in sys.modules]; "
            "sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_integer_codes_group_like_their_labels():
    """Dense integer codes (the evaluation's action codes) take a counting path: it must give
    the same groups, means and order as the labels themselves, NaN and unused codes
    included; negative integers take the general path."""
    rng = np.random.default_rng(3)
    names = np.array(["walk", "sit", "eat", "pose", "wait"])
    codes = rng.choice([0, 1, 3, 4], 500)  # code 2 unused
    values = rng.normal(50, 10, 500)
    values[codes == 4] = np.nan  # a group with no finite value
    values[::7] = np.nan
    by_code = group_means(values, codes)
    by_name = group_means(values, names[codes])
    assert list(by_code) == [0, 1, 3, 4]
    for c, m in by_code.items():
        assert m == pytest.approx(by_name[names[c]], nan_ok=True)
    assert np.isnan(by_code[4])
    want = np.mean([np.nanmean(values[codes == c]) for c in (0, 1, 3)])
    assert aggregate(values, codes, how="action") == pytest.approx(want)
    assert aggregate(values, codes - 2, how="action") == pytest.approx(want)
    assert aggregate(values, names[codes], how="action") == pytest.approx(want)

"""Sequence-block bootstrap: sufficient statistics against explicit resamples, strata, seeds,
and coverage on simulated test sets with correlated sequences (where the truth is known)."""

from __future__ import annotations

import numpy as np
import pytest

from posebench.errors import InputError
from posebench.metrics import bootstrap_ci
from posebench.stats import block_bootstrap, block_ids, block_stats, count_matrix
from posebench.stats.block_bootstrap import statistic


def test_block_ids_by_hand():
    subj = np.array(["S9", "S9", "S11", "S9", "S11"])
    act = np.array(["Walk", "Walk", "Walk", "Eat", "Walk"])
    sub = np.array([1, 1, 1, 1, 2])
    ids, n = block_ids(subj, act, sub)
    # sorted tuples: (S11,Walk,1)=0, (S11,Walk,2)=1, (S9,Eat,1)=2, (S9,Walk,1)=3
    assert n == 4 and ids.tolist() == [3, 3, 0, 2, 1]


def test_block_stats_sums_counts_ignore_nan():
    st = block_stats({"m": np.array([1.0, np.nan, 3.0, 5.0])}, np.array([0, 0, 1, 1]),
                     stratum_of_sample=np.array(["a", "a", "b", "b"]))
    assert st.sums[:, 0].tolist() == [1.0, 8.0] and st.counts[:, 0].tolist() == [1.0, 2.0]
    assert st.stratum.tolist() == [0, 1]
    with pytest.raises(InputError, match="spans several actions"):
        block_stats({"m": np.ones(2)}, np.array([0, 0]), stratum_of_sample=np.array(["a", "b"]))


def _toy(seed=0, n_blocks=12, n_actions=3):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(5, 30, n_blocks)
    block = np.repeat(np.arange(n_blocks), sizes)
    action = block % n_actions
    v = rng.normal(0, 1, block.size) + 3.0 * block
    return v, block, action


def test_replicates_equal_explicit_resamples_frame_and_action():
    v, block, action = _toy()
    st = block_stats({"m": v}, block, stratum_of_sample=action)
    rng = np.random.default_rng(1)
    w = count_matrix(5, st.n_blocks, rng, st.stratum)
    # within actions: every row draws as many blocks of each action as the action has
    for a in range(3):
        assert (w[:, st.stratum == a].sum(1) == (st.stratum == a).sum()).all()
    got_f = statistic(w, st.sums, st.counts, "frame")[:, 0]
    got_a = statistic(w, st.sums, st.counts, "action", st.stratum)[:, 0]
    for r in range(5):  # materialise each replicate's sample by repeating the drawn blocks
        idx = np.concatenate([np.flatnonzero(block == b) for b in range(st.n_blocks)
                              for _ in range(int(w[r, b]))])
        assert got_f[r] == pytest.approx(v[idx].mean(), rel=1e-12)
        per_action = [v[idx][action[idx] == a].mean() for a in range(3)]
        assert got_a[r] == pytest.approx(np.mean(per_action), rel=1e-12)


def test_estimate_seeded_and_contains_point():
    v, block, action = _toy(2)
    st = block_stats({"m": v, "h": (v > 10).astype(float)}, block, stratum_of_sample=action)
    r1 = block_bootstrap(st, "frame", n_boot=500, seed=3)
    r2 = block_bootstrap(st, "frame", n_boot=500, seed=3)
    r3 = block_bootstrap(st, "frame", n_boot=500, seed=4)
    assert np.array_equal(r1.low, r2.low) and not np.array_equal(r1.low, r3.low)
    assert r1.estimate[0] == pytest.approx(v.mean())
    assert (r1.low < r1.estimate).all() and (r1.estimate < r1.high).all()
    ra = block_bootstrap(st, "action", n_boot=500, seed=3)
    assert ra.estimate[0] == pytest.approx(np.mean([v[action == a].mean() for a in range(3)]))
    rec = r1.as_record()
    assert set(rec["m"]) == {"low", "high", "level", "method", "n_boot", "blocks"}
    assert rec["m"]["blocks"] == 12 and "sequence" in rec["m"]["method"]


def _simulated_sets(n_sets, rng, n_seq=40, frames=50, cams=4, sd_seq=10.0, sd_frame=5.0,
                    rho=0.95):
    """Test sets of correlated sequences: per-sequence offset + AR(1) frame noise shared by
    the cameras of an instant (+ small per-camera noise); true mean 0."""
    n = n_seq * frames * cams
    u = rng.normal(0, sd_seq, (n_sets, n_seq, 1, 1))
    e = np.empty((n_sets, n_seq, frames, 1))
    e[:, :, 0] = rng.normal(0, sd_frame, (n_sets, n_seq, 1))
    innov = rng.normal(0, sd_frame * np.sqrt(1 - rho**2), (n_sets, n_seq, frames, 1))
    for t in range(1, frames):  # loop over frames of the simulation, not over samples
        e[:, :, t] = rho * e[:, :, t - 1] + innov[:, :, t]
    v = u + e + rng.normal(0, 1.0, (n_sets, n_seq, frames, cams))
    block = np.repeat(np.arange(n_seq), frames * cams)
    return v.reshape(n_sets, n), block


def _coverage(n_sets, n_boot, seed=0):
    rng = np.random.default_rng(seed)
    sets, block = _simulated_sets(n_sets, rng)
    hit_block = hit_frame = 0
    for i, v in enumerate(sets):
        st = block_stats({"m": v}, block)
        r = block_bootstrap(st, "frame", n_boot=n_boot, seed=i)
        hit_block += r.low[0] <= 0.0 <= r.high[0]
        if i < 50:  # the frame bootstrap, for contrast, on the first 50 sets
            lo, hi = bootstrap_ci(v, n_boot=200, seed=i)
            hit_frame += lo <= 0.0 <= hi
    return hit_block / n_sets, hit_frame / min(50, n_sets)


def test_block_interval_coverage_on_correlated_sequences():
    cov_block, cov_frame = _coverage(200, 500)
    # nominal 95%; 200 sets: binomial sd 1.5 points; percentile intervals with 40 blocks run
    # slightly narrow
    assert 0.88 <= cov_block <= 0.99, cov_block
    assert cov_frame < 0.4, cov_frame  # frames as independent samples: far too narrow


@pytest.mark.slow
def test_block_interval_coverage_full_size():
    cov_block, cov_frame = _coverage(500, 2000, seed=1)
    assert 0.91 <= cov_block <= 0.98, cov_block
    assert cov_frame < 0.4, cov_frame


def test_block_ids_equal_numpy_unique_of_the_key_tuples():
    """block_ids (hashing, re-densified per column) numbers blocks exactly as np.unique of the
    key tuples does: 'S1' < 'S11' < 'S9' as strings, ints by value, four columns, NaN last."""
    rng = np.random.default_rng(5)
    n = 5000
    cols = (rng.choice(["S1", "S11", "S9", "S5"], n), rng.choice(["Walk", "Eat", "Sit"], n),
            rng.integers(1, 3, n), rng.choice(["54138969", "55011271", "60457274"], n))
    codes = [np.unique(c, return_inverse=True)[1].reshape(-1) for c in cols]
    _, expected = np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True)
    ids, n_blocks = block_ids(*cols)
    assert ids.dtype == np.int64 and ids.tolist() == expected.reshape(-1).tolist()
    assert n_blocks == len(np.unique(expected))
    f = np.array([2.0, np.nan, 1.0, np.nan, 2.0])
    assert block_ids(f)[0].tolist() == [1, 2, 0, 2, 1]  # NaN: one block, sorted last
    assert block_ids(np.array([], dtype=str))[1] == 0

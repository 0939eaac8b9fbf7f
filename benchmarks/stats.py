"""Benchmark: sequence-block bootstrap and ensemble PSS scoring at Human3.6M test size.

    python benchmarks/stats.py [--n 550000] [--blocks 60] [--n-boot 2000] [--repeat 3]

1. 2,000 block-bootstrap replicates of all 7 summary metrics (frame-wise and action-wise
   aggregation) on `--n` poses from per-block sufficient statistics (posebench.stats), beside a
   naive loop that resamples blocks and re-averages the per-sample values of every replicate
   (measured on `--naive-reps` replicates and scaled to n_boot), same run. Target <= 1 s.
2. Scoring `--n` prediction/ground-truth pairs with the default PSS@50 + PSS@100 ensembles
   (2 x 20 k-means models) beside the paper's two single models, same run. Target <= 2 s.
Timings are the best of --repeat runs (the machine may be shared: compare the ratios).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from posebench.metrics.pss import PSSEnsemble, ensemble_hits, ensemble_labels
from posebench.stats import block_bootstrap, block_stats

METRICS = ("mpjpe", "p_mpjpe", "n_mpjpe", "pck", "auc", "pss@50", "pss@100")
TARGET_BOOT_S = 1.0
TARGET_PSS_S = 2.0


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def per_sample(n: int, n_blocks: int, rng) -> tuple[dict, np.ndarray, np.ndarray]:
    """Per-sample metric values with a sequence effect, block ids (sorted) and actions."""
    block = np.sort(rng.integers(0, n_blocks, n))
    effect = rng.normal(0, 15, n_blocks)[block]
    vals = {m: np.abs(70 + effect + rng.normal(0, 20, n)) for m in METRICS[:5]}
    for m in METRICS[5:]:
        vals[m] = (rng.random(n) < 0.7).astype(np.float64)
    return vals, block, block % 15


def naive(vals, block, action, n_boot, agg, rng) -> np.ndarray:
    """Per-sample resampling: draw blocks, gather their samples, average (one replicate per
    iteration, as a straightforward implementation would)."""
    members = [np.flatnonzero(block == b) for b in range(block.max() + 1)]
    out = np.empty((n_boot, len(vals)))
    for r in range(n_boot):
        pick = rng.integers(0, len(members), len(members))
        idx = np.concatenate([members[b] for b in pick])
        for j, v in enumerate(vals.values()):
            if agg == "frame":
                out[r, j] = v[idx].mean()
            else:
                a = action[idx]
                out[r, j] = np.mean([v[idx][a == k].mean() for k in np.unique(a)])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=550_000)
    ap.add_argument("--blocks", type=int, default=60, help="sequences (H36M S9+S11: 60)")
    ap.add_argument("--n-boot", type=int, default=2000)
    ap.add_argument("--naive-reps", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--train", type=int, default=40_000, help="PSS training poses")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    vals, block, action = per_sample(args.n, args.blocks, rng)

    def fast(agg):
        st = block_stats(vals, block, stratum_of_sample=action)
        return block_bootstrap(st, agg, n_boot=args.n_boot, seed=0)

    print(f"1) block bootstrap: {args.n} poses, {args.blocks} blocks, {len(METRICS)} metrics, "
          f"{args.n_boot} replicates")
    for agg in ("frame", "action"):
        t_fast = best(lambda agg=agg: fast(agg), args.repeat)
        t0 = time.perf_counter()
        naive(vals, block, action, args.naive_reps, agg, np.random.default_rng(1))
        t_naive = (time.perf_counter() - t0) * args.n_boot / args.naive_reps
        verdict = "PASS" if t_fast <= TARGET_BOOT_S else "FAIL"
        print(f"   {agg:6s}: sufficient statistics {t_fast:.3f} s [{verdict} <= "
              f"{TARGET_BOOT_S:g} s]; naive per-sample loop {t_naive:.1f} s (from "
              f"{args.naive_reps} replicates); ratio {t_naive / t_fast:.0f}x")

    from posebench.data.registry import load_dataset

    print(f"2) PSS scoring of {args.n} pred/gt pairs (models fitted on {args.train} poses)")
    try:
        train = load_dataset("synth", "train").poses_3d[: args.train]
        test = load_dataset("synth", "test").poses_3d
    except Exception as exc:  # noqa: BLE001 - a benchmark: say why and use random poses
        print(f"   (synth unavailable: {exc}; random poses)")
        train = rng.normal(0, 300, (args.train, 17, 3))
        test = rng.normal(0, 300, (16000, 17, 3))
    train = train - train[:, :1]
    gt = np.resize(test - test[:, :1], (args.n, 17, 3))
    pred = gt + rng.normal(0, 30, gt.shape)
    t0 = time.perf_counter()
    ens = [PSSEnsemble(k=k, seed=0).fit(train) for k in (50, 100)]
    t_fit_ens = time.perf_counter() - t0
    t0 = time.perf_counter()
    paper = [PSSEnsemble(k=k, definition="paper", seed=0).fit(train) for k in (50, 100)]
    t_fit_paper = time.perf_counter() - t0
    reps = max(1, args.repeat - 1)
    gt_labels = ensemble_labels(ens, gt)
    t_cached = best(lambda: ensemble_hits(ens, pred, gt, gt_labels=gt_labels), reps)
    t_ens = best(lambda: ensemble_hits(ens, pred, gt), reps)
    t_both = best(lambda: _label_both(ens, pred, gt), reps)
    t_paper = best(lambda: ensemble_hits(paper, pred, gt), args.repeat)
    t_gemm = best(lambda: _gemm_floor(ens, pred), reps)
    verdict = "PASS" if t_cached <= TARGET_PSS_S else "FAIL"
    print(f"   ensemble (2 x 20 models), ground-truth labels cached: {t_cached:.2f} s "
          f"[{verdict} <= {TARGET_PSS_S:g} s]; labelling the ground truth too: {t_ens:.2f} s")
    print(f"   reference in the same run: labelling both sides (previous method) {t_both:.2f} s "
          f"(ratio {t_both / t_cached:.1f}x); paper (2 x 1 model) {t_paper:.2f} s; one bare "
          f"float32 GEMM against all {sum(e.k * len(e.members) for e in ens)} centres "
          f"{t_gemm:.2f} s (the floor of any exhaustive scoring)")
    print(f"   fit: ensemble {t_fit_ens:.1f} s, paper {t_fit_paper:.1f} s, ratio "
          f"{t_fit_ens / t_fit_paper:.1f}x")


def _label_both(ens, pred, gt):
    """The previous method: label predictions and ground truth, compare the labels."""
    lp, lg = ensemble_labels(ens, pred), ensemble_labels(ens, gt)
    return [(a == b) & (a >= 0) for a, b in zip(lp, lg)]


def _gemm_floor(ens, pred):
    """One float32 (N, 3J+1) x (3J+1, all centres) product, in the same chunks as the scorer."""
    from posebench.parallel import for_each_chunk

    w = np.concatenate([m.centres_ for e in ens for m in e.members]).T.astype(np.float32)
    w = np.vstack([w, np.zeros((1, w.shape[1]), np.float32)])
    x = np.ones((pred.shape[0], w.shape[0]), np.float32)
    x[:, :-1] = pred.reshape(len(pred), -1)

    def work(sl):
        x[sl] @ w

    for_each_chunk(len(x), work)


if __name__ == "__main__":
    main()

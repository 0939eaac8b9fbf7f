"""PSS clustering stability over the k-means seed: the issue's "10 default-model fits" check.

Usage: ``python benchmarks/pss_seed_stability.py --out DIR [--seeds 10] [--definition ensemble]``

Fits the PSS@50 and PSS@100 models of `--definition` (default: the 20-member ensemble) on the
synth training split with seeds 0..S-1, scores the same prediction sets under every fit and
prints, per prediction set and k: the PSS of each seed, their sd, the binomial sampling sd
sqrt(p(1-p)/N) of the test split, and whether the ranking of the prediction sets by PSS is the
same for every seed. Prediction sets: the synth leaderboard's cheap methods (`posebench run`
with their recorded options) plus ground truth + seeded Gaussian noise of 30/40/55/70 mm per
coordinate (root-relative), so that neighbouring PSS values are close enough for a ranking to
be a real test. Writes DIR/pss_seed_stability.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from posebench.data.registry import load_dataset
from posebench.evaluation import evaluate
from posebench.pss_models import fit_ensemble_on_dataset

RUNS = {
    "mean-pose": ["mean-pose"],
    "nearest-neighbour": ["nearest-neighbour"],
    "nearest-neighbour-k8": ["nearest-neighbour", "--option", "k=8"],
    "triangulation-oracle-noise2px": ["triangulation-oracle", "--option", "noise_px=2.0"],
}
NOISE_MM = (30.0, 40.0, 55.0, 70.0)


def predictions(out: Path) -> dict[str, Path]:
    """Prediction files (root-relative, mm) of every set, made once under `out`."""
    files = {}
    for name, argv in RUNS.items():
        path = out / f"{name}.npz"
        if not path.exists():
            subprocess.run([sys.executable, "-m", "posebench.cli", "run", *argv, "--dataset",
                            "synth", "--protocol", "synth", "--train-split", "train", "--seed",
                            "0", "--out", str(path)], check=True, stdout=subprocess.DEVNULL)
        files[name] = path
    ds = load_dataset("synth", "test")
    gt = ds.poses_3d - ds.poses_3d[:, :1]
    keys = {c: np.asarray(getattr(ds.keys, c)) for c in ("subject", "action", "subaction",
                                                          "camera", "frame")}
    for mm in NOISE_MM:
        path = out / f"gt-noise{int(mm)}.npz"
        if not path.exists():
            rng = np.random.default_rng([int(mm), 0x5EED])
            pred = gt + rng.normal(0.0, mm, gt.shape)
            pred -= pred[:, :1]
            np.savez(path, poses_3d=pred.astype(np.float64), **keys)
        files[path.stem] = path
    return files


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="folder for models, predictions and JSON")
    ap.add_argument("--seeds", type=int, default=10, help="number of fits (seeds 0..S-1)")
    ap.add_argument("--definition", default="ensemble", help="PSS definition: ensemble|paper")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = predictions(out)
    table: dict[str, dict[str, list[float]]] = {f"pss@{k}": {n: [] for n in files}
                                                for k in (50, 100)}
    fit_s, n_test = [], None
    for seed in range(args.seeds):
        paths = []
        for k in (50, 100):
            path = out / f"{args.definition}-k{k}-s{seed}.npz"
            if not path.with_suffix(".json").exists():
                t0 = time.perf_counter()
                fit_ensemble_on_dataset("synth", "train", k=k, seed=seed,
                                        definition=args.definition).save(path)
                fit_s.append(time.perf_counter() - t0)
            paths.append(str(path.with_suffix(".json")))
        for name, f in files.items():
            rep = evaluate(str(f), dataset="synth", protocol="synth", pss_models=paths,
                           n_boot=0)
            n_test = rep.record()["n_samples"] if n_test is None else n_test
            for k in (50, 100):
                table[f"pss@{k}"][name].append(rep.metrics[f"pss@{k}"])
        print(f"seed {seed}: " + ", ".join(f"{n} {table['pss@50'][n][-1]:.4f}" for n in files),
              flush=True)
    result = {"definition": args.definition, "seeds": args.seeds, "n_test": n_test,
              "fit_seconds_per_model": float(np.mean(fit_s)) if fit_s else None, "metrics": {}}
    for metric, rows in table.items():
        vals = np.array([rows[n] for n in files])  # (sets, seeds)
        ranks = np.argsort(np.argsort(-vals, axis=0), axis=0)
        same = bool((ranks == ranks[:, :1]).all())
        per = {}
        for i, n in enumerate(files):
            p = float(vals[i].mean())
            per[n] = {"values": vals[i].round(5).tolist(), "mean": p,
                      "seed_sd": float(vals[i].std(ddof=1)),
                      "binomial_sd": float(np.sqrt(p * (1 - p) / n_test))}
        result["metrics"][metric] = {"sets": per, "ranking_identical": same}
        print(f"\n{metric} over {args.seeds} fits ({args.definition}); ranking identical: {same}")
        print(f"{'set':32s} {'mean':>7s} {'seed sd':>8s} {'binom sd':>9s} {'ok':>3s}")
        for n, r in per.items():
            ok = "yes" if r["seed_sd"] <= max(r["binomial_sd"], 1e-12) else "NO"
            print(f"{n:32s} {r['mean']:7.4f} {r['seed_sd']:8.4f} {r['binomial_sd']:9.4f} {ok:>3s}")
    (out / "pss_seed_stability.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

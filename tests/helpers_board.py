"""A small leaderboard folder written directly (records with `ci`, `per_sample`, `provenance`,
per-action/per-joint tables, a PSS model file and per-sample PSS labels), and a stand-in for
`posebench.comparison.compare_records` used only where the real one is absent."""

from __future__ import annotations

import hashlib
import json
import sys
import types
from pathlib import Path

import numpy as np

from posebench.results import protocol_fingerprint
from posebench.skeletons import get_skeleton

ACTIONS = ("Walk", "Sit", "Jump", "Wave")
SUBJECTS = ("S9", "S11")
PER_SEQ = 15  # frames per (subject, action) sequence
K = 6
FP = "ab" * 32


def keys() -> dict[str, np.ndarray]:
    subj = np.repeat(np.array(SUBJECTS), len(ACTIONS) * PER_SEQ)
    act = np.tile(np.repeat(np.array(ACTIONS), PER_SEQ), len(SUBJECTS))
    n = len(subj)
    block = np.repeat(np.arange(len(SUBJECTS) * len(ACTIONS)), PER_SEQ).astype(np.int64)
    return {"subject": subj, "action": act, "subaction": np.ones(n, np.int64),
            "camera": np.full(n, "c0"), "frame": np.tile(np.arange(PER_SEQ), n // PER_SEQ),
            "block": block}


def _block_ci(v: np.ndarray, block: np.ndarray, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    nb = block.max() + 1
    sums = np.bincount(block, weights=v, minlength=nb)
    cnt = np.bincount(block, minlength=nb)
    pick = rng.integers(0, nb, size=(500, nb))
    stat = sums[pick].sum(1) / cnt[pick].sum(1)
    return float(np.quantile(stat, 0.025)), float(np.quantile(stat, 0.975))


def write_record(folder: Path, stem: str, method: str, mean_mm: float, hit_p: float,
                 seed: int = 0, commit: str = "0123456789abcdef") -> Path:
    """One record + its per-sample npz. MPJPE per sample ~ mean_mm + seeded noise."""
    rng = np.random.default_rng(seed + 17)
    k = keys()
    n = len(k["subject"])
    mpjpe = mean_mm + rng.normal(0, 5, n) + np.repeat(rng.normal(0, 3, n // PER_SEQ), PER_SEQ)
    gt_label = np.repeat(np.arange(K), -(-n // K))[:n]
    hits = (rng.random(n) < hit_p)
    arrays = {**k, "mpjpe": mpjpe, "pss@50": hits.astype(np.float64),
              "pss@50.hits": hits[:, None], "pss@50.gt_label": gt_label.astype(np.int64)}
    npz = folder / f"{stem}.samples.npz"
    with open(npz, "wb") as fh:
        np.savez(fh, **arrays)
    metrics = {"mpjpe": float(mpjpe.mean()), "pss@50": float(hits.mean())}
    ci = {}
    for m in metrics:
        lo, hi = _block_ci(arrays[m], k["block"])
        ci[m] = {"low": lo, "high": hi, "level": 0.95, "method": "sequence-block bootstrap",
                 "n_boot": 500, "blocks": int(k["block"].max() + 1)}
    sk = get_skeleton("h36m17")
    per_action = {a: {"n": int((k["action"] == a).sum()),
                      "mpjpe": float(mpjpe[k["action"] == a].mean())} for a in ACTIONS}
    per_joint = {j: {"mpjpe": float(mean_mm * (0.5 + i / sk.num_joints))}
                 for i, j in enumerate(sk.names)}
    rec = {
        "format": "posebench-result", "format_version": 1, "metrics": metrics,
        "headline": "mpjpe", "ci": ci,
        "protocol": {"name": "toy", "aggregation": "frame", "metrics": list(metrics)},
        "dataset": {"name": "toy", "split": "test", "fingerprint": FP, "num_samples": n},
        "pss_models": [{"k": 50, "fingerprint": "ef" * 32, "path": "$POSEBENCH_HOME/pss/m.npz",
                        "eval_skeleton": "h36m17"}],
        "n_samples": n, "coverage": {"covered": n, "expected": n, "fraction": 1.0,
                                     "partial": False},
        "per_group": {"action": per_action, "joint": per_joint},
        "per_sample": {"file": npz.name, "sha256": hashlib.sha256(npz.read_bytes()).hexdigest()},
        "provenance": {"kind": "run", "method": method, "options": {}, "seed": seed,
                       "train_split": "train", "profile": None, "variant": None,
                       "command": ["posebench", "run", method, "--seed", str(seed)],
                       "cpu_time_s": {"fit": 1.5, "predict": 0.25},
                       "environment": {"python": "3.11", "numpy": "2", "torch": None,
                                       "torch_threads": None, "device": None}},
        "code": {"posebench_version": "0.1.0", "git_commit": commit, "git_dirty": False},
        "method": method, "seed": seed,
    }
    rec["protocol_fingerprint"] = protocol_fingerprint(rec["protocol"])
    path = folder / f"{stem}.json"
    path.write_text(json.dumps(rec, indent=1))
    return path


def write_pss_model(folder: Path) -> Path:
    """A PSS model file with K upright-ish centres (K, 17, 3) beside the records."""
    rng = np.random.default_rng(3)
    base = np.zeros((17, 3))
    # y down (camera frame): head_top at -0.4, ankles at +0.4
    base[:, 1] = np.linspace(0.0, -0.4, 17)
    base[[3, 6], 1] = 0.4
    base[[2, 5], 1] = 0.2
    base[[1, 2, 3], 0], base[[4, 5, 6], 0] = -0.1, 0.1
    base[[11, 12, 13], 0], base[[14, 15, 16], 0] = 0.15, -0.15
    centres = base[None] + rng.normal(0, 0.03, (K, 17, 3))
    path = folder / "m.npz"
    with open(path, "wb") as fh:
        np.savez(fh, centres=centres.reshape(K, -1))
    return path


def make_board(folder: Path) -> Path:
    """Four records: two tied (same mean), one clearly worse, one much worse; + a PSS model,
    a non-record JSON that must be skipped."""
    folder.mkdir(parents=True, exist_ok=True)
    write_record(folder, "alpha", "alpha", 50.0, 0.8, seed=1)
    write_record(folder, "beta", "beta", 50.3, 0.75, seed=2)
    write_record(folder, "gamma", "gamma", 70.0, 0.6, seed=3)
    write_record(folder, "delta", "delta", 120.0, 0.3, seed=4)
    write_pss_model(folder)
    (folder / "notes.json").write_text('{"not": "a record"}')
    return folder


def install_comparison_standin(monkeypatch) -> None:
    """Provide `posebench.comparison.compare_records` when the stats helper's module is absent:
    paired sequence-block bootstrap of a - b on the per-sample arrays."""
    try:
        import posebench.comparison  # noqa: F401
        return
    except ImportError:
        pass

    def compare_records(path_a, path_b, *, n_boot=2000, seed=0):
        out = {}
        from posebench.errors import InputError

        ra, rb = json.loads(Path(path_a).read_text()), json.loads(Path(path_b).read_text())
        for p, r in ((path_a, ra), (path_b, rb)):
            if not (Path(p).parent / r["per_sample"]["file"]).is_file():
                raise InputError(f"per-sample file of {p} is missing")
        za = np.load(Path(path_a).parent / ra["per_sample"]["file"])
        zb = np.load(Path(path_b).parent / rb["per_sample"]["file"])
        block = za["block"]
        nb = block.max() + 1
        rng = np.random.default_rng(seed)
        pick = rng.integers(0, nb, size=(n_boot, nb))
        cnt = np.bincount(block, minlength=nb)
        for m in ra["metrics"]:
            d = np.bincount(block, weights=za[m] - zb[m], minlength=nb)
            stat = d[pick].sum(1) / cnt[pick].sum(1)
            lo, hi = np.quantile(stat, [0.025, 0.975])
            out[m] = {"a": ra["metrics"][m], "b": rb["metrics"][m],
                      "delta": ra["metrics"][m] - rb["metrics"][m], "low": float(lo),
                      "high": float(hi), "p_value": float(min(1.0, 2 * min(
                          (stat <= 0).mean(), (stat >= 0).mean()) + 1 / (n_boot + 1)))}
        return out

    mod = types.ModuleType("posebench.comparison")
    mod.compare_records = compare_records
    monkeypatch.setitem(sys.modules, "posebench.comparison", mod)

"""`posebench eval --output r.json`: per-sample file beside the record, block intervals in the
record and on screen, `Report.ci` over blocks."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from helpers_toy import toy_synth_scored

from posebench.cli import main
from posebench.evaluation import evaluate
from posebench.io import load_npz


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return toy_synth_scored(tmp_path_factory.mktemp("stats") / "toy-synth")


def _preds(path, gt, seed=0, scale=20.0):
    """Ground truth + noise whose size varies by sequence (so blocks matter)."""
    rng = np.random.default_rng(seed)
    n = len(gt)
    level = 1.0 + np.repeat(rng.uniform(0, 3, n // 10 + 1), 10)[:n]
    np.savez(path, poses_3d=gt + rng.normal(0, scale, gt.shape) * level[:, None, None],
             index=np.arange(n))
    return path


def test_eval_writes_per_sample_file_and_ci(synth, tmp_path, capsys):
    root, gt, keys = synth
    preds = _preds(tmp_path / "p.npz", gt)
    out = tmp_path / "r.json"
    rc = main(["eval", str(preds), "--dataset", str(root), "--output", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0
    rec = json.loads(out.read_text())
    ps = rec["per_sample"]
    assert ps["file"] == "r.samples.npz"
    f = tmp_path / ps["file"]
    assert ps["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
    arr = load_npz(f)  # no pickle
    for col in ("subject", "action", "subaction", "camera", "frame"):
        assert np.array_equal(arr[col].astype(str), getattr(keys, col).astype(str))
    # one block per (subject, action, subaction)
    tuples = {(s, a, u) for s, a, u in zip(arr["subject"], arr["action"], arr["subaction"])}
    assert arr["block"].max() + 1 == len(tuples) == rec["blocks"]["n_blocks"]
    for name, value in rec["metrics"].items():
        assert arr[name].mean() == pytest.approx(value, rel=1e-12), name
        ci = rec["ci"][name]
        assert ci["low"] <= value <= ci["high"]
        assert ci["n_boot"] == 2000 and ci["blocks"] == len(tuples) and ci["level"] == 0.95
    # default PSS: an ensemble of 20 k-means models; per sample the share of models hit
    assert arr["pss@50.hits"].shape == (len(gt), 20)
    assert np.array_equal(arr["pss@50.hits"].mean(axis=1), arr["pss@50"])
    info = {m["k"]: m for m in rec["pss_models"]}
    assert len(info[50]["fingerprints"]) == 20 and info[50]["members"] == 20
    per_model = arr["pss@50.hits"].mean(axis=0)
    assert info[50]["member_sd"] == pytest.approx(per_model.std(ddof=1))
    assert info[50]["clustering_sd"] == pytest.approx(per_model.std(ddof=1) / np.sqrt(20))
    assert "PSS@50: clustering sd" in printed
    lo, hi = rec["ci"]["mpjpe"]["low"], rec["ci"]["mpjpe"]["high"]
    assert f"{rec['metrics']['mpjpe']:.2f} [{lo:.2f}, {hi:.2f}]" in printed


def test_report_ci_resamples_blocks_not_frames(synth, tmp_path):
    root, gt, _ = synth
    rep = evaluate(str(_preds(tmp_path / "p.npz", gt)), dataset=root, pss_k=())
    lo, hi = rep.ci("mpjpe")
    assert (lo, hi) == pytest.approx((rep.summary["ci"]["mpjpe"]["low"],
                                      rep.summary["ci"]["mpjpe"]["high"]))
    from posebench.metrics import bootstrap_ci

    flo, fhi = bootstrap_ci(np.asarray(rep.frame["mpjpe"]), n_boot=2000, seed=0)
    assert hi - lo > 2.0 * (fhi - flo)  # sequence-level noise dominates: frames far too narrow
    rep0 = evaluate(str(_preds(tmp_path / "p.npz", gt)), dataset=root, n_boot=0, pss_k=())
    assert rep0.summary["ci"] == {}

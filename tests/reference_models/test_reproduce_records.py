"""`reproduce` writes each variant's record under the leaderboard's name with "reproduce"
provenance and no machine path (training and prediction replaced by fakes: seconds)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers_toy import toy_synth

from posebench.data.dataset import read_split
from posebench.provenance import machine_paths


def test_reproduce_records_carry_leaderboard_names_and_provenance(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from reference_models.epipolarpose import evaluate as ep_eval
    from reference_models.epipolarpose import pipeline, trainer

    root = toy_synth(tmp_path / "toy")
    splits = {s: read_split(root, s) for s in ("train", "test")}

    def fake_train(cfg, out, resume=False, datasets=None):
        out.mkdir(parents=True, exist_ok=True)
        (out / "checkpoint.pt").write_bytes(b"x")
        if cfg["mode"].startswith("self-supervised"):
            n = len(splits["train"])
            np.savez(out / "pseudo_labels.npz", targets=np.zeros((n, 17, 3), np.float32),
                     ok=np.zeros(n, bool))
        return out

    def fake_predict(run_dir, ds, device="cpu", root_relative=False):
        p = ds.poses_3d + 10.0
        return p - p[:, :1] if root_relative else p

    monkeypatch.setattr(trainer, "train", fake_train)
    # training is faked on a toy set without crops: skip the data preflight (its own tests are
    # in tests/data/test_adapters_h36m_images.py)
    from reference_models.epipolarpose import preflight
    monkeypatch.setattr(preflight, "check_reproduce", lambda *a, **k: None)
    monkeypatch.setattr(ep_eval, "predict", fake_predict)
    monkeypatch.setattr(pipeline, "refine_with_unit",
                        lambda ru, base, tr, test, out, prof, dev: fake_predict(base, test, dev,
                                                                               True))
    monkeypatch.chdir(tmp_path)
    pipeline.reproduce("smoke", dataset="synth", out="runs/smoke", datasets=splits,
                       variants=["ss-known", "fully-supervised"], log=lambda *_: None)
    variants = ("2d-model", "fully-supervised", "mean-pose", "ss-known", "ss-ru")
    files = sorted(p.name for p in (tmp_path / "runs/smoke/results").iterdir())
    names = [f for f in files if f.endswith(".json")]
    assert names == [f"epipolarpose-smoke-{v}.json" for v in variants]
    # each record has its per-sample file beside it (what `posebench compare` needs)
    assert sorted(set(files) - set(names)) == [f"epipolarpose-smoke-{v}.samples.npz"
                                               for v in variants]
    for name in names:
        rec = json.loads((tmp_path / "runs/smoke/results" / name).read_text())
        variant = name[len("epipolarpose-smoke-"):-5]
        assert rec["method"] == "epipolarpose (smoke profile)" and rec["variant"] == variant
        prov = rec["provenance"]
        assert prov["kind"] == "reproduce" and prov["variant"] == variant
        assert prov["command"] == ["posebench", "reproduce", "epipolarpose", "--profile",
                                   "smoke", "--dataset", "synth", "--device", "cpu",
                                   "--variants", "ss-known,fully-supervised",
                                   "--out", "runs/smoke"]
        assert prov["environment"]["device"] == "cpu" and prov["environment"]["torch"]
        assert set(rec["code"]) == {"posebench_version", "git_commit", "git_dirty"}
        assert machine_paths(rec) == [], machine_paths(rec)
    ss = json.loads((tmp_path / "runs/smoke/results/epipolarpose-smoke-ss-known.json")
                    .read_text())
    assert ss["checkpoint"] == "ss-known/checkpoint.pt"
    assert ss["provenance"]["cpu_time_s"]["fit"] >= 0

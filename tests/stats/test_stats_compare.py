"""`posebench compare` / `compare_records`: two baselines on synth differ (p < 0.01), a record
against itself gives p = 1 and a CI containing 0; records that are not comparable exit 2."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from posebench.cli import main
from posebench.comparison import compare_records
from posebench.methods import run_method, write_predictions
from posebench.synth.build import SynthOptions, build


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """Small synth (images off), nearest-neighbour and mean-pose records with samples files
    (the paper's one-model PSS keeps the fixture fast; ensembles are compared the same way)."""
    d = tmp_path_factory.mktemp("compare")
    home = d / "home"
    mp = pytest.MonkeyPatch()
    mp.setenv("POSEBENCH_HOME", str(home))
    try:
        root = build(home / "datasets" / "synth", SynthOptions(images=False,
                                                               frames_per_action=20))
        out = {}
        for method in ("nearest-neighbour", "mean-pose"):
            preds = write_predictions(run_method(method, "synth"), d / f"{method}.npz")
            rec = d / f"{method}.json"
            assert main(["eval", str(preds), "--dataset", str(root), "--output", str(rec),
                         "--n-boot", "200", "--pss-definition", "paper"]) == 0
            out[method] = rec
        rec = d / "nn-seed1.json"
        assert main(["eval", str(d / "nearest-neighbour.npz"), "--dataset", str(root),
                     "--output", str(rec), "--seed", "1", "--n-boot", "10",
                     "--pss-definition", "paper"]) == 0
        out["seed1"] = rec
    finally:
        mp.undo()
    return out


def test_two_baselines_differ_significantly(records):
    res = compare_records(records["nearest-neighbour"], records["mean-pose"])
    assert set(res) >= {"mpjpe", "p_mpjpe", "pck", "pss@50", "pss@100"}
    a = json.loads(records["nearest-neighbour"].read_text())["metrics"]
    for m, r in res.items():
        assert r["a"] == pytest.approx(a[m]) and r["delta"] == pytest.approx(r["a"] - r["b"])
        assert r["p_value"] < 0.01, m
        assert not r["low"] <= 0.0 <= r["high"], m
        assert r["low"] <= r["delta"] <= r["high"]
    assert res["mpjpe"]["delta"] < 0 and res["pss@50"]["delta"] > 0


def test_record_against_itself(records, capsys):
    res = compare_records(records["mean-pose"], records["mean-pose"], n_boot=500, seed=3)
    for r in res.values():
        assert r["p_value"] == 1.0 and r["delta"] == 0.0 and r["low"] <= 0.0 <= r["high"]
    assert main(["compare", str(records["mean-pose"]), str(records["mean-pose"]), "--format",
                 "json", "--n-boot", "500", "--seed", "3"]) == 0
    assert json.loads(capsys.readouterr().out) == res
    assert main(["compare", str(records["mean-pose"]), str(records["nearest-neighbour"]),
                 "--format", "markdown"]) == 0
    assert "| MPJPE" in capsys.readouterr().out


def _copy(records, tmp_path, name):
    dst = tmp_path / f"{name}.json"
    shutil.copy(records[name], dst)
    shutil.copy(records[name].with_name(f"{name}.samples.npz"),
                tmp_path / f"{name}.samples.npz")
    return dst


def _edit(path, fn):
    rec = json.loads(path.read_text())
    fn(rec)
    path.write_text(json.dumps(rec))


@pytest.mark.parametrize("case, message", [
    ("pss", "PSS models"),
    ("protocol", "protocol"),
    ("dataset", "dataset fingerprint"),
    ("tampered", "sha256"),
    ("no_samples", "no per-sample file"),
    ("missing_file", "does not exist"),
    ("samples", "different samples"),
])
def test_not_comparable_exit_2_with_reason(case, message, records, tmp_path, capsys):
    a = _copy(records, tmp_path, "nearest-neighbour")
    b = records["mean-pose"]
    if case == "pss":
        b = records["seed1"]
    elif case == "protocol":
        _edit(a, lambda r: r.update(protocol_fingerprint="0" * 64))
    elif case == "dataset":
        _edit(a, lambda r: r["dataset"].update(fingerprint="f" * 64))
    elif case == "tampered":
        npz = tmp_path / "nearest-neighbour.samples.npz"
        arr = dict(np.load(npz))
        arr["mpjpe"] = arr["mpjpe"] * 0.5
        np.savez(npz, **arr)
    elif case == "no_samples":
        _edit(a, lambda r: r.pop("per_sample"))
    elif case == "missing_file":
        (tmp_path / "nearest-neighbour.samples.npz").unlink()
    elif case == "samples":
        npz = tmp_path / "nearest-neighbour.samples.npz"
        arr = dict(np.load(npz))
        arr["frame"] = arr["frame"] + 1
        np.savez(npz, **arr)
        from posebench.io import sha256_file

        _edit(a, lambda r: r["per_sample"].update(sha256=sha256_file(npz)))
    rc = main(["compare", str(a), str(b)])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and message in err, err

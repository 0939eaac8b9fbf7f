"""Records come from commands: `run` -> sidecar -> `eval --out` merges it; code/git/dirty; no
machine paths; cache keys change with everything that changes a number."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers_toy import toy_synth

from posebench import provenance
from posebench.cli import main
from posebench.provenance import machine_paths

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return toy_synth(tmp_path_factory.mktemp("prov") / "toy")


def test_run_then_eval_out_merges_the_run_provenance(toy, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    cpu0 = time.process_time()
    assert main(["run", "nearest-neighbour", "--dataset", str(toy), "--option", "k=2",
                 "--label", "NN (k=2)", "--out", "preds.npz"]) == 0
    cpu_run = time.process_time() - cpu0
    side = json.loads((tmp_path / "preds.npz.run.json").read_text())
    assert side["provenance"]["command"][:3] == ["posebench", "run", "nearest-neighbour"]
    assert main(["eval", "preds.npz", "--dataset", str(toy), "--out", "rec.json"]) == 0
    rec = json.loads((tmp_path / "rec.json").read_text())
    prov = rec["provenance"]
    assert rec["method"] == "NN (k=2)"
    assert prov["kind"] == "run" and prov["method"] == "nearest-neighbour"
    assert prov["options"] == {"k": "2"} and prov["seed"] == 0 and prov["train_split"] == "train"
    fit_s, predict_s = prov["cpu_time_s"]["fit"], prov["cpu_time_s"]["predict"]
    # CPU seconds of this process's own run (rounded to ms), so within what the run used
    assert 0 <= fit_s and 0 <= predict_s and fit_s + predict_s <= cpu_run + 0.002
    assert set(prov["environment"]) == {"python", "numpy", "torch", "torch_threads", "device"}
    assert set(rec["code"]) == {"posebench_version", "git_commit", "git_dirty"}
    assert machine_paths(rec) == [] and machine_paths(side) == []
    assert prov["command"][-2:] == ["--out", "preds.npz"]
    # the recorded command regenerates the same predictions, hence the same numbers
    cmd = [str(toy) if a == "toy" else a for a in prov["command"][1:]]
    cmd[cmd.index("--out") + 1] = "again.npz"
    assert main(cmd) == 0
    assert main(["eval", "again.npz", "--dataset", str(toy), "--output", "again.json"]) == 0
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["metrics"] == rec["metrics"] and again["method"] == "NN (k=2)"
    capsys.readouterr()


def test_eval_refuses_a_stale_sidecar_and_marks_external_predictions(toy, tmp_path,
                                                                     monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "mean-pose", "--dataset", str(toy), "--out", "p.npz"]) == 0
    with np.load("p.npz") as z:
        np.savez("p.npz", poses_3d=z["poses_3d"] + 1.0, index=z["index"])  # edited by hand
    capsys.readouterr()
    assert main(["eval", "p.npz", "--dataset", str(toy), "--out", "r.json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "sidecar" in err[0] and not (tmp_path / "r.json").exists()
    Path("p.npz.run.json").unlink()
    assert main(["eval", "p.npz", "--dataset", str(toy), "--out", "r.json"]) == 0
    rec = json.loads(Path("r.json").read_text())
    assert rec["provenance"]["kind"] == "external" and rec["provenance"]["command"] is None


def test_git_state_reports_commit_and_dirty_flag(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "a.txt").write_text("1")
    for args in (["add", "a.txt"], ["-c", "user.email=a@b", "-c", "user.name=t", "commit", "-qm",
                                    "x"]):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True)
    clean = provenance.git_state(tmp_path)
    assert len(clean["git_commit"]) == 40 and clean["git_dirty"] is False
    (tmp_path / "a.txt").write_text("2")
    assert provenance.git_state(tmp_path)["git_dirty"] is True
    assert provenance.git_state(tmp_path / "nope") == {"git_commit": None, "git_dirty": None}


def test_portable_paths_and_machine_path_detector(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert provenance.portable_path(tmp_path / "sub" / "x.npz") == "sub/x.npz"
    assert provenance.portable_path("/somewhere/else/model.npz") == "model.npz"
    assert provenance.portable_path("rel/x.json") == "rel/x.json"
    found = machine_paths({"a": ["/tmp/x", {"b": "/root/y"}], "c": "fine/rel"})
    assert found == [".a[0]: /tmp/x", ".a[1].b: /root/y"]


def test_environment_never_imports_torch():
    code = ("import sys; from posebench.provenance import environment; e = environment(); "
            "assert 'torch' not in sys.modules; print(e['torch'])")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


# ------------------------------------------------------------------------------ cache keys
def _fake_tree(root: Path, body: str) -> None:
    (root / "baselines").mkdir(parents=True, exist_ok=True)
    (root / "posebench").mkdir(parents=True, exist_ok=True)
    (root / "baselines" / "__init__.py").write_text("")
    (root / "posebench" / "__init__.py").write_text("")
    (root / "baselines" / "m.py").write_text("from posebench.helper import f\n")
    (root / "posebench" / "helper.py").write_text(body)


def test_code_version_follows_imported_source(tmp_path, monkeypatch):
    monkeypatch.setattr(provenance, "REPO", tmp_path)
    for fn in (provenance._module_files, provenance._first_party_imports):
        fn.cache_clear()
    try:
        _fake_tree(tmp_path, "def f():\n    return 1\n")
        assert "posebench.helper" in provenance.source_closure(("baselines.m",))
        v1 = provenance.closure_code_version(("baselines.m",))
        (tmp_path / "posebench" / "helper.py").write_text("def f():\n    return 2\n")
        for fn in (provenance._module_files, provenance._first_party_imports):
            fn.cache_clear()
        v2 = provenance.closure_code_version(("baselines.m",))
        assert v1 != v2  # an edit in an imported module changes the method's code version
    finally:
        for fn in (provenance._module_files, provenance._first_party_imports):
            fn.cache_clear()


def test_method_cache_key_holds_options_seed_code_libraries_and_data(toy, monkeypatch):
    from posebench.data.dataset import read_split
    from posebench.methods import cache_dir_for, get_method

    train = read_split(toy, "train")
    nn = get_method("nearest-neighbour")
    base = cache_dir_for(nn, train, 0)
    assert cache_dir_for(get_method("nearest-neighbour"), train, 0) == base  # deterministic
    assert cache_dir_for(get_method("nearest-neighbour", {"k": "3"}), train, 0) != base
    assert cache_dir_for(nn, train, 1) != base
    assert cache_dir_for(nn, train.take(np.arange(10)), 0) != base
    monkeypatch.setattr(type(nn), "code_version", lambda self: "edited")
    assert cache_dir_for(nn, train, 0) != base
    monkeypatch.undo()
    monkeypatch.setattr(provenance, "library_versions", lambda *a: {"numpy": "0.0"})
    assert cache_dir_for(nn, train, 0) != base


class _FakeSplit:
    def __init__(self, fp: str, images: np.ndarray):
        self._fp, self.images = fp, images
        self.crop_affine = np.zeros((len(images), 2, 3))

    def fingerprint(self) -> str:
        return self._fp


def test_pseudo_label_cache_key_changes_with_mode_inputs_and_start_checkpoint(tmp_path):
    from reference_models.epipolarpose.pseudo import pseudo_label_cache_key

    ckpt = tmp_path / "checkpoint.pt"
    ckpt.write_bytes(b"weights-1")
    cfg = {"mode": "self-supervised", "init_checkpoint": str(ckpt),
           "pseudo": {"mode": "pooled", "batch_size": 256}, "model": {"image_size": 64}}
    ds = _FakeSplit("a" * 64, np.zeros((4, 8, 8, 3), np.uint8))
    key = pseudo_label_cache_key(cfg, ds)
    same = {**cfg, "pseudo": {"mode": "pooled", "batch_size": 64}}
    assert pseudo_label_cache_key(same, ds) == key  # batch size changes no label
    for changed in ({**cfg, "pseudo": {"mode": "per-frame", "batch_size": 256}},
                    {**cfg, "pseudo": {"mode": "pooled", "estimator": "fast", "batch_size": 256}},
                    {**cfg, "mode": "self-supervised-2dgt"},
                    {**cfg, "model": {"image_size": 128}}):
        assert pseudo_label_cache_key(changed, ds) != key, changed
    assert pseudo_label_cache_key(cfg, _FakeSplit("b" * 64, ds.images)) != key
    assert pseudo_label_cache_key(cfg, _FakeSplit("a" * 64, ds.images + 1)) != key
    ckpt.write_bytes(b"weights-2")  # another start checkpoint at the same path
    assert pseudo_label_cache_key(cfg, ds) != key


def test_python_310_reads_profiles_without_tomllib():
    code = ("import sys, tomllib as real; sys.modules['tomllib'] = None; "
            "sys.modules['tomli'] = real; "
            "import reference_models.epipolarpose.profiles as p; "
            "assert p.tomllib is real; assert p.load_profile('smoke')['model']")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    text = (REPO / "pyproject.toml").read_text()
    assert "tomli>=1.1; python_version < '3.11'" in text and 'requires-python = ">=3.10"' in text

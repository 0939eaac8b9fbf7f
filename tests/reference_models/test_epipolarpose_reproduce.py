"""`posebench reproduce epipolarpose --profile smoke`: the CI run; training lowers the error."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from posebench.errors import InputError


def test_reproduce_help_does_not_import_torch():
    code = ("import sys; from posebench.cli import main; rc = main(['reproduce', 'epipolarpose',"
            " '--help']); assert rc == 0; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_unknown_dataset_is_one_line_error_exit_2(capsys):
    from posebench.cli import main

    assert main(["reproduce", "epipolarpose", "--dataset", "coco"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "synth or h36m" in err[0]


def test_profiles_parse_and_paper_profile_is_the_published_setting():
    from reference_models.epipolarpose.pipeline import load_profile

    paper = load_profile("paper")
    assert paper["model"]["depth"] == 50 and paper["model"]["image_size"] == 256
    assert paper["model"]["depth_bins"] == 64
    o = paper["train3d"]["optim"]
    assert (o["lr"], o["batch_size"], o["epochs"], o["lr_milestones"]) == (1e-3, 32, 140, [90, 120])
    for name in ("smoke", "cpu"):
        assert load_profile(name)["model"]["image_size"] <= 64
    with pytest.raises(InputError):
        load_profile("nope")


def test_smoke_profile_end_to_end_lowers_the_error(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("posebench.synth.build")
    from reference_models.epipolarpose.pipeline import reproduce

    lines: list[str] = []
    out = tmp_path / "smoke"
    rows = {r["variant"]: r for r in reproduce("smoke", out=out, log=lines.append)}
    expected = {"fully-supervised", "ss-2dgt", "ss-known", "ss-pooled", "ss-per-frame",
                "ss-ru", "2d-model", "mean-pose"}
    assert set(rows) == expected
    # 3D training lowers the error of the 2D model it starts from (its depth was never trained)
    assert rows["fully-supervised"]["MPJPE"] < 0.95 * rows["2d-model"]["MPJPE"]
    assert rows["ss-2dgt"]["MPJPE"] < 0.95 * rows["2d-model"]["MPJPE"]
    # pseudo-labels from exact 2D are exact (lens distortion undone when back-projecting)
    assert rows["ss-2dgt"]["pseudo P-MPJPE"] < 0.01
    # SS+RU refines the ss-known model with a unit trained on its training-split outputs
    ru = json.loads((out / "results" / "epipolarpose-smoke-ss-ru.json").read_text())
    assert ru["refinement"]["base"] == "ss-known"
    # ... and improves on it (measured: MPJPE 151.5 vs 161.5, P-MPJPE 124.7 vs 152.5 mm); a
    # unit that did nothing (or was never applied) scores exactly its base and fails here
    assert rows["ss-ru"]["MPJPE"] < rows["ss-known"]["MPJPE"]
    assert rows["ss-ru"]["P-MPJPE"] < 0.95 * rows["ss-known"]["P-MPJPE"]
    from posebench.provenance import machine_paths

    for v in expected:  # records under the names the leaderboard shows, from the command
        rec = json.loads((out / "results" / f"epipolarpose-smoke-{v}.json").read_text())
        assert rec["variant"] == v and rec["metrics"]["mpjpe"] == pytest.approx(rows[v]["MPJPE"])
        assert rec["format"] == "posebench-result"
        assert rec["method"] == "epipolarpose (smoke profile)"
        prov = rec["provenance"]
        assert prov["kind"] == "reproduce" and prov["variant"] == v
        assert prov["command"][:5] == ["posebench", "reproduce", "epipolarpose", "--profile",
                                       "smoke"]
        assert prov["environment"]["torch_threads"] >= 1 and prov["environment"]["device"]
        assert set(rec["code"]) == {"posebench_version", "git_commit", "git_dirty"}
        assert machine_paths(rec) == [], machine_paths(rec)
    assert "MPJPE" in lines[-2] or any("MPJPE" in ln for ln in lines)
    # a second run into the same folder is refused; --resume finds every stage done
    with pytest.raises(InputError):
        reproduce("smoke", out=out, log=lines.append)
    again = {r["variant"]: r for r in reproduce("smoke", out=out, resume=True, log=lines.append)}
    assert again["ss-pooled"]["MPJPE"] == pytest.approx(rows["ss-pooled"]["MPJPE"])
    assert again["ss-ru"]["MPJPE"] == pytest.approx(rows["ss-ru"]["MPJPE"])  # unit reloaded

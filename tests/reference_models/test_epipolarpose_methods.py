"""EpipolarPose method wrappers end to end on a tiny synthetic benchmark (trains the reference
network for a few steps, about 10 s)."""

from __future__ import annotations

import numpy as np
import pytest

from posebench.cli import main


@pytest.fixture
def tiny(isolated_home, capsys):
    assert main(["data", "synth", "--frames-per-action", "2", "--name", "tiny",
                 "--image-size", "32"]) == 0
    capsys.readouterr()
    return "tiny"


@pytest.mark.parametrize("method, extra, stored", [
    ("epipolarpose-fs", [], {"checkpoint.pt", "method.json"}),
    ("epipolarpose-ss-ru", ["--option", "ru_epochs=1", "--option", "ru_width=32"],
     {"checkpoint.pt", "method.json", "refinement_unit.npz", "refinement_unit.npz.json"}),
    ("simple-baseline", ["--option", "inputs=epipolarpose", "--option", "width=32",
                         "--option", "epochs=1"], {"state.npz", "detector.pt", "method.json"}),
])
def test_reference_model_methods_run_and_cache(tiny, tmp_path, capsys, isolated_home, method,
                                               extra, stored):
    args = ["run", method, "--dataset", tiny, "--option", "profile=smoke", "--option",
            "max_steps=3", *extra]
    assert main([*args, "--out", str(tmp_path / "a.npz")]) == 0
    poses = np.load(tmp_path / "a.npz")["poses_3d"]
    assert poses.shape[1:] == (17, 3) and np.isfinite(poses).all()
    np.testing.assert_allclose(poses[:, 0], 0.0, atol=1e-6)      # root-relative
    (cache,) = (isolated_home / "methods").iterdir()
    assert {p.name for p in cache.iterdir()} == stored
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "b.npz")]) == 0
    assert "restored from cache" in capsys.readouterr().out
    np.testing.assert_allclose(np.load(tmp_path / "b.npz")["poses_3d"], poses, atol=1e-9)


def test_registry_finds_the_methods_with_the_reference_model():
    """The three methods that train the reference network are registered from
    reference_models.epipolarpose.methods under their old names and options."""
    from baselines.simple_baseline import SimpleBaseline
    from posebench.methods import load_method_class
    from reference_models.epipolarpose import methods

    assert load_method_class("epipolarpose-fs") is methods.EpipolarPoseFS
    assert load_method_class("epipolarpose-ss-ru") is methods.EpipolarPoseSSRU
    sb = load_method_class("simple-baseline")
    assert sb is methods.SimpleBaselineEP and issubclass(sb, SimpleBaseline)
    assert sb.name == "simple-baseline" and sb.defaults == SimpleBaseline.defaults
    assert methods.EpipolarPoseSSRU.defaults["ru_route"] == "predictions"

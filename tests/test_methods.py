"""Method interface: registry (built-ins + entry points), `posebench methods`, `posebench run`,
fit cache, option handling and one-line errors for bad configurations."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from baselines.toydata import toy_dataset
from posebench.cli import main
from posebench.data.dataset import write_dataset
from posebench.methods import BUILTIN_METHODS, get_method, registered_methods, resolve_config


@pytest.fixture
def toy(isolated_home):
    """A toy multi-camera dataset registered as 'toy' (kind toy -> protocol all-frames)."""
    write_dataset(isolated_home / "datasets" / "toy", toy_dataset(frames=30), kind="toy")
    return "toy"


def run_cli(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_builtins_listed_with_needs(capsys):
    code, out, _ = run_cli(capsys, "methods")
    assert code == 0
    for name in BUILTIN_METHODS:
        assert name in out
    line = next(ln for ln in out.splitlines() if ln.startswith("simple-baseline"))
    assert "poses_2d" in line and "train_3d" in line
    line = next(ln for ln in out.splitlines() if ln.startswith("epipolarpose-fs"))
    assert "images" in line


def test_methods_command_does_not_import_torch():
    code = ("import sys; from posebench.cli import main; main(['methods']); "
            "print('TORCH' if 'torch' in sys.modules else 'NOTORCH')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().endswith("NOTORCH")


def test_run_writes_predictions_in_protocol_order(toy, tmp_path, capsys):
    out = tmp_path / "mean.npz"
    code, text, err = run_cli(capsys, "run", "mean-pose", "--dataset", toy, "--out", str(out))
    assert code == 0, err
    assert "CPU" in text
    with np.load(out, allow_pickle=False) as z:
        assert sorted(z.files) == ["index", "poses_3d"]
        poses, index = z["poses_3d"], z["index"]
    test = toy_dataset(frames=30)["test"]
    assert poses.shape == (len(test), 17, 3)
    np.testing.assert_array_equal(index, np.arange(len(test)))
    train = toy_dataset(frames=30)["train"].poses_3d
    expected = (train - train[:, :1]).mean(axis=0)          # pelvis is the H36M-17 root
    np.testing.assert_allclose(poses[5], expected, atol=1e-9)
    meta = json.loads((tmp_path / "mean.npz.run.json").read_text())
    assert meta["method"] == "mean-pose" and meta["protocol"] == "all-frames"


def test_fit_cache_reused_and_keyed_by_seed(toy, tmp_path, capsys, isolated_home):
    args = ["run", "simple-baseline", "--dataset", toy, "--option", "width=32",
            "--option", "epochs=1", "--option", "threads=1"]
    assert run_cli(capsys, *args, "--out", str(tmp_path / "a.npz"))[0] == 0
    code, text, _ = run_cli(capsys, *args, "--out", str(tmp_path / "b.npz"))
    assert code == 0 and "restored from cache" in text
    np.testing.assert_array_equal(np.load(tmp_path / "a.npz")["poses_3d"],
                                  np.load(tmp_path / "b.npz")["poses_3d"])
    assert run_cli(capsys, *args, "--seed", "1", "--out", str(tmp_path / "c.npz"))[0] == 0
    dirs = sorted(p.name for p in (isolated_home / "methods").iterdir())
    assert len(dirs) == 2 and all(d.startswith("simple-baseline-") for d in dirs)
    assert not np.allclose(np.load(tmp_path / "a.npz")["poses_3d"],
                           np.load(tmp_path / "c.npz")["poses_3d"])
    for d in (isolated_home / "methods").iterdir():       # never pickle: npz + JSON only
        assert sorted(p.name for p in d.iterdir()) == ["method.json", "state.npz"]


def test_options_typed_and_validated():
    cfg = resolve_config("m", {"epochs": 3, "lr": 1e-3, "flag": False, "inputs": "gt"},
                         {"epochs": "7", "lr": "0.5", "flag": "yes"})
    assert cfg == {"epochs": 7, "lr": 0.5, "flag": True, "inputs": "gt"}
    assert get_method("nearest-neighbour", {"k": "3"}).config["k"] == 3


@pytest.mark.parametrize("args, fragment", [
    (["run", "no-such-method", "--dataset", "toy"], "unknown method 'no-such-method'"),
    (["run", "mean-pose", "--dataset", "toy", "--option", "colour=red"], "has no option colour"),
    (["run", "nearest-neighbour", "--dataset", "toy", "--option", "k=two"], "not a valid int"),
    (["run", "mean-pose", "--dataset", "toy", "--option", "novalue"], "key=value"),
    (["run", "epipolarpose-fs", "--dataset", "toy"], "needs images"),
    (["run", "mean-pose", "--dataset", "toy", "--protocol", "nope"], "unknown protocol"),
])
def test_bad_configurations_one_line_exit_2(toy, tmp_path, capsys, args, fragment):
    out = tmp_path / "preds.npz"
    out.write_bytes(b"keep me")
    code, _, err = run_cli(capsys, *args, "--out", str(out))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and fragment in err
    assert out.read_bytes() == b"keep me"                 # nothing the user had is overwritten


def test_lifting_method_without_2d_exit_2(isolated_home, tmp_path, capsys):
    splits = toy_dataset(frames=10)
    splits["test"].poses_2d[:] = np.nan                   # a 3D-only test split
    write_dataset(isolated_home / "datasets" / "no2d", splits, kind="toy")
    code, _, err = run_cli(capsys, "run", "simple-baseline", "--dataset", "no2d", "--out",
                           str(tmp_path / "p.npz"))
    assert code == 2 and "needs 2D poses" in err and len(err.strip().splitlines()) == 1


PLUGIN = textwrap.dedent('''
    import numpy as np
    from posebench.methods import Method

    class Zeros(Method):
        """Predicts joint j at x = offset * j (a throwaway third-party method)."""
        name = "zero-pose"
        needs = frozenset()
        defaults = {"offset": 0.0}
        uses_training = False

        def predict(self, test):
            p = np.zeros((len(test), test.num_joints, 3))
            p[..., 0] = self.config["offset"] * np.arange(test.num_joints)
            return p
''')


def test_entry_point_plugin_listed_and_runs(toy, tmp_path, monkeypatch, capsys):
    site = tmp_path / "site"
    (site / "pb_throwaway_plugin").mkdir(parents=True)
    (site / "pb_throwaway_plugin" / "__init__.py").write_text(PLUGIN)
    dist = site / "pb_throwaway_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pb-throwaway-plugin\n"
                                   "Version: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[posebench.methods]\nzero-pose = pb_throwaway_plugin:Zeros\n")
    monkeypatch.syspath_prepend(str(site))
    assert registered_methods()["zero-pose"] == "pb_throwaway_plugin:Zeros"
    code, out, _ = run_cli(capsys, "methods")
    assert code == 0 and "zero-pose" in out and "throwaway" in out
    preds = tmp_path / "z.npz"
    code, _, err = run_cli(capsys, "run", "zero-pose", "--dataset", toy, "--option",
                           "offset=2.5", "--out", str(preds))
    assert code == 0, err
    x = np.load(preds)["poses_3d"][..., 0]
    # the option reached the plugin (written root-relative: differences are kept)
    assert np.allclose(np.diff(x, axis=1), 2.5)


def test_broken_plugin_is_reported_not_fatal(tmp_path, monkeypatch, capsys):
    site = tmp_path / "site"
    dist = site / "pb_broken-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pb-broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[posebench.methods]\nbroken = pb_missing_mod:X\n")
    monkeypatch.syspath_prepend(str(site))
    code, out, _ = run_cli(capsys, "methods")
    assert code == 0 and "broken" in out and "could not load" in out
    code, _, err = run_cli(capsys, "run", "broken", "--dataset", "toy", "--out",
                           str(tmp_path / "p.npz"))
    assert code == 2 and "could not be loaded" in err


def test_fill_invisible_2d_uses_the_nearest_visible_ancestor():
    from posebench.methods import fill_invisible_2d
    from posebench.skeletons import get_skeleton

    sk = get_skeleton("h36m17")
    rng = np.random.default_rng(0)
    uv = rng.normal(size=(3, 17, 2)) * 100
    hand = sk.names.index("r_wrist")
    elbow = sk.parents[hand]
    shoulder = sk.parents[elbow]
    bad = uv.copy()
    bad[0, hand] = np.nan                      # one joint: its parent's position
    bad[1, [hand, elbow]] = np.nan             # a chain: the first visible ancestor's
    out = fill_invisible_2d(bad, "h36m17")
    assert np.array_equal(out[0, hand], uv[0, elbow])
    assert np.array_equal(out[1, hand], uv[1, shoulder])
    assert np.array_equal(out[1, elbow], uv[1, shoulder])
    assert np.array_equal(out[2], uv[2]) and np.isnan(bad).any()   # input untouched

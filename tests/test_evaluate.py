"""posebench.evaluate: ground truth scores perfectly, PSS caching, tables, CIs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers_toy import fit_pss_cache, toy_3dhp, toy_h36m, toy_synth

import posebench
from posebench.data.dataset import read_split
from posebench.data.protocols import get_protocol
from posebench.errors import InputError
from posebench.metrics import PoseStructureScore
from posebench.metrics.pss import load_pss
from posebench.predictions import Predictions
from posebench.pss_models import pss_cache_path


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = toy_synth(tmp_path_factory.mktemp("ev") / "toy-synth")
    return root, read_split(root, "test"), read_split(root, "train")


@pytest.fixture(scope="module")
def fitted_pss(synth, tmp_path_factory):
    """PSS@50/@100 models of the toy set, fitted once per module by evaluate itself."""
    root, test, _ = synth
    return fit_pss_cache(root, test.poses_3d, tmp_path_factory.mktemp("pss_home"))


@pytest.fixture
def shared_pss(fitted_pss, isolated_home):
    """Put the module's fitted PSS models into this test's isolated POSEBENCH_HOME cache."""
    import shutil

    shutil.copytree(fitted_pss, isolated_home / "pss", dirs_exist_ok=True)


@pytest.mark.usefixtures("shared_pss")
def test_ground_truth_as_prediction_is_perfect(synth, tmp_path):
    root, test, train = synth
    f = tmp_path / "p.npz"
    np.savez(f, poses_3d=test.poses_3d, index=np.arange(len(test)))
    rep = posebench.evaluate(f, dataset=root)
    m = rep.metrics
    for name in ("mpjpe", "p_mpjpe", "n_mpjpe"):
        assert m[name] == pytest.approx(0.0, abs=1e-9)
    assert m["pck"] == 100.0
    assert m["auc"] == pytest.approx(100.0 * 30 / 31, abs=1e-9)  # 96.77: threshold 0 never hit
    assert m["pss@50"] == 1.0 and m["pss@100"] == 1.0
    s = rep.summary
    assert s["protocol"]["name"] == "synth" and s["n_samples"] == len(test)
    assert s["dataset"]["fingerprint"] == test.fingerprint()
    assert s["coverage"]["partial"] is False and s["posebench_version"] == posebench.__version__
    assert "root-centred at 'pelvis'" in s["alignment"]
    assert len(rep.frame) == len(test)
    assert list(rep.frame.columns[:7]) == ["position", "row", "subject", "action", "subaction",
                                           "camera", "frame"]
    json.dumps(rep.record())  # JSON-ready


def test_pss_models_are_fitted_on_training_split_and_cached(synth, tmp_path):
    root, test, train = synth
    preds = test.poses_3d + np.random.default_rng(0).normal(0, 40, test.poses_3d.shape)
    rep = posebench.evaluate(preds, dataset=root, pss_k=(50,))
    path = pss_cache_path(train.fingerprint(), "h36m17", 50, 0)
    assert path.is_file()
    info = rep.summary["pss_models"][0]
    assert info["path"] == f"$POSEBENCH_HOME/pss/{path.name}"  # no machine path in records
    assert info["train_fingerprint"] == train.fingerprint()
    model = load_pss(path)
    assert info["fingerprint"] == model.fingerprint and info["fingerprints"] == model.fingerprints
    assert info["members"] == 20 and info["definition"] == "ensemble"
    # the cached model's score equals scoring the root-centred poses directly
    gt_c = test.poses_3d - test.poses_3d[:, :1]
    pr_c = preds - preds[:, :1]
    assert rep.metrics["pss@50"] == pytest.approx(model.score(pr_c, gt_c), abs=1e-12)
    mtime = path.stat().st_mtime_ns
    rep2 = posebench.evaluate(preds, dataset=root, pss_k=(50,))
    assert path.stat().st_mtime_ns == mtime
    assert rep2.metrics == rep.metrics


def test_given_pss_model_replaces_auto_fit(synth, tmp_path):
    root, test, train = synth
    model = PoseStructureScore(k=7, seed=3).fit(train.poses_3d - train.poses_3d[:, :1])
    saved = model.save(tmp_path / "m7")
    rep = posebench.evaluate(test.poses_3d, dataset=root, pss_models=[saved])
    assert [m["k"] for m in rep.summary["pss_models"]] == [7]
    assert "pss@7" in rep.metrics and "pss@50" not in rep.metrics
    assert rep.summary["pss_models"][0]["fingerprint"] == model.fingerprint


def test_pss_model_with_other_joint_count_is_refused(synth, tmp_path):
    root, test, train = synth
    model = PoseStructureScore(k=3).fit(train.poses_3d[:, :16])
    saved = model.save(tmp_path / "m16")
    with pytest.raises(InputError, match="joints"):
        posebench.evaluate(test.poses_3d, dataset=root, pss_models=[saved])


def test_prediction_translation_does_not_matter_but_structure_does(synth):
    root, test, _ = synth
    rng = np.random.default_rng(1)
    noisy = test.poses_3d + rng.normal(0, 25, test.poses_3d.shape)
    a = posebench.evaluate(noisy, dataset=root, pss_k=())
    b = posebench.evaluate(noisy + rng.normal(0, 500, (len(test), 1, 3)), dataset=root,
                           pss_k=())
    for name in ("mpjpe", "p_mpjpe", "n_mpjpe", "pck", "auc"):
        assert a.metrics[name] == pytest.approx(b.metrics[name], abs=1e-9)
    gt_c = test.poses_3d - test.poses_3d[:, :1]
    pr_c = noisy - noisy[:, :1]
    want = np.sqrt(((gt_c - pr_c) ** 2).sum(-1)).mean()
    assert a.metrics["mpjpe"] == pytest.approx(want, abs=1e-9)


def test_inputs_path_predictions_and_array_agree(synth, tmp_path):
    root, test, _ = synth
    preds = test.poses_3d + 5.0 * np.sign(np.sin(np.arange(17)))[None, :, None]
    np.savez(tmp_path / "p.npz", poses_3d=preds, index=np.arange(len(test)))
    a = posebench.evaluate(tmp_path / "p.npz", dataset=root, pss_k=())
    b = posebench.evaluate(Predictions(preds, index=np.arange(len(test))), dataset=root,
                           pss_k=())
    c = posebench.evaluate(preds, dataset=str(root), protocol=get_protocol("synth"), pss_k=())
    d = posebench.evaluate(preds, dataset=test, pss_k=())
    assert a.metrics == b.metrics == c.metrics == d.metrics
    assert a.summary["predictions"]["sha256"] and b.summary["predictions"]["sha256"] is None


def test_per_action_and_per_joint_tables(tmp_path):
    root = toy_h36m(tmp_path / "h")
    ds = read_split(root, "test")
    rng = np.random.default_rng(2)
    preds = ds.poses_3d + rng.normal(0, 30, ds.poses_3d.shape)
    preds -= ds.poses_3d[:, :1]  # h36m-p1 scores root-relative predictions as given
    rep = posebench.evaluate(preds, dataset=root, protocol="h36m-p1", per_action=True,
                             per_joint=True, pss_k=())
    acts = rep.per_group["action"]
    gt_c = ds.poses_3d - ds.poses_3d[:, :1]
    pr_c = preds
    e = np.sqrt(((gt_c - pr_c) ** 2).sum(-1))
    for a in np.unique(ds.keys.action):
        sel = ds.keys.action == a
        assert acts.loc[a, "mpjpe"] == pytest.approx(e[sel].mean(), abs=1e-9)
        assert acts.loc[a, "n"] == sel.sum()
    assert rep.metrics["mpjpe"] == pytest.approx(acts["mpjpe"].mean(), abs=1e-9)
    joints = rep.per_group["joint"]
    assert len(joints) == 17 and joints.loc["pelvis", "mpjpe"] > 0.0  # root scored as given
    # action-wise per joint: mean over actions of per-action joint means
    want = np.mean([e[ds.keys.action == a, 2].mean() for a in np.unique(ds.keys.action)])
    assert joints.loc["r_knee", "mpjpe"] == pytest.approx(want, abs=1e-9)


def test_3dhp_breakdowns_and_pss_skip(tmp_path):
    root = toy_3dhp(tmp_path / "hp")
    ds = read_split(root, "test")
    rows = get_protocol("3dhp-official").select(ds)
    gt = ds.extra["univ_poses_3d"][rows]
    preds = gt - gt[:, 14:15] + 30.0 * np.eye(3)[np.arange(17) % 3][None]  # root-relative
    rep = posebench.evaluate(preds, dataset=root)
    assert rep.summary["protocol"]["name"] == "3dhp-official"
    assert set(rep.per_group) == {"subject", "action", "scene"}
    assert not any(k.startswith("pss") for k in rep.metrics)
    assert any("PSS skipped" in n for n in rep.summary["notes"])
    scenes = rep.per_group["scene"]
    assert set(scenes.index) == {"GreenScreen", "Studio", "Outdoor"}
    assert scenes["n"].sum() == len(rows)


@pytest.mark.usefixtures("shared_pss")
def test_bootstrap_ci_is_seeded_and_brackets_the_mean(synth):
    root, test, _ = synth
    preds = test.poses_3d + np.random.default_rng(4).normal(0, 30, test.poses_3d.shape)
    rep = posebench.evaluate(preds, dataset=root, pss_k=(50,))
    lo, hi = rep.ci("mpjpe", n_boot=300, seed=1)
    assert lo < rep.metrics["mpjpe"] < hi
    assert (lo, hi) == rep.ci("mpjpe", n_boot=300, seed=1)
    plo, phi = rep.ci("pss@50", n_boot=300)
    assert 0.0 <= plo <= rep.metrics["pss@50"] <= phi <= 1.0
    with pytest.raises(InputError):
        rep.ci("nope")


def test_action_wise_ci_brackets_the_action_wise_number(tmp_path):
    root = toy_h36m(tmp_path / "h")
    ds = read_split(root, "test")
    preds = ds.poses_3d + np.random.default_rng(5).normal(0, 30, ds.poses_3d.shape)
    rep = posebench.evaluate(preds - ds.poses_3d[:, :1], dataset=root, pss_k=())
    assert rep.summary["protocol"]["aggregation"] == "action"
    lo, hi = rep.ci("mpjpe", n_boot=200)
    assert lo < rep.metrics["mpjpe"] < hi


def test_wrong_protocol_kind_and_2d_only_split(synth, tmp_path):
    root, test, _ = synth
    with pytest.raises(InputError, match="kind"):
        posebench.evaluate(test.poses_3d, dataset=root, protocol="h36m-p1")
    with pytest.raises(InputError, match="not supported"):
        posebench.evaluate([[1, 2, 3]], dataset=root)


@pytest.mark.usefixtures("shared_pss")
def test_frame_dataframe_carries_keys_and_metrics(synth):
    root, test, _ = synth
    rep = posebench.evaluate(test.poses_3d, dataset=root, pss_k=(50,))
    f = rep.frame
    assert isinstance(f, pd.DataFrame)
    np.testing.assert_array_equal(f["frame"], test.keys.frame)
    np.testing.assert_array_equal(f["subject"], test.keys.subject)
    assert set(f.columns) >= {"mpjpe", "p_mpjpe", "n_mpjpe", "pck", "auc", "pss@50"}
    assert (f["pss@50"] == 1.0).all()


def test_mpjve_in_blocks_equals_the_whole_array_formula(monkeypatch):
    """mpjve_by_action walks the frame pairs a block at a time (memory); the numbers must equal,
    to the bit, VideoPose3D's formula on whole arrays: per sequence the mean over consecutive
    pairs of mean_j |(p_t - p_t-1) - (g_t - g_t-1)|, per action weighted by frames."""
    import types

    import posebench.parallel as par
    from posebench.evaluation import mpjve_by_action

    rng = np.random.default_rng(3)
    n = 3000
    keys = types.SimpleNamespace(subject=rng.choice(["S9", "S11"], n),
                                 action=rng.choice(["Walk", "Eat"], n),
                                 subaction=rng.integers(1, 3, n), camera=rng.choice(["a", "b"], n),
                                 frame=rng.permutation(n) % 400)  # gaps and duplicates
    pred, gt = rng.normal(size=(n, 17, 3)), rng.normal(size=(n, 17, 3))
    seq = [f"{s}|{a}|{u}|{c}" for s, a, u, c in zip(keys.subject, keys.action, keys.subaction,
                                                    keys.camera)]
    order = np.lexsort((keys.frame, np.array(seq)))
    s, f, p, g = np.array(seq)[order], keys.frame[order], pred[order], gt[order]
    pair = (s[1:] == s[:-1]) & (f[1:] - f[:-1] == 1)
    dv = np.linalg.norm((p[1:] - p[:-1]) - (g[1:] - g[:-1]), axis=-1).mean(axis=-1)[pair]
    expected = {}
    for act in ("Eat", "Walk"):
        num = den = 0.0
        for q in sorted(set(s[1:][pair])):
            if q.split("|")[1] == act:
                w = float((s == q).sum())
                num += dv[s[1:][pair] == q].mean() * w
                den += w
        expected[act] = num / den
    monkeypatch.setattr(par, "CHUNK", 97)  # many blocks, boundaries inside sequences
    got = mpjve_by_action(pred, gt, keys)
    assert got.keys() == expected.keys()
    for act in expected:
        assert got[act] == pytest.approx(expected[act], rel=1e-12)


@pytest.mark.usefixtures("shared_pss")
@pytest.mark.parametrize("nan_policy", ["refuse", "miss"])
def test_the_callers_prediction_array_is_never_written(synth, nan_policy):
    """Predictions already in canonical order are scored without a copy; nothing may write
    through to the caller's array (NaN policy 'miss' included, inf there becomes NaN in a
    copy only); the numbers equal those of a private copy."""
    _, test, _ = synth
    rng = np.random.default_rng(2)
    pred = test.poses_3d + rng.normal(0, 15, test.poses_3d.shape)
    if nan_policy == "miss":
        pred[3, 5, 0] = np.inf
    before = pred.copy()
    rep = posebench.evaluate(Predictions.from_array(pred), dataset=test, train=synth[2],
                             nan_policy=nan_policy)
    np.testing.assert_array_equal(pred, before)
    ref = posebench.evaluate(Predictions.from_array(before.copy()), dataset=test,
                             train=synth[2], nan_policy=nan_policy)
    assert rep.metrics == ref.metrics


@pytest.mark.usefixtures("shared_pss")
def test_float32_predictions_score_as_their_float64_values(synth, tmp_path):
    """A float32 file stays float32 in memory (half of a full-size file); every metric is
    computed in float64 from exact casts, so it scores exactly as the same numbers stored
    as float64, in the summary and its intervals."""
    from posebench.data.protocols import get_protocol

    _, test, _ = synth
    rng = np.random.default_rng(6)
    gt = test.poses_3d[get_protocol("synth").select(test)]
    p32 = (gt + rng.normal(0, 25, gt.shape)).astype(np.float32)
    out = {}
    for name, arr in (("f32", p32), ("f64", p32.astype(np.float64))):
        path = tmp_path / f"{name}.npz"
        np.savez(path, poses_3d=arr, index=np.arange(len(arr)))
        out[name] = posebench.evaluate(path, dataset=test, train=synth[2], protocol="synth")
    assert out["f32"].metrics == out["f64"].metrics
    assert out["f32"].summary["ci"] == out["f64"].summary["ci"]
    for col in out["f32"].frame.columns:
        np.testing.assert_array_equal(out["f32"].frame[col], out["f64"].frame[col])


def test_metrics_in_blocks_equal_the_whole_array(monkeypatch):
    """_per_pose_in_blocks (a block of poses at a time, for memory) gives the numbers of one
    call on the whole arrays (per-pose values; the BLAS kernels round the last bit differently
    with the block's alignment: 2 of 1,000 values differ by 1 ulp)."""
    import posebench.evaluation as ev
    from posebench import metrics as M

    rng = np.random.default_rng(4)
    gt = rng.normal(0, 200, (1000, 17, 3))
    pred = (gt + rng.normal(0, 30, gt.shape)).astype(np.float32)
    funcs = {"mpjpe": M.mpjpe, "p_mpjpe": M.p_mpjpe, "n_mpjpe": M.n_mpjpe_given_frame}
    monkeypatch.setattr(ev, "METRIC_BLOCK", 97)
    got = ev._per_pose_in_blocks(funcs, pred, gt)
    for name, fn in funcs.items():
        np.testing.assert_allclose(got[name], fn(pred.astype(np.float64), gt), rtol=1e-13,
                                   atol=0)


def test_take_rows_is_a_view_for_a_run_and_a_copy_otherwise():
    from posebench.evaluation import _take_rows

    a = np.arange(40.0).reshape(10, 4)
    v = _take_rows(a, np.arange(2, 7))
    assert np.shares_memory(v, a) and np.array_equal(v, a[2:7])
    c = _take_rows(a, np.array([1, 3, 2]))
    assert not np.shares_memory(c, a) and np.array_equal(c, a[[1, 3, 2]])
    assert _take_rows(a, np.zeros(0, dtype=np.int64)).shape == (0, 4)

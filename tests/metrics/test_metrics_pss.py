"""Pose Structure Score: definition, invariances, persistence, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posebench.errors import InputError
from posebench.metrics import PoseStructureScore
from posebench.metrics.pss import (
    PSSEnsemble,
    clustering_spread,
    ensemble_hits,
    load_pss,
    normalize_poses,
)


def training_poses(n: int = 3000, seed: int = 0) -> np.ndarray:
    """Clustered toy poses: a few prototypes plus noise, at random positions and sizes."""
    rng = np.random.default_rng(seed)
    protos = rng.normal(scale=300, size=(8, 17, 3))
    which = rng.integers(0, 8, size=n)
    poses = protos[which] + rng.normal(scale=40, size=(n, 17, 3))
    return poses * rng.uniform(0.8, 1.2, size=(n, 1, 1)) + rng.normal(scale=2000, size=(n, 1, 3))


@pytest.fixture(scope="module")
def model() -> PoseStructureScore:
    return PoseStructureScore(k=10, seed=0).fit(training_poses())


def test_normalisation_is_root_then_unit_norm():
    p = np.random.default_rng(1).normal(size=(4, 17, 3)) * 100 + 5000
    x = normalize_poses(p)
    ref = (p - p[:, :1]).reshape(4, -1)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    np.testing.assert_allclose(x, ref, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0)


def test_labels_are_nearest_centres(model):
    poses = training_poses(2000, seed=3)
    x = normalize_poses(poses)
    d = ((x[:, None, :] - model.centres_[None]) ** 2).sum(-1)  # brute force, float64
    np.testing.assert_array_equal(model.labels(poses), d.argmin(1))


def test_labels_match_scikit_learn_predict():
    from sklearn.cluster import KMeans

    poses = training_poses(1500, seed=4)
    m = PoseStructureScore(k=7, seed=1, algorithm="lloyd").fit(poses)
    km = KMeans(n_clusters=7, random_state=1, n_init=3, max_iter=100).fit(normalize_poses(poses))
    np.testing.assert_allclose(m.centres_, km.cluster_centers_)
    np.testing.assert_array_equal(m.labels(poses), km.predict(normalize_poses(poses)))


def test_score_and_hits_hand_case(model):
    gt = training_poses(100, seed=5)
    labels = model.labels(gt)
    # pred: the centre pose of another cluster for the first 30 samples, gt itself for the rest
    other = (labels + 1) % model.k
    pred = gt.copy()
    pred[:30] = model.centres_[other[:30]].reshape(30, 17, 3) * 1000.0 + 7.0
    hits = model.hits(pred, gt)
    assert hits.dtype == bool
    assert not hits[:30].any() and hits[30:].all()
    assert model.score(pred, gt) == pytest.approx(0.7)


def test_fit_is_seeded_and_fingerprinted():
    poses = training_poses(2000, seed=6)
    a = PoseStructureScore(k=5, seed=3).fit(poses)
    b = PoseStructureScore(k=5, seed=3).fit(poses)
    np.testing.assert_array_equal(a.centres_, b.centres_)
    assert a.fingerprint == b.fingerprint
    assert a.info["data_fingerprint"] == b.info["data_fingerprint"]
    c = PoseStructureScore(k=5, seed=3).fit(poses[:-1])
    assert c.info["data_fingerprint"] != a.info["data_fingerprint"]
    x = normalize_poses(poses)
    d = ((x[:, None, :] - a.centres_[None]) ** 2).sum(-1).min(1).sum()
    assert a.info["fit_inertia"] == pytest.approx(d, rel=1e-9)
    assert sum(a.info["cluster_sizes"]) == 2000


def test_save_load_roundtrip(model, tmp_path):
    path = model.save(tmp_path / "pss10")
    assert path.name == "pss10.npz" and (tmp_path / "pss10.json").is_file()
    meta = json.loads((tmp_path / "pss10.json").read_text())
    for key in ("k", "normalization", "seed", "root", "num_joints", "sklearn_version",
                "numpy_version", "data_fingerprint", "fit_inertia", "fingerprint"):
        assert key in meta
    assert meta["fingerprint"] == model.fingerprint
    with np.load(path, allow_pickle=False) as z:  # no pickle needed
        assert set(z.files) == {"centres", "meta_json"}
    loaded = PoseStructureScore.load(tmp_path / "pss10.json")
    assert loaded.fingerprint == model.fingerprint
    poses = training_poses(500, seed=7)
    np.testing.assert_array_equal(loaded.labels(poses), model.labels(poses))


def test_tampered_model_is_refused(model, tmp_path):
    path = model.save(tmp_path / "m.npz")
    with np.load(path) as z:
        arrays = dict(z)
    arrays["centres"] = arrays["centres"] + 1e-3
    np.savez(path, **arrays)
    with pytest.raises(InputError, match="fingerprint"):
        PoseStructureScore.load(path)


def test_errors(model):
    with pytest.raises(InputError, match="not fitted"):
        PoseStructureScore().labels(np.zeros((2, 17, 3)))
    with pytest.raises(InputError, match="16 joints"):
        model.labels(np.zeros((2, 16, 3)))
    with pytest.raises(InputError, match="normalisation"):
        PoseStructureScore(normalization="zscore")
    with pytest.raises(InputError, match="at least"):
        PoseStructureScore(k=50).fit(np.random.default_rng(0).normal(size=(10, 17, 3)))


def test_other_normalisations():
    poses = training_poses(1000, seed=8)
    for norm in ("centroid_unit_norm", "root"):
        m = PoseStructureScore(k=4, normalization=norm).fit(poses)
        assert m.score(poses, poses) == 1.0
    x = normalize_poses(poses[:3], "centroid_unit_norm")
    ref = (poses[:3] - poses[:3].mean(1, keepdims=True)).reshape(3, -1)
    np.testing.assert_allclose(x, ref / np.linalg.norm(ref, axis=1, keepdims=True))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), factor=st.floats(1e-3, 1e3),
       shift=st.tuples(*[st.floats(-1e4, 1e4)] * 3))
def test_pss_properties(model, seed, factor, shift):
    rng = np.random.default_rng(seed)
    gt = training_poses(50, seed=seed % 1000) + rng.normal(scale=30, size=(50, 17, 3))
    pred = gt + rng.normal(scale=150, size=gt.shape)
    assert model.score(gt, gt) == 1.0  # PSS = 1 for pred == gt
    base = model.hits(pred, gt)
    moved = factor * pred + np.array(shift)  # uniform scaling (and translation) of the pred
    np.testing.assert_array_equal(model.hits(moved, gt), base)


def test_cli_fit_and_show(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from posebench.commands import pss_cmd as pss_module
    from posebench.commands.pss_cmd import pss

    poses = training_poses(500, seed=9)

    def fake_fit(dataset, split, k, seed, normalization, algorithm):
        m = PoseStructureScore(k=k, seed=seed, normalization=normalization,
                               algorithm=algorithm).fit(poses)
        m.info.update({"dataset": dataset, "split": split})
        return m

    def fake_fit_ensemble(dataset, split, k, seed, definition, normalization):
        ens = PSSEnsemble(k=k, definition=definition, seed=seed, members=4,
                          normalization=normalization).fit(poses)
        ens.info.update({"dataset": dataset, "split": split})
        return ens

    monkeypatch.setattr(pss_module, "fit_on_dataset", fake_fit)
    monkeypatch.setattr(pss_module, "fit_ensemble_on_dataset", fake_fit_ensemble)
    out = tmp_path / "model"
    runner = CliRunner()
    res = runner.invoke(pss, ["fit", "--dataset", "toy", "--k", "6", "--algorithm", "minibatch",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "PSS@6" in res.output
    res = runner.invoke(pss, ["show", str(out) + ".npz"])
    assert res.exit_code == 0, res.output
    assert "fingerprint" in res.output and "toy" in res.output
    res = runner.invoke(pss, ["show", "--json", str(out) + ".npz"])
    assert json.loads(res.output)["k"] == 6
    ens_out = tmp_path / "ens"
    res = runner.invoke(pss, ["fit", "--dataset", "toy", "--k", "6", "--out", str(ens_out)])
    assert res.exit_code == 0 and "4 model(s)" in res.output, res.output
    res = runner.invoke(pss, ["show", str(ens_out) + ".npz"])
    assert res.exit_code == 0, res.output
    assert "clustering sd" in res.output and "binomial sd" in res.output
    desc = json.loads(runner.invoke(pss, ["show", "--json", str(ens_out) + ".npz"]).output)
    assert len(desc["fingerprints"]) == 4 and desc["member_seeds"] == [0, 1, 2, 3]
    ref = desc["reference_check"]
    assert ref["clustering_sd"] == pytest.approx(ref["member_sd"] / 2.0)


def write_toy_dataset(root, poses: np.ndarray):
    from posebench.data.dataset import CameraTable, PoseDataset, SampleKeys, write_dataset

    n = poses.shape[0]
    cams = CameraTable(ids=["c0"], f=[[1000.0, 1000.0]], c=[[500.0, 500.0]], k=np.zeros((1, 3)),
                       p=np.zeros((1, 2)), R=np.eye(3)[None], t=np.zeros((1, 3)), width=[1000],
                       height=[1000], distortion="none")
    keys = SampleKeys(subject=np.full(n, "S1"), action=np.full(n, "Walk"),
                      subaction=np.ones(n, int), camera=np.full(n, "c0"), frame=np.arange(n))
    ds = PoseDataset("toy", "train", "h36m17", poses, np.zeros((n, 17, 2)), keys,
                     np.zeros(n, int), cams)
    return write_dataset(root, {"train": ds}, kind="test")


def test_cli_fit_on_a_canonical_dataset_folder(tmp_path):
    from posebench.cli import main

    root = write_toy_dataset(tmp_path / "toy", training_poses(400, seed=10))
    out = tmp_path / "pss" / "toy50"
    assert main(["pss", "fit", "--dataset", str(root), "--k", "5", "--definition", "paper",
                 "--out", str(out)]) == 0
    model = load_pss(out)
    assert model.n_members == 1 and model.members[0].seed == 0
    assert model.k == 5 and model.info["dataset"] == "toy" and model.info["split"] == "train"
    assert len(model.info["dataset_fingerprint"]) == 64
    assert main(["pss", "show", str(out) + ".npz"]) == 0
    assert main(["pss", "show", str(tmp_path / "missing.npz")]) == 2


def test_many_models_at_once_equal_one_by_one(model):
    from posebench.metrics.pss import hits_many, labels_many, scores

    poses = training_poses(3000, seed=11)
    other = PoseStructureScore(k=4, seed=2).fit(poses)
    rooted = PoseStructureScore(k=3, normalization="root").fit(poses)
    models = [model, other, rooted]
    labs = labels_many(models, poses)
    for m, lab in zip(models, labs):
        np.testing.assert_array_equal(lab, m.labels(poses))
    pred = poses + np.random.default_rng(0).normal(scale=100, size=poses.shape)
    hits = hits_many(models, pred, poses)
    assert scores(models, pred, poses) == [float(h.mean()) for h in hits]
    assert [m.score(pred, poses) for m in models] == scores(models, pred, poses)


def test_non_finite_pose_is_never_a_hit(model):
    gt = training_poses(5, seed=12)
    pred = gt.copy()
    pred[1, 2, 0] = np.nan
    assert model.labels(pred)[1] == -1
    np.testing.assert_array_equal(model.hits(pred, gt), [True, False, True, True, True])


# ------------------------------------------------------------------------------ ensembles
def test_paper_definition_is_the_single_model():
    poses = training_poses(400, seed=3)
    ens = PSSEnsemble(k=5, definition="paper", seed=7).fit(poses)
    single = PoseStructureScore(k=5, seed=7).fit(poses)
    assert ens.n_members == 1 and ens.fingerprints == [single.fingerprint]
    pred = poses + np.random.default_rng(0).normal(0, 30, poses.shape)
    assert ens.score(pred, poses) == single.score(pred, poses)


def test_ensemble_is_mean_of_member_scores_and_round_trips(tmp_path):
    poses = training_poses(600, seed=4)
    ens = PSSEnsemble(k=6, seed=2, members=5, max_fit_poses=300).fit(poses)
    assert ens.member_seeds() == [10, 11, 12, 13, 14]
    assert all(m.info["num_samples"] == 300 for m in ens.members)  # capped subsample
    assert len(set(ens.fingerprints)) == 5
    pred = poses + np.random.default_rng(1).normal(0, 40, poses.shape)
    hits = ens.hits(pred, poses)
    assert hits.shape == (600, 5)
    by_member = [m.score(pred, poses) for m in ens.members]
    assert ens.score(pred, poses) == pytest.approx(np.mean(by_member), abs=1e-12)
    spread = clustering_spread(hits)
    assert spread["member_sd"] == pytest.approx(np.std(by_member, ddof=1))
    assert spread["clustering_sd"] == pytest.approx(np.std(by_member, ddof=1) / np.sqrt(5))
    p = np.mean(by_member)
    assert spread["binomial_sd"] == pytest.approx(np.sqrt(p * (1 - p) / 600))
    path = ens.save(tmp_path / "ens")
    back = load_pss(path)
    assert back.fingerprint == ens.fingerprint and back.fingerprints == ens.fingerprints
    assert np.array_equal(back.hits(pred, poses), hits)
    single = PoseStructureScore(k=4).fit(poses)
    two = ensemble_hits([ens, load_pss(single.save(tmp_path / "one"))], pred, poses)
    assert two[0].shape == (600, 5) and two[1].shape == (600, 1)
    assert np.array_equal(two[1][:, 0], single.hits(pred, poses))
    arr = dict(np.load(path))
    arr["centres"] = arr["centres"] + 1e-3
    np.savez(path, **arr)
    with pytest.raises(InputError, match="fingerprint"):
        load_pss(path)



def test_members_fitted_in_worker_processes_equal_those_fitted_here(monkeypatch):
    """The process path (used from `PROCESS_FIT_ROWS` fitting poses per member) gives the
    members the threads and a single thread give: same seeds, subsamples and centres."""
    import posebench.metrics.pss as pss_module
    from posebench import parallel

    poses = training_poses(900, seed=5)
    calls = []
    real = pss_module.process_map

    def spy(fn, items, workers=None):
        calls.append(fn)
        return real(fn, items, workers)

    monkeypatch.setattr(pss_module, "process_map", spy)
    threads = PSSEnsemble(k=5, seed=3, members=4, max_fit_poses=600).fit(poses)
    assert calls == []  # below the threshold: threads
    monkeypatch.setattr(pss_module, "PROCESS_FIT_ROWS", 100)
    procs = PSSEnsemble(k=5, seed=3, members=4, max_fit_poses=600).fit(poses)
    assert calls == [pss_module._fit_model]
    monkeypatch.setattr(parallel, "_THREADS", 1)
    serial = PSSEnsemble(k=5, seed=3, members=4, max_fit_poses=600).fit(poses)
    assert procs.fingerprints == threads.fingerprints == serial.fingerprints
    assert len(set(procs.fingerprints)) == 4
    assert [m.info["num_samples"] for m in procs.members] == [600] * 4
    for a, b in zip(procs.members, threads.members):
        assert np.array_equal(a.centres_, b.centres_) and a.info == b.info


def test_hits_without_labelling_predictions_equal_label_comparison(model):
    """The hit test that skips the prediction's argmax (certain hit / certain miss / float64
    near-ties) gives exactly ``label(pred) == label(gt)`` on adversarial inputs: poses at a
    centre, exact midpoints between two centres (ties), every noise scale, non-finite rows."""
    from posebench.metrics.pss import hits_many, labels_many

    gt = training_poses(2000, seed=21)
    rooted = PoseStructureScore(k=6, normalization="root").fit(gt)
    models = [model, PoseStructureScore(k=4, seed=2).fit(gt), rooted]
    rng = np.random.default_rng(5)
    c = rooted.centres_.reshape(-1, 17, 3)
    i, j = rng.integers(0, 6, 200), rng.integers(0, 6, 200)
    offset = rng.normal(scale=1000, size=(200, 1, 3))
    centre_rows = c[i] + offset  # "root" normalisation: exactly a centre after centring
    c = c - c[:, :1]
    mid_rows = (c[i] + c[j]) / 2 + offset  # equidistant from two centres: a tie
    parts = [gt[:400] + rng.normal(scale=s, size=(400, 17, 3)) for s in (1, 30, 300, 3000)]
    pred = np.concatenate([*parts, centre_rows, mid_rows, gt[:400]])
    truth = np.concatenate([gt[:1600], gt[1600:1800], gt[1800:2000], gt[:400]])
    pred[5, 3, 1] = np.nan
    truth[7, 0, 0] = np.inf
    expected = [(a == b) & (a >= 0) for a, b in zip(labels_many(models, pred),
                                                    labels_many(models, truth))]
    assert 0.05 < np.mean(expected[0]) < 0.95  # a mix of hits and misses
    for got, want in zip(hits_many(models, pred, truth), expected):
        np.testing.assert_array_equal(got, want)
    given = hits_many(models, pred, truth, gt_labels=labels_many(models, truth))
    for got, want in zip(given, expected):
        np.testing.assert_array_equal(got, want)
    assert not given[0][5] and not given[0][7]
    matrix = np.stack(labels_many(models, truth), axis=1).astype(np.int32)  # the cache's form
    for got, want in zip(hits_many(models, pred, truth, gt_labels=matrix), expected):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="gt_labels"):
        hits_many(models, pred, truth, gt_labels=labels_many(models[:1], truth))
    with pytest.raises(ValueError, match="gt_labels"):
        hits_many(models, pred, truth, gt_labels=matrix[:, :2])


def test_labels_equal_float64_argmax_on_ties_and_duplicate_centres(model):
    """The centre-major labelling (max, index by the mask's dot product, runner-up) equals a
    float64 argmax of the scores, first index on ties: rows at exact midpoints of two
    centres, a model with a duplicated centre (every row nearest it ties), k = 1."""
    from posebench.metrics.pss import labels_many, normalize_poses

    gt = training_poses(1500, seed=31)
    dup = PoseStructureScore(k=5, seed=3).fit(gt)
    dup.centres_ = np.concatenate([dup.centres_[:3], dup.centres_[2:3], dup.centres_[3:4]])
    one = PoseStructureScore(k=1).fit(gt)
    models = [model, dup, one]
    rng = np.random.default_rng(8)
    c = dup.centres_.reshape(-1, 17, 3)
    mid = (c[rng.integers(0, 5, 300)] + c[rng.integers(0, 5, 300)]) / 2
    poses = np.concatenate([gt, mid, c])
    x = normalize_poses(poses)
    for m, got in zip(models, labels_many(models, poses)):
        cen = m.centres_
        want = (2 * x @ cen.T - np.einsum("ij,ij->i", cen, cen)).argmax(axis=1)
        np.testing.assert_array_equal(got, want)
    assert (labels_many([dup], c)[0] == [0, 1, 2, 2, 4]).all()  # the duplicate: first index

"""PSS models tied to datasets: the ground-truth label cache (posebench.pss_models)."""

from __future__ import annotations

import numpy as np
import pytest

from posebench import pss_models
from posebench.metrics.pss import PSSEnsemble, ensemble_hits, ensemble_labels


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("POSEBENCH_HOME", str(tmp_path))
    return tmp_path


def _data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    protos = rng.normal(scale=300, size=(5, 17, 3))
    gt = protos[rng.integers(0, 5, n)] + rng.normal(scale=40, size=(n, 17, 3))
    return gt, gt + rng.normal(scale=60, size=gt.shape)


def test_labels_are_cached_and_reused(home, monkeypatch):
    gt, pred = _data()
    ens = [PSSEnsemble(k=5, seed=1, members=3).fit(gt), PSSEnsemble(k=3, seed=2, members=2).fit(gt)]
    want = ensemble_labels(ens, gt)
    hits, labels = pss_models.hits_and_labels(ens, pred, gt)
    path = pss_models.labels_cache_path(ens, gt)
    assert path.is_file() and path.parent == home / "pss" / "labels"
    for a, b in zip(labels, want):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(hits, ensemble_hits(ens, pred, gt)):
        np.testing.assert_array_equal(a, b)
    calls = []
    monkeypatch.setattr(pss_models, "ensemble_labels",
                        lambda *a: calls.append(1) or ensemble_labels(*a))
    again, _ = pss_models.hits_and_labels(ens, pred, gt)
    assert calls == []  # read back, not recomputed
    for a, b in zip(again, hits):
        np.testing.assert_array_equal(a, b)
    # another ground truth (one coordinate moved by 1e-9 mm) or another ensemble: another file
    moved = gt.copy()
    moved[3, 4, 2] += 1e-9
    assert pss_models.labels_cache_path(ens, moved) != path
    assert pss_models.labels_cache_path(ens[:1], gt) != path


def test_damaged_cache_is_recomputed(home):
    gt, pred = _data(seed=3)
    ens = [PSSEnsemble(k=4, seed=0, members=2).fit(gt)]
    want = ensemble_labels(ens, gt)
    path = pss_models.labels_cache_path(ens, gt)
    path.parent.mkdir(parents=True)
    for bad in (b"not an npz", "range", "int64", "old"):
        if bad == "range":  # well-formed but out-of-range labels
            np.savez(path, labels=np.full((len(gt), 2), 99, dtype=np.int32))
        elif bad == "int64":  # right labels, another dtype than the format's int32
            np.savez(path, labels=want[0])
        elif bad == "old":  # the /1 layout: one array per ensemble
            np.savez(path, e0=want[0].astype(np.int32))
        else:
            path.write_bytes(bad)
        got = pss_models.ground_truth_labels(ens, gt)
        np.testing.assert_array_equal(got[0], want[0])
        assert got[0].dtype == np.int32
        with np.load(path) as z:  # replaced by the right labels, one int32 matrix
            assert z["labels"].dtype == np.int32
            np.testing.assert_array_equal(z["labels"], want[0])


def test_training_poses_read_alone_match_the_whole_split_path(tmp_path):
    """`read_split_pose_blocks` reads only poses_3d, a block of rows at a time;
    `pss_training_poses` (and `training_poses_from_blocks` on the file's blocks) drops
    non-finite rows, converts to the evaluation skeleton and root-centres in the input's
    dtype, equal to the step-by-step formula (filter, convert, subtract the root)."""
    from posebench.data.dataset import read_split_pose_blocks
    from posebench.errors import InputError
    from posebench.io import load_npz
    from posebench.skeletons import convert, get_skeleton

    rng = np.random.default_rng(5)
    poses = rng.normal(0, 300, (50, 17, 3)).astype(np.float32)
    poses[[3, 17], 5, 1] = np.nan
    root = tmp_path / "ds"
    root.mkdir()
    (root / "meta.json").write_text('{"name": "tiny", "skeleton": "h36m17", '
                                    '"splits": {"train": {"has_3d": true}}}')
    np.savez(root / "train.npz", poses_3d=poses, poses_2d=np.zeros((50, 17, 2)))
    shape, dtype, skel, blocks = read_split_pose_blocks(root, "train", rows=7)
    blocks = list(blocks)
    assert [len(b) for b in blocks] == [7] * 7 + [1] and shape == poses.shape
    got = np.concatenate(blocks)
    assert skel == "h36m17" and got.dtype == dtype == np.float32 and np.array_equal(
        got, poses, equal_nan=True)
    assert set(load_npz(root / "train.npz", only=("poses_2d",))) == {"poses_2d"}
    with pytest.raises(InputError, match="has no array 'frame'"):
        load_npz(root / "train.npz", only=("frame",))
    for dst in ("h36m17", "3dhp17"):
        eval_skel = get_skeleton(dst)
        keep = np.isfinite(poses).all(axis=(1, 2))
        ref = convert(poses[keep], "h36m17", eval_skel)
        ref = ref - ref[:, eval_skel.root][:, None]
        out = pss_models.pss_training_poses(got, skel, eval_skel)
        assert out.dtype == np.float32 and out.shape == (48, 17, 3)
        assert np.array_equal(out, ref) and out.flags["C_CONTIGUOUS"]
        shape, dtype, skel, blocks = read_split_pose_blocks(root, "train", rows=7)
        from_file = pss_models.training_poses_from_blocks(shape, dtype, blocks, skel, eval_skel)
        assert np.array_equal(from_file, ref)  # blocks crossing the dropped rows
    assert np.array_equal(got, poses, equal_nan=True)  # the input is left as it was

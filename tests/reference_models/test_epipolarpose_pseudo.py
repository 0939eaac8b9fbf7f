"""Pseudo-labels: view grouping, exact targets from exact 2D in every mode, failure handling."""

from __future__ import annotations

import numpy as np
import pytest

from reference_models.epipolarpose.data import gt_targets
from reference_models.epipolarpose.pseudo import multiview_groups, pseudo_label_targets
from reference_models.epipolarpose.toy import make_split

pytest.importorskip("posebench.geometry.pseudo_labels")


@pytest.fixture(scope="module")
def toy():
    return make_split(30, seed=4, split="train", image_size=32, frames_per_sequence=10)


def test_groups_hold_every_camera_of_one_instant_in_camera_order(toy):
    idx, seq = multiview_groups(toy)
    assert idx.shape == (30, 4)
    k = toy.keys
    assert (k.camera[idx] == np.array(["cam0", "cam1", "cam2", "cam3"])).all()
    for f in ("subject", "action", "subaction", "frame"):
        a = getattr(k, f)[idx]
        assert (a == a[:, :1]).all()
    assert np.array_equal(np.bincount(seq), [10, 10, 10])


def test_incomplete_instants_are_left_out(toy):
    part = toy.take(np.arange(1, len(toy)))  # first instant loses one camera
    idx, _ = multiview_groups(part)
    assert idx.shape == (29, 4)
    first = (part.keys.subaction[idx[:, 0]] == 1) & (part.keys.frame[idx[:, 0]] == 0)
    assert not first.any()


@pytest.mark.parametrize("mode", ["known", "pooled", "per-frame"])
def test_exact_2d_gives_the_ground_truth_targets_in_every_mode(toy, mode):
    targets, ok = pseudo_label_targets(toy, toy.poses_2d, mode, 32)
    assert ok.all()
    np.testing.assert_allclose(targets, gt_targets(toy, 32, 0), atol=1e-5)


def test_noisy_2d_ranks_known_then_pooled_then_per_frame_and_stays_close(toy):
    uv = toy.poses_2d + np.random.default_rng(0).normal(0, 3.0, toy.poses_2d.shape)
    gt = gt_targets(toy, 32, 0)
    err = {m: np.nanmean(np.abs(pseudo_label_targets(toy, uv, m, 32)[0] - gt)[..., 2])
           for m in ("known", "pooled", "per-frame")}
    assert err["known"] <= err["pooled"] * 1.2 < err["per-frame"] * 1.2
    assert err["pooled"] < 0.02  # < 0.64 crop px of depth at 32 px


def test_missing_views_give_unlabelled_samples(toy):
    uv = toy.poses_2d.copy()
    uv[:4] = np.nan  # every view of the first instant lost
    targets, ok = pseudo_label_targets(toy, uv, "pooled", 32)
    assert not ok[:4].any() and np.isnan(targets[:4]).all() and ok[4:].all()

"""EpipolarPose refinement unit: architecture per PAPER.md, seeded training, storage, the
MoCap route (virtual cameras + synthetic noise), and that it lowers a self-supervised-like
model's error.

The self-supervised model's outputs are emulated by `add_structured_noise` (depth squash,
per-joint bias, joint noise): the reference trainer's smoke model is too weak on a toy set to
say anything; `posebench run epipolarpose-ss-ru` exercises the real route on synth.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.toydata import body_poses, toy_dataset
from reference_models.epipolarpose.refinement import (
    RefinementNet,
    RefinementUnit,
    add_structured_noise,
    fit_noise_model,
    flatten_relative,
    mocap_training_pairs,
    random_virtual_cameras,
    refine,
    train_refinement_unit,
    train_refinement_unit_mocap,
    unflatten_relative,
    virtual_camera_poses,
)

SMALL = {"width": 256, "epochs": 30, "dropout": 0.1, "batch_size": 256, "lr": 2e-3}


def mpjpe_rel(pred, gt):
    return float(np.linalg.norm((pred - pred[:, :1]) - (gt - gt[:, :1]), axis=-1).mean())


@pytest.fixture(scope="module")
def toy():
    return toy_dataset(frames=150, seed=5)


def test_architecture_matches_paper():
    D, w = 3 * 16, 1024
    net = RefinementNet(D, w)
    n = sum(p.numel() for p in net.parameters())
    dense = w * w + w + 2 * w                                   # Linear + BatchNorm
    expected = (D * w + w + 2 * w) + 4 * dense + (w * D + D) + (D * w + w) + 4 * dense + (
        w * D + D)
    assert n == expected
    net.eval()
    p1, p2 = net(torch.zeros(3, D))
    assert p1.shape == p2.shape == (3, D)
    assert isinstance(net.inp[2], torch.nn.ReLU) and net.inp[3].p == 0.5


def test_flatten_round_trip():
    poses = np.random.default_rng(0).normal(size=(4, 17, 3))
    flat = flatten_relative(poses, 0)
    assert flat.shape == (4, 48)
    np.testing.assert_allclose(unflatten_relative(flat, 0), poses - poses[:, :1])


def test_unit_lowers_structured_error_and_round_trips(toy, tmp_path):
    """The MoCap route: trained on varied world poses seen by random virtual cameras with
    structured noise, the unit lowers the emulated self-supervised errors of test poses seen by
    the real Human3.6M cameras (linear least squares reaches about half the error here)."""
    rng = np.random.default_rng(0)
    world = np.concatenate([body_poses(40, rng, rng.uniform(0.9, 1.1)) for _ in range(75)])
    noisy, clean = mocap_training_pairs(world, views=2, seed=0)
    assert noisy.shape == clean.shape == (6000, 17, 3)
    unit = train_refinement_unit_mocap(world, views=2, seed=0, config=SMALL, threads=1)
    test = toy["test"].poses_3d
    noisy_test = add_structured_noise(test, seed=1)
    before, after = mpjpe_rel(noisy_test, test), mpjpe_rel(unit.refine(noisy_test), test)
    assert after < 0.75 * before, (before, after)
    path = unit.save(tmp_path / "ru.npz")
    np.testing.assert_array_equal(refine(noisy_test, path), unit.refine(noisy_test))
    assert RefinementUnit.load(path).config.width == 256


def test_training_is_seeded(toy):
    train = toy["train"].poses_3d[:300]
    noisy = add_structured_noise(train, seed=0)
    assert noisy.shape == train.shape
    np.testing.assert_array_equal(noisy[:, 0], 0.0)              # root-relative
    cfg = {"width": 32, "epochs": 2}
    a = train_refinement_unit(noisy, train, config=cfg, seed=3, threads=1)
    b = train_refinement_unit(noisy, train, config=cfg, seed=3, threads=1)
    assert a.history == b.history
    np.testing.assert_array_equal(a.refine(noisy), b.refine(noisy))


def test_virtual_cameras_are_rotations_and_keep_bone_lengths():
    R = random_virtual_cameras(500, np.random.default_rng(0), elevation_deg=(0.0, 30.0))
    np.testing.assert_allclose(R @ np.swapaxes(R, 1, 2), np.broadcast_to(np.eye(3), R.shape),
                               atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(R), 1.0)
    up_in_cam = R @ np.array([0.0, 0.0, 1.0])
    assert np.all(up_in_cam[:, 1] < -0.8)                       # world up is image up (-y)
    assert np.all(up_in_cam[:, 2] <= 1e-12)                     # cameras at or above: look down
    world = body_poses(20, np.random.default_rng(1))
    cam = virtual_camera_poses(world, views=3, seed=0)
    bones = np.linalg.norm(world[:, 2] - world[:, 1], axis=-1)
    np.testing.assert_allclose(np.linalg.norm(cam[:, 2] - cam[:, 1], axis=-1),
                               np.repeat(bones, 3))


def test_noise_model_recovers_residual_statistics():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(20000, 4, 3)) * 100
    bias = np.array([0, 0, 0, 10, -5, 3, 0, 0, 7, 1, 1, 1], float)
    pred = gt.copy()
    pred[:, 1:] += (bias[3:] + rng.normal(size=(20000, 9)) * 4).reshape(-1, 3, 3)
    model = fit_noise_model(pred, gt, root=0)
    np.testing.assert_allclose(model.mean, bias[3:], atol=0.2)
    np.testing.assert_allclose(np.diag(model.chol @ model.chol.T), 16.0, rtol=0.05)
    noisy = model.sample(gt[:5000], seed=1)
    np.testing.assert_allclose((flatten_relative(noisy, 0) - flatten_relative(gt[:5000], 0))
                               .mean(0), bias[3:], atol=0.3)

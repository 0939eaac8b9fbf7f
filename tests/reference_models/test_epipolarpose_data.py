"""Depth representation: targets <-> camera mm round trip, scale invariance, x/z consistency."""

from __future__ import annotations

import numpy as np
import pytest

from reference_models.epipolarpose.data import (
    apply_affine,
    back_project,
    gt_targets,
    invert_affine,
    normalised_targets,
    sample_intrinsics,
)
from reference_models.epipolarpose.toy import make_split


@pytest.fixture(scope="module")
def toy():
    return make_split(6, seed=1, split="train", image_size=32)


def test_affine_inverse_round_trip(toy):
    uv = toy.poses_2d
    back = apply_affine(invert_affine(toy.crop_affine), apply_affine(toy.crop_affine, uv))
    np.testing.assert_allclose(back, uv, atol=1e-9)


def test_targets_back_project_to_ground_truth_with_gt_root_depth(toy):
    t = gt_targets(toy, 32, root=0)
    f, c = sample_intrinsics(toy)
    mm = back_project(t, toy.crop_affine, f, c, toy.poses_3d[:, 0, 2], 32)
    np.testing.assert_allclose(mm, toy.poses_3d, atol=1e-3)  # float32 targets: ~1e-5 mm


def test_depth_target_is_invariant_to_the_scene_scale(toy):
    f, _ = sample_intrinsics(toy)
    a = normalised_targets(toy.poses_2d, toy.poses_3d[..., 2], toy.crop_affine, f, 32, 0)
    b = normalised_targets(toy.poses_2d, 0.37 * toy.poses_3d[..., 2], toy.crop_affine, f, 32, 0)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_depth_and_image_offsets_share_units():
    # a root on the optical axis at 5 m; a joint 100 mm to the right and another 100 mm behind:
    # x_n of the first and z_n of the second are the same number (100/5000 * f_crop / S)
    f = np.array([[1000.0, 1000.0]])
    A = np.array([[[0.1, 0.0, 16.0 - 50.0], [0.0, 0.1, 16.0 - 50.0]]])  # crop 32 px, s=0.1
    X = np.array([[[0.0, 0.0, 5000.0], [100.0, 0.0, 5000.0], [0.0, 0.0, 5100.0]]])
    uv = X[..., :2] / X[..., 2:] * 1000.0 + 500.0
    t = normalised_targets(uv, X[..., 2], A, f, 32, 0)
    expected = 100.0 / 5000.0 * (1000.0 * 0.1) / 32
    assert t[0, 1, 0] - t[0, 0, 0] == pytest.approx(expected, rel=1e-6)
    assert t[0, 2, 2] == pytest.approx(expected, rel=1e-6)


def test_2d_only_samples_have_unlabelled_depth(toy):
    f, _ = sample_intrinsics(toy)
    t = normalised_targets(toy.poses_2d, None, toy.crop_affine, f, 32, 0)
    assert np.isnan(t[..., 2]).all() and np.isfinite(t[..., :2]).all()


def test_back_projection_undoes_lens_distortion(toy):
    """With Human3.6M-like distortion, exact targets come back to the ground truth only when
    the pixels are undistorted first (the official code's pinhole shortcut misses by mm)."""
    from dataclasses import replace

    from posebench.geometry.camera import project_with_table
    from reference_models.epipolarpose.evaluate import to_camera_mm
    from reference_models.epipolarpose.toy import crop_affines

    cams = replace(toy.cameras, k=np.tile([-0.207, 0.248, -0.003], (len(toy.cameras), 1)),
                   p=np.tile([-0.001, -0.0014], (len(toy.cameras), 1)), distortion="h36m")
    ds = replace(toy, cameras=cams)
    ds.poses_2d = project_with_table(ds.poses_3d, cams, ds.camera_index)
    ds.crop_affine = crop_affines(ds.poses_2d, 32)
    t = gt_targets(ds, 32, root=0)
    np.testing.assert_allclose(to_camera_mm(t, ds, 32), ds.poses_3d, atol=1e-3)
    f, c = sample_intrinsics(ds)
    pinhole = back_project(t, ds.crop_affine, f, c, ds.poses_3d[:, 0, 2], 32)
    assert np.abs(pinhole - ds.poses_3d).max() > 1.0   # the shortcut's error is real

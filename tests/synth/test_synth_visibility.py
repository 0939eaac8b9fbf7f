"""Visibility of synthetic 2D labels and placement of imported mocap in the capture volume."""

from __future__ import annotations

import numpy as np

from posebench.synth import rig
from posebench.synth.build import place_in_capture_volume, visibility_counts, visible_projection
from posebench.synth.render import crop_boxes


def test_joints_behind_or_outside_are_nan_and_counted():
    cams = rig.ring_cameras(2)  # pinhole, 1000 x 1000 px, f = 1150
    X = np.zeros((3, 4, 3))
    X[..., 2] = 4000.0
    X[0, 1] = [0.0, 0.0, -4000.0]      # behind the camera
    X[0, 2] = [0.0, 0.0, 50.0]         # on (nearly) the image plane
    X[1, 3] = [3000.0, 0.0, 4000.0]    # u = 500 + 1150 * 0.75 = 1362.5 px: outside
    X[2, 0] = [1730.0, 0.0, 4000.0]    # u = 999.4 px: inside
    uv, vis = visible_projection(X, cams, np.array([0, 1, 0]))
    assert vis.tolist() == [[True, False, False, True], [True, True, True, False],
                            [True, True, True, True]]
    assert np.isnan(uv[~vis]).all() and np.isfinite(uv[vis]).all()
    np.testing.assert_allclose(uv[2, 0], [500.0 + 1150.0 * 1730 / 4000, 500.0])
    counts = visibility_counts(~vis, np.array(["a", "b", "a"]), None)
    assert counts == {"a": {"joints": 2, "frames_any": 1, "frames_all": 0, "frames": 2},
                      "b": {"joints": 1, "frames_any": 1, "frames_all": 0, "frames": 1}}


def test_capture_placement_keeps_the_root_in_the_disc_and_motion_inside_it():
    T = 50
    J = np.zeros((T, 17, 3))
    J[:, 0, 0] = np.linspace(-3000, 3000, T)  # a 6 m walk along x
    J[:, 1:, :] = J[:, :1, :] + np.arange(1, 17)[None, :, None]  # rigid body offsets
    out = place_in_capture_volume(J, (0.0, 0.0), radius=1000.0)
    r = np.linalg.norm(out[:, 0, :2], axis=-1)
    assert r.max() <= 1000.0 + 1e-9
    inside = np.abs(J[:, 0, 0]) <= 1000.0
    np.testing.assert_array_equal(out[inside], J[inside])  # untouched inside the disc
    # the body shape is never changed, only shifted horizontally
    np.testing.assert_allclose(out - out[:, :1], J - J[:, :1])
    np.testing.assert_array_equal(out[..., 2], J[..., 2])


def test_crop_boxes_ignore_not_visible_joints():
    uv = np.array([[[100.0, 100.0], [200.0, 300.0], [np.nan, np.nan]],
                   [[np.nan, np.nan]] * 3])
    tl, side = crop_boxes(uv)
    ref_tl, ref_side = crop_boxes(uv[:1, :2])
    np.testing.assert_allclose(tl[0], ref_tl[0])
    np.testing.assert_allclose(side[0], ref_side[0])
    assert np.isfinite(tl).all() and side[1] == 32.0

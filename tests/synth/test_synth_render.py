"""Renderer geometry: drawn joints and limbs sit on the 2D labels of the crops."""

from __future__ import annotations

import numpy as np

from posebench.geometry.camera import project_with_table, world_to_camera
from posebench.synth import render as R
from posebench.synth.body import sample_body
from posebench.synth.motions import ACTION_NAMES, action_sequence
from posebench.synth.rig import capture_centre, h36m_cameras


def _views(n_frames=6, seed=0):
    """Poses of several actions seen by the 4 distorted Human3.6M cameras."""
    rng = np.random.default_rng(seed)
    cams = h36m_cameras("S9")
    body = sample_body(rng)
    J = np.concatenate([action_sequence(a, n_frames, body, rng, capture_centre(cams))
                        for a in ACTION_NAMES])
    ci = np.tile(np.arange(4), len(J))
    X_c = world_to_camera(np.repeat(J, 4, 0), cams.R[ci], cams.t[ci])
    return X_c, project_with_table(X_c, cams, ci), cams.take(ci), body


def test_rendered_joint_markers_agree_with_labels_at_64px():
    X_c, uv, cams, _ = _views()
    S = 64
    tl, side = R.crop_boxes(uv)
    A = R.crop_affines(tl, side, S)
    label = R.apply_affine(A, uv)                                  # (N, 17, 2) crop px
    marker_px = 1.6 / A[:, 0, 0]                                   # 1.6 crop px radius
    errors = []
    for j in range(17):                       # one marker per render: no mutual occlusion
        ends = np.repeat(uv[:, j, None, None, :], 2, axis=2)      # (N, 1, 2, 2) image px
        r = np.repeat(marker_px[:, None, None], 2, axis=2)
        z = np.repeat(X_c[:, j, None, None, 2], 2, axis=2)
        _, ids = R.render(ends, r, z, np.zeros_like(z), np.ones((1, 3)), A, S,
                          return_ids=True)
        ii, jj = np.mgrid[0:S, 0:S]
        m = ids == 0
        cnt = m.sum((1, 2))
        inside = (label[:, j, 0] > 2) & (label[:, j, 0] < S - 3) & (label[:, j, 1] > 2) \
            & (label[:, j, 1] < S - 3)
        cx = (m * jj).sum((1, 2)) / np.maximum(cnt, 1)
        cy = (m * ii).sum((1, 2)) / np.maximum(cnt, 1)
        errors.append(np.hypot(cx - label[:, j, 0], cy - label[:, j, 1])[inside & (cnt > 0)])
    err = np.concatenate(errors)
    assert len(err) > 0.95 * len(uv) * 17          # nearly every joint was drawn in the crop
    assert err.mean() < 0.5 and np.percentile(err, 99) < 1.0


def test_limb_pixels_lie_on_labelled_bones():
    """Every visible pixel of a limb is within its drawn radius of the labelled 2D bone."""
    X_c, uv, cams, body = _views(n_frames=3, seed=1)
    S = 64
    tl, side = R.crop_boxes(uv)
    A = R.crop_affines(tl, side, S)
    radii = np.array([[body.radii[k] for k in R.RADIUS_KEYS]]).repeat(len(X_c), 0)
    ends, rad = R.body_primitives(X_c, radii, None)
    puv, rpx, z = R.project_primitives(ends, rad, cams.f, cams.c, cams.k, cams.p, "h36m")
    _, ids = R.render(puv, rpx, z, rad, R.part_colours(body.colours), A, S, return_ids=True)
    label = R.apply_affine(A, uv)
    ii, jj = np.mgrid[0:S, 0:S]
    checked = 0
    for name, (a, b) in R.LIMB_JOINTS.items():
        q = R.PART_NAMES.index(name)
        pa, pb = label[:, a], label[:, b]
        d = pb - pa
        t = ((jj[None] - pa[:, 0, None, None]) * d[:, 0, None, None]
             + (ii[None] - pa[:, 1, None, None]) * d[:, 1, None, None])
        t = np.clip(t / np.maximum((d ** 2).sum(-1), 1e-9)[:, None, None], 0, 1)
        dist = np.hypot(jj[None] - pa[:, 0, None, None] - t * d[:, 0, None, None],
                        ii[None] - pa[:, 1, None, None] - t * d[:, 1, None, None])
        rmax = (rpx[:, q].max(-1) * A[:, 0, 0])[:, None, None]
        m = ids == q
        assert np.all(dist[m] <= np.broadcast_to(rmax, dist.shape)[m] + 0.75)
        checked += m.sum()
    assert checked > 1000


def test_left_and_right_limbs_have_different_colours():
    body = sample_body(np.random.default_rng(3))
    col = R.part_colours(body.colours)
    for part in ("upper_arm", "forearm", "thigh", "shin"):
        left, right = col[R.PART_NAMES.index("l_" + part)], col[R.PART_NAMES.index("r_" + part)]
        assert np.abs(left - right).sum() > 0.3
        assert left[0] > right[0] and right[2] > left[2]     # red-ish left, blue-ish right


def test_crop_affine_maps_box_corners_to_crop_edges():
    tl = np.array([[100.0, 50.0]])
    side = np.array([400.0])
    A = R.crop_affines(tl, side, 64)
    corners = R.apply_affine(A, np.array([[[100.0, 50.0], [500.0, 450.0]]]))
    np.testing.assert_allclose(corners[0], [[-0.5, -0.5], [63.5, 63.5]])


def test_nearer_primitive_wins_the_zbuffer():
    uv = np.array([[[[10.0, 32.0], [54.0, 32.0]], [[32.0, 10.0], [32.0, 54.0]]]])
    r = np.full((1, 2, 2), 4.0)
    A = R.crop_affines(np.zeros((1, 2)), np.array([64.0]), 64)
    for near, z in ((0, [1000.0, 2000.0]), (1, [2000.0, 1000.0])):
        depth = np.array(z)[None, :, None].repeat(2, -1)
        _, ids = R.render(uv, r, depth, np.full((1, 2, 2), 50.0), np.eye(3)[:2], A, 64,
                          return_ids=True)
        assert ids[0, 32, 32] == near

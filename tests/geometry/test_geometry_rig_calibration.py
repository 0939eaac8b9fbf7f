"""Joint rig calibration (rotation averaging + bundle adjustment) and its conditioning flags."""

from __future__ import annotations

import numpy as np

from posebench.geometry.camera import intrinsic_matrix, project, undistort_points, world_to_camera
from posebench.geometry.rig_calibration import average_rotations, calibrate_rig
from posebench.geometry.rotations import relative_extrinsics, rodrigues, rotation_angle_deg
from posebench.geometry.two_view import REASONS
from posebench.metrics import p_mpjpe
from posebench.synth.scenes import h36m_rig, random_sequences

RIG = h36m_rig("S1")
K = intrinsic_matrix(RIG["f"], RIG["c"])


def observe(Xw, noise, rng):
    Xc = world_to_camera(Xw[:, None], RIG["R"], RIG["t"])
    uv = project(Xc, RIG["f"], RIG["c"], RIG["k"], RIG["p"], "h36m")
    uv = uv + rng.normal(size=uv.shape) * noise
    return undistort_points(uv, RIG["f"], RIG["c"], RIG["k"], RIG["p"], "h36m")


def true_relative(pairs):
    return relative_extrinsics(RIG["R"][pairs[:, 0]], RIG["t"][pairs[:, 0]],
                               RIG["R"][pairs[:, 1]], RIG["t"][pairs[:, 1]])


def test_exact_data_recovers_the_rig_and_the_points():
    rng = np.random.default_rng(0)
    Xw = random_sequences(1, 40, rng)[0]
    cal = calibrate_rig(observe(Xw, 0.0, rng), K)
    R, t = cal.relative()
    Rg, tg = true_relative(cal.pairs)
    assert (cal.pair_reason == 0).all() and cal.view_ok.all()
    assert rotation_angle_deg(R, Rg).max() < 1e-6
    np.testing.assert_allclose(t, tg / np.linalg.norm(tg, axis=-1, keepdims=True), atol=1e-7)
    # the bundle-adjusted joints equal the truth up to a similarity
    assert p_mpjpe(cal.points, Xw).max() < 1e-5
    assert cal.info["reprojection_rms_px"] < 1e-6


def test_bundle_beats_pairwise_and_its_uncertainty_is_honest():
    rng = np.random.default_rng(1)
    err_b, err_p, std = [], [], []
    for Xw in random_sequences(3, 60, rng):
        cal = calibrate_rig(observe(Xw, 2.0, rng), K)
        Rg, _ = true_relative(cal.pairs)
        err_b.append(rotation_angle_deg(cal.relative()[0], Rg))
        err_p.append(rotation_angle_deg(cal.pair_R_pairwise, Rg))
        std.append(cal.pair_rot_std_deg)
        assert (cal.pair_reason == 0).all()
    err_b, err_p, std = map(np.concatenate, (err_b, err_p, std))
    assert np.median(err_b) < 0.8 * np.median(err_p)
    # the covariance is an honest error bar: errors within 4 sigma, sigma not absurdly large
    assert (err_b < 4 * std).all() and np.median(std) < 1.0


def test_rotation_averaging_drops_a_gross_edge():
    rng = np.random.default_rng(2)
    V = 4
    Rabs = rodrigues(rng.normal(size=(V, 3)))
    Rabs = Rabs @ Rabs[0].T  # reference view 0 has the identity
    pairs = np.array([(a, b) for a in range(V) for b in range(a + 1, V)])
    Rrel = Rabs[pairs[:, 1]] @ np.swapaxes(Rabs[pairs[:, 0]], -1, -2)
    Rrel[2] = rodrigues(np.array([0.0, np.pi / 2, 0.0])) @ Rrel[2]  # a 90 deg failure
    w = np.ones(len(pairs))
    w[2] = 10.0  # even when it is the "best" edge
    R, reached, used = average_rotations(V, pairs, Rrel, w, ref=0)
    assert reached.all() and not used[2] and used.sum() == len(pairs) - 1
    assert rotation_angle_deg(R, Rabs).max() < 1e-8


def test_flags_carry_reasons_and_conditioning_figures():
    rng = np.random.default_rng(3)
    Xw = random_sequences(1, 40, rng)[0]
    x = observe(Xw, 2.0, rng)
    # a camera that never sees the person: its pairs fail with a reason, the others calibrate
    blind = x.copy()
    blind[:, 3] = np.nan
    cal = calibrate_rig(blind, K)
    has3 = (cal.pairs == 3).any(1)
    assert not cal.view_ok[3] and cal.view_ok[:3].all()
    assert (cal.pair_reason[has3] == REASONS.index("few_visible")).all()
    assert (cal.pair_reason[~has3] == 0).all()
    # a person standing perfectly still: the motion figure says so; with a strict uncertainty
    # limit the sequence is flagged little_motion instead of returning a confident rotation
    still = np.broadcast_to(Xw[:1], Xw.shape)
    cal_s = calibrate_rig(observe(still, 2.0, rng), K, max_rot_std_deg=0.05)
    cal_m = calibrate_rig(x, K, max_rot_std_deg=0.05)
    assert cal_s.info["motion"] < 0.05 < cal_m.info["motion"]
    assert np.isfinite(cal_s.pair_rot_std_deg).all() and (cal_s.pair_rot_std_deg > 0.05).all()
    assert (cal_s.pair_reason == REASONS.index("little_motion")).all()
    # too few frames: nothing to calibrate from, flagged, never raises
    few = calibrate_rig(x[:1, :, :5], K)
    assert not (few.pair_reason == 0).any()

"""PSS behaves as the EpipolarPose paper's Figure 4 argues, measured on synthetic poses:
at equal MPJPE, structural errors lower PSS@50 far more than Gaussian joint noise."""

from __future__ import annotations

import numpy as np
import pytest

from posebench.synth.body import sample_body
from posebench.synth.motions import ACTION_NAMES, action_sequence

pss_mod = pytest.importorskip("posebench.metrics.pss",
                              reason="posebench.metrics.pss (PoseStructureScore) not available")


def _poses(subjects, frames, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(subjects):
        body = sample_body(rng)
        out += [action_sequence(a, frames, body, rng) for a in ACTION_NAMES]
    P = np.concatenate(out)
    return P - P[:, :1]                                  # root-relative, mm


def _mpjpe(a, b):
    return np.linalg.norm(a - b, axis=-1).mean(-1)


def _structural(gt, rng):
    """Per pose one of: mirrored arm (elbow+wrist reflected through the shoulder), bent spine
    (thorax and above rotated 60 degrees about the spine joint), swapped left/right arms."""
    pred = gt.copy()
    kind = rng.integers(0, 3, len(gt))
    n = np.arange(len(gt))
    m = kind == 0
    for j in (12, 13):
        pred[m, j] = 2 * gt[m, 11] - gt[m, j]
    m = kind == 1
    c, s = np.cos(np.radians(60)), np.sin(np.radians(60))
    Rx = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    upper = [8, 9, 10, 11, 12, 13, 14, 15, 16]
    pred[np.ix_(n[m], upper)] = (gt[np.ix_(n[m], upper)] - gt[m, None, 7]) @ Rx.T \
        + gt[m, None, 7]
    m = kind == 2
    arms_l, arms_r = [11, 12, 13], [14, 15, 16]
    pred[np.ix_(n[m], arms_l)], pred[np.ix_(n[m], arms_r)] = \
        gt[np.ix_(n[m], arms_r)], gt[np.ix_(n[m], arms_l)]
    return pred


def test_structural_errors_lower_pss_far_more_than_noise_at_equal_mpjpe():
    train = _poses(subjects=4, frames=120, seed=0)
    gt = _poses(subjects=2, frames=60, seed=1)
    pss = pss_mod.PoseStructureScore(k=50, seed=0).fit(train)
    rng = np.random.default_rng(2)
    structural = _structural(gt, rng)
    target = _mpjpe(structural, gt)                                  # (N,) mm
    noise = rng.normal(size=gt.shape)
    noise[:, 0] = 0
    noisy = gt + noise * (target / np.maximum(_mpjpe(gt + noise, gt), 1e-9))[:, None, None]
    np.testing.assert_allclose(_mpjpe(noisy, gt), target, rtol=1e-9)   # equal MPJPE per pose
    assert target.mean() > 50
    s_struct, s_noise = pss.score(structural, gt), pss.score(noisy, gt)
    assert pss.score(gt, gt) == 1.0
    assert s_noise - s_struct > 0.2, (s_noise, s_struct)
    assert s_struct < 0.75 * s_noise

"""Pseudo-labels over 4 views: exact recovery in every mode, scale convention, failures."""

import numpy as np
import pytest

from posebench.errors import InputError
from posebench.geometry.camera import project, world_to_camera
from posebench.geometry.pseudo_labels import ViewCameras, normalise_scale, pseudo_labels
from posebench.geometry.report import quality_report
from posebench.metrics import n_mpjpe, p_mpjpe
from posebench.synth.scenes import h36m_rig, random_sequences

RIG = h36m_rig("S1")
CAMS = ViewCameras(RIG["f"], RIG["c"], RIG["k"], RIG["p"], "h36m", RIG["R"], RIG["t"])


def scene(n_seq=2, frames=10, seed=0):
    Xw = random_sequences(n_seq, frames, np.random.default_rng(seed)).reshape(-1, 17, 3)
    Xc = world_to_camera(Xw[:, None], RIG["R"], RIG["t"])  # (G, 4, 17, 3)
    uv = project(Xc, RIG["f"], RIG["c"], RIG["k"], RIG["p"], "h36m")
    return Xc, uv, np.repeat(np.arange(n_seq), frames)


@pytest.mark.parametrize("mode", ["per-frame", "pooled"])
def test_unknown_scale_modes_exact(mode):
    Xc, uv, seq = scene()
    res = pseudo_labels(uv, CAMS, mode=mode, sequence_ids=seq)
    assert res.ok.all() and (res.reason == "ok").all() and res.pair_ok.all()
    gt, _ = normalise_scale(Xc)
    np.testing.assert_allclose(res.poses_3d, gt, atol=1e-9)
    # scale convention: root-centred pose has unit RMS distance to the root
    d = res.poses_3d - res.poses_3d[..., :1, :]
    np.testing.assert_allclose(np.sqrt((d ** 2).sum(-1).mean(-1)), 1.0, atol=1e-12)
    rep = quality_report(res, Xc, np.broadcast_to(RIG["R"], (len(Xc), 4, 3, 3)),
                         np.broadcast_to(RIG["t"], (len(Xc), 4, 3)), seconds=1.0)
    assert rep["pairs"] == len(Xc) * 6 and rep["failed_pairs"] == 0
    assert rep["rotation_error_deg_median"] < 1e-8
    assert rep["p_mpjpe_mm"] < 1e-6 and rep["n_mpjpe_mm"] < 1e-6


@pytest.mark.parametrize("method", ["dlt", "pairwise-median"])
def test_known_mode_exact_in_mm(method):
    Xc, uv, _ = scene(1, 5)
    res = pseudo_labels(uv, CAMS, mode="known", known_method=method)
    assert res.ok.all()
    np.testing.assert_allclose(res.poses_3d, Xc, atol=1e-6)


def test_noise_pooled_beats_per_frame_and_known_is_best():
    Xc, uv, seq = scene(2, 30, 1)
    rng = np.random.default_rng(0)
    noisy = uv + rng.normal(size=uv.shape) * 2.0
    err = {}
    for mode, method, cal in (("per-frame", "dlt", "bundle"), ("pooled", "dlt", "pairwise"),
                              ("known", "dlt", "bundle"), ("known", "pairwise-median", "bundle"),
                              ("pooled", "dlt", "bundle")):
        res = pseudo_labels(noisy, CAMS, mode=mode, sequence_ids=seq, known_method=method,
                            calibration=cal)
        sel = res.ok
        assert sel.all() or mode == "per-frame"
        err[mode, method, cal] = p_mpjpe(res.poses_3d[sel], Xc[sel]).mean()
    known_dlt, known_pm = err["known", "dlt", "bundle"], err["known", "pairwise-median", "bundle"]
    pairwise, bundle = err["pooled", "dlt", "pairwise"], err["pooled", "dlt", "bundle"]
    # 4-view DLT < pairwise median with true cameras < pairwise pooled < per-frame; pairwise
    # pooled close to the same pairwise combination with true cameras
    assert known_dlt < known_pm < pairwise
    assert pairwise < err["per-frame", "dlt", "bundle"] / 2
    assert pairwise < 1.5 * known_pm
    # the jointly calibrated rig triangulates from all views at once: as good as known cameras
    assert bundle <= 1.05 * known_dlt


def test_missing_view_and_nan_joints():
    Xc, uv, seq = scene(1, 6)
    uv = uv.copy()
    uv[0, 3] = np.nan  # view 3 missing in group 0
    uv[1, :, [4, 12]] = np.nan  # two joints missing everywhere in group 1
    uv[2, 1, :10] = np.nan  # view 1 of group 2 has too few joints
    res = pseudo_labels(uv, CAMS, mode="per-frame")
    assert not res.ok[0, 3] and res.reason[0, 3] == "too_few_points"
    assert res.ok[0, :3].all() and np.isnan(res.poses_3d[0, 3]).all()
    assert res.ok[1].all() and np.isnan(res.poses_3d[1, :, [4, 12]]).all()
    assert not res.ok[2, 1] and res.reason[2, 1] == "too_few_points"
    gt, _ = normalise_scale(Xc[0, :3])
    np.testing.assert_allclose(res.poses_3d[0, :3], gt, atol=1e-9)


def test_input_errors():
    _, uv, _ = scene(1, 2)
    with pytest.raises(InputError):  # 1 view of 2D, 4 cameras
        pseudo_labels(uv[:, :1], CAMS, mode="per-frame")
    one = pseudo_labels(uv[:, :1], ViewCameras(RIG["f"][:1], RIG["c"][:1]), mode="per-frame")
    assert not one.ok.any() and (one.reason == "not_enough_views").all()
    with pytest.raises(InputError):
        pseudo_labels(uv, CAMS, mode="pooled")
    with pytest.raises(InputError):
        pseudo_labels(uv, ViewCameras(RIG["f"], RIG["c"]), mode="known")


def test_report_metrics_reference_values():
    rng = np.random.default_rng(2)
    gt = rng.normal(size=(3, 17, 3)) * 300
    c, s = np.cos(0.7), np.sin(0.7)
    R = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    pred = 0.01 * gt @ R.T + 50.0  # similarity transform of gt
    np.testing.assert_allclose(p_mpjpe(pred, gt), 0.0, atol=1e-9)
    np.testing.assert_allclose(n_mpjpe(0.01 * gt, gt), 0.0, atol=1e-9)
    shifted = gt.copy()
    shifted[:, 5] += [10.0, 0, 0]
    # one joint off by 10 mm in an otherwise aligned pose: N-MPJPE close to 10/17 mm
    assert abs(n_mpjpe(shifted, gt).mean() - 10 / 17) < 0.2

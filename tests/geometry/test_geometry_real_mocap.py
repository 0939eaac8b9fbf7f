"""Real motion capture (Bandai dataset-1, shared fixture) imported with its original
trajectory: people walk out of the images and behind cameras. Every geometry mode runs
through the CLI without a traceback and counts its flags in the report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from posebench.cli import main
from posebench.io import load_npz

#: clips that leave the capture volume (walk 4-10 m, dash) and a nearly static one (bow)
CLIPS = ("dataset-1_walk-left_active_001", "dataset-1_dash_active_001",
         "dataset-1_walk_normal_001", "dataset-1_bow_active_001")


def _few_clips(shared_fixtures, out):
    a = np.load(shared_fixtures / "mocap" / "converted" / "bandai_ds1.npz")
    keep = [int(np.flatnonzero(a["clip_names"] == n)[0]) for n in CLIPS]
    sel = np.concatenate([np.flatnonzero(a["clip_id"] == c) for c in keep])
    cid = np.searchsorted(keep, a["clip_id"][sel]) if keep == sorted(keep) else \
        np.array([keep.index(c) for c in a["clip_id"][sel]])
    np.savez(out, joints3d=a["joints3d"][sel], clip_id=cid,
             clip_names=a["clip_names"][keep], clip_fps=a["clip_fps"][keep],
             clip_action=a["clip_action"][keep])
    return out


def test_imported_mocap_original_trajectory_all_modes(shared_fixtures, tmp_path, capsys):
    npz = _few_clips(shared_fixtures, tmp_path / "clips.npz")
    assert main(["data", "synth", "--poses", f"npz:{npz}", "--no-images", "--subjects", "2",
                 "--frames-per-action", "80", "--trajectory", "original", "--name", "orig"]) == 0
    printed = capsys.readouterr().out
    # data synth reports per camera how many joints / frames are not visible
    assert "joints not visible" in printed
    hidden = [int(line.split(": ")[1].split()[0]) for line in printed.splitlines()
              if line.strip().startswith("camera")]
    assert len(hidden) == 8 and sum(hidden) > 0
    from posebench.data.registry import load_dataset

    ds = load_dataset("orig", "train")
    nan2d = ~np.isfinite(ds.poses_2d).all(-1)
    assert nan2d.sum() == sum(hidden[:4])
    # behind-camera joints are never labelled; visible labels lie inside the image
    assert not (ds.poses_3d[..., 2] <= 100.0)[~nan2d].any()
    ci = ds.camera_index
    u, v = ds.poses_2d[..., 0], ds.poses_2d[..., 1]
    w, h = ds.cameras.width[ci][:, None], ds.cameras.height[ci][:, None]
    assert ((u >= 0) & (u < w) & (v >= 0) & (v < h))[~nan2d].all()

    for mode in ("known", "per-frame", "pooled"):
        out, rep = tmp_path / f"{mode}.npz", tmp_path / f"{mode}.json"
        rc = main(["geometry", "pseudo-labels", "--dataset", "orig", "--split", "train",
                   "--gt-2d", "--noise-px", "2", "--mode", mode, "--out", str(out),
                   "--report", str(rep)])
        assert rc == 0, capsys.readouterr().err
        r = json.loads(rep.read_text())
        a = load_npz(out)
        # flags are counted: view reasons sum to all views, failures carry reasons
        assert sum(r["view_reasons"].values()) == r["groups"] * r["views"]
        assert r["views_failed"] == r["groups"] * r["views"] - r["view_reasons"].get("ok", 0)
        assert r["views_failed"] > 0  # people out of view cannot all be labelled
        assert np.isnan(a["poses_3d"][~a["ok"]]).all()
        assert np.isfinite(a["poses_3d"][a["ok"]][:, 0]).all()
        assert set(np.unique(a["reason"][~a["ok"]])) - {"ok"}
        # no label of a root behind its camera
        assert (a["poses_3d"][a["ok"]][:, 0, 2] > 0).all()
        if mode == "pooled":
            cal = r["calibration"]
            assert cal["sequence_pairs"] == r["pairs"] // (r["groups"] // cal["sequences"]) \
                or cal["sequence_pairs"] > 0
            assert sum(cal["pair_reasons"].values()) == cal["sequence_pairs"]
            for f in cal["flagged"]:
                assert f["reason"] != "ok" and "frames_both" in f and "motion" in f
        if mode == "known":
            assert r["p_mpjpe_mm"] < 40.0


@pytest.mark.parametrize("trajectory", ["capture"])
def test_imported_mocap_is_placed_in_the_capture_volume(shared_fixtures, tmp_path, capsys,
                                                        trajectory):
    npz = _few_clips(shared_fixtures, tmp_path / "clips.npz")
    assert main(["data", "synth", "--poses", f"npz:{npz}", "--no-images", "--subjects", "2",
                 "--frames-per-action", "80", "--name", "cap"]) == 0
    printed = capsys.readouterr().out
    hidden = [int(line.split(": ")[1].split()[0]) for line in printed.splitlines()
              if line.strip().startswith("camera")]
    assert hidden == [0] * 8
    from posebench.data.registry import load_dataset
    from posebench.synth import rig

    ds = load_dataset("cap", "train")
    assert np.isfinite(ds.poses_2d).all()
    # world roots stay within 1 m of the rig centre (camera frame -> world)
    Rm, t = ds.cameras.R[ds.camera_index], ds.cameras.t[ds.camera_index]
    root_w = np.einsum("nji,nj->ni", Rm, ds.poses_3d[:, 0] - t)
    centre = rig.capture_centre(rig.h36m_cameras("S1"))
    assert np.linalg.norm(root_w[:, :2] - centre, axis=-1).max() <= 1000.0 + 1e-6

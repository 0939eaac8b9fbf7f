"""`posebench geometry pseudo-labels` on a tiny 4-camera dataset written in canonical form."""

import json

import numpy as np
import pytest

from posebench.cli import main
from posebench.data.dataset import CameraTable, PoseDataset, SampleKeys, write_dataset
from posebench.geometry.camera import project, world_to_camera
from posebench.io import load_npz
from posebench.synth.scenes import h36m_rig, random_sequences


def tiny_dataset(root, frames=12):
    rig = h36m_rig("S1")
    Xw = random_sequences(2, frames, np.random.default_rng(0))  # 2 sequences
    cams = CameraTable(rig["ids"], rig["f"], rig["c"], rig["k"], rig["p"], rig["R"], rig["t"],
                       np.full(4, 1000), np.full(4, 1000), "h36m")
    rows = {k: [] for k in ("subject", "action", "subaction", "camera", "frame", "ci", "X")}
    for s in range(2):
        for f in range(frames):
            for v in range(4):
                rows["subject"].append("S1")
                rows["action"].append("Walking")
                rows["subaction"].append(s + 1)
                rows["camera"].append(rig["ids"][v])
                rows["frame"].append(f)
                rows["ci"].append(v)
                rows["X"].append(world_to_camera(Xw[s, f], rig["R"][v], rig["t"][v]))
    X = np.array(rows["X"])
    ci = np.array(rows["ci"])
    uv = project(X, rig["f"][ci], rig["c"][ci], rig["k"][ci], rig["p"][ci], "h36m")
    keys = SampleKeys(rows["subject"], rows["action"], rows["subaction"], rows["camera"],
                      rows["frame"])
    ds = PoseDataset("tiny", "train", "h36m17", X, uv, keys, ci, cams).sorted()
    write_dataset(root, {"train": ds}, kind="test")
    return ds


@pytest.mark.parametrize("mode", ["pooled", "per-frame", "known"])
def test_cli_pseudo_labels(tmp_path, capsys, mode):
    ds = tiny_dataset(tmp_path / "tiny")
    out, rep = tmp_path / "labels.npz", tmp_path / "report.json"
    rc = main(["geometry", "pseudo-labels", "--dataset", str(tmp_path / "tiny"), "--split",
               "train", "--gt-2d", "--mode", mode, "--out", str(out), "--report", str(rep)])
    assert rc == 0
    a = load_npz(out)
    report = json.loads(rep.read_text())
    assert json.loads(capsys.readouterr().out) == report
    assert a["poses_3d"].shape == (len(ds), 17, 3) and a["ok"].all()
    np.testing.assert_array_equal(a["camera"], ds.keys.camera)
    assert report["pairs"] == 24 * 6 and report["failed_pairs"] == 0
    assert report["p_mpjpe_mm"] < 1e-6 and report["n_mpjpe_mm"] < 1e-6
    if mode == "known":
        np.testing.assert_allclose(a["poses_3d"], ds.poses_3d, atol=1e-6)
    else:
        assert report["rotation_error_deg_median"] < 1e-6


def test_cli_noise_detections_and_errors(tmp_path, capsys):
    ds = tiny_dataset(tmp_path / "tiny")
    out, rep = tmp_path / "labels.npz", tmp_path / "report.json"
    base = ["geometry", "pseudo-labels", "--dataset", str(tmp_path / "tiny"), "--out", str(out)]
    assert main(base + ["--noise-px", "2", "--seed", "1", "--report", str(rep),
                        "--n-jobs", "2"]) == 0
    r1 = json.loads(rep.read_text())
    assert 1.0 < r1["p_mpjpe_mm"] < 60.0 and r1["noise_px"] == 2.0
    assert main(base + ["--noise-px", "2", "--seed", "1", "--report", str(rep)]) == 0
    assert json.loads(rep.read_text())["p_mpjpe_mm"] == pytest.approx(r1["p_mpjpe_mm"])
    # detections file: wrong shape is one clear error line, exit 2, nothing written
    det = tmp_path / "det.npz"
    np.savez(det, poses_2d=np.zeros((3, 17, 2)))
    out.unlink()
    capsys.readouterr()
    assert main(base + ["--detections", str(det)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "expected" in err and not out.exists()
    np.savez(det, poses_2d=ds.poses_2d)
    assert main(base + ["--detections", str(det), "--mode", "per-frame"]) == 0

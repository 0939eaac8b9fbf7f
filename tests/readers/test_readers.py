"""Each codebase's output, written from the ground truth exactly as it lays it out, reads back
to 0 mm; wrong trials, permutations and foreign layouts are caught or move the number as
expected."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import reader_layouts as L  # noqa: E402

from posebench.cli import main  # noqa: E402

NO_PSS = ["--no-pss", "--format", "json"]


def _eval(args, capsys) -> tuple[int, dict | None, str]:
    rc = main(["eval", *args])
    out, err = capsys.readouterr()
    return rc, (json.loads(out) if rc == 0 and out.lstrip().startswith("{") else None), err


def test_videopose3d_nested_dict_reads_back_to_zero(h36m, tmp_path, capsys):
    root, world = h36m
    f = L.write_videopose3d(tmp_path / "vp3d_predictions.npz", world)
    rc, rec, err = _eval([str(f), "--from", "videopose3d", "--dataset", str(root), *NO_PSS],
                         capsys)
    assert rc == 0, err
    assert rec["metrics"]["mpjpe"] < 1e-3 and rec["metrics"]["p_mpjpe"] < 1e-3
    ra = rec["predictions"]["read_as"]
    assert ra["layout"] == "videopose3d" and ra["units"] == "metres -> mm"
    assert ra["basenames"]["S11 Greeting 2"] == "Greeting trial 1"
    assert ra["basenames"]["S11 Greeting"] == "Greeting trial 2"
    assert rec["coverage"]["covered"] == rec["coverage"]["expected"] == 4 * 4 * L.T


def test_directions_1_trap_suffix_is_not_the_trial(h36m, tmp_path, capsys):
    """Reading 'Greeting 2' as trial 2 swaps S11's two Greeting trials: a different score
    (with S9's 'Greeting' -> trial 1 not even existing); posebench's mapping gives 0 mm."""
    root, world = h36m
    naive = L.write_naive_posebench(tmp_path / "naive.npz", world, subjects=("S11",))
    right = L.write_videopose3d(tmp_path / "vp3d.npz", world, subjects=("S11",))
    rc, rec_naive, err = _eval([str(naive), "--dataset", str(root), "--allow-partial",
                                *NO_PSS], capsys)
    assert rc == 0, err
    rc, rec_right, err = _eval([str(right), "--from", "videopose3d", "--dataset", str(root),
                                "--allow-partial", *NO_PSS], capsys)
    assert rc == 0, err
    assert rec_right["metrics"]["mpjpe"] < 1e-3
    assert rec_naive["coverage"] == rec_right["coverage"]
    # swapped trials: the naive number is the error between the two different motions
    a = L.camera_mm("S11", world["S11"]["Greeting 2"])
    b = L.camera_mm("S11", world["S11"]["Greeting"])
    a, b = a - a[:, :, :1], b - b[:, :, :1]
    expected = np.linalg.norm(a - b, axis=-1).mean()
    assert rec_naive["metrics"]["mpjpe"] == pytest.approx(expected, rel=1e-6)
    assert rec_naive["metrics"]["mpjpe"] > 100
    # the full naive file (S9 too) names a trial S9 does not have: caught, one sentence
    full = L.write_naive_posebench(tmp_path / "naive_full.npz", world)
    rc, _, err = _eval([str(full), "--dataset", str(root), *NO_PSS], capsys)
    assert rc == 2 and "subaction" in err and err.count("\n") == 1


def test_permuted_joints_are_caught_with_the_swap_named(h36m, tmp_path, capsys):
    from posebench.skeletons import get_skeleton

    root, world = h36m
    perm = get_skeleton("h36m17").flip_permutation()
    f = L.write_videopose3d(tmp_path / "flipped.npz", world, perm=perm)
    rc, rec, err = _eval([str(f), "--from", "videopose3d", "--dataset", str(root), *NO_PSS],
                         capsys)
    # the frame check (posebench.frame_check) sees that swapping left and right fits exactly
    assert rc == 2 and err.count("\n") == 1
    assert "left and right joints are swapped" in err
    assert str(perm.tolist()).replace(" ", "") in err.replace(" ", "")


def test_mmpose_dump_reads_back_to_zero(h36m, tmp_path, capsys):
    root, world = h36m
    f = L.write_mmpose_dump(tmp_path / "mmpose_preds.pkl", world)
    rc, rec, err = _eval([str(f), "--from", "mmpose", "--dataset", str(root), *NO_PSS], capsys)
    assert rc == 0, err
    assert rec["metrics"]["mpjpe"] < 1e-3
    assert rec["predictions"]["read_as"]["layout"] == "mmpose (1.x --dump data samples)"


def test_mmpose_dump_with_torch_objects_is_refused(h36m, tmp_path, capsys):
    root, _ = h36m
    f = tmp_path / "dump.pkl"
    # a class outside numpy/builtins stands for torch.Tensor (not importable here)
    import collections

    f.write_bytes(pickle.dumps([{"pred_instances": collections.Counter(a=1)}]))
    rc, _, err = _eval([str(f), "--from", "mmpose", "--dataset", str(root), *NO_PSS], capsys)
    assert rc == 2 and "collections.Counter" in err and err.count("\n") == 1


def test_motionbert_clips_read_back_to_zero_and_report_the_tail(h36m, tmp_path, capsys):
    root, world = h36m
    f = L.write_motionbert(tmp_path / "motionbert_h36m.npz", world)
    rc, _, err = _eval([str(f), "--from", "motionbert", "--dataset", str(root), *NO_PSS],
                       capsys)
    assert rc == 2 and "missing" in err  # the 7 tail frames of every video are in no clip
    rc, rec, err = _eval([str(f), "--from", "motionbert", "--dataset", str(root),
                          "--allow-partial", *NO_PSS], capsys)
    assert rc == 0, err
    assert rec["metrics"]["mpjpe"] < 1e-3
    assert rec["coverage"]["covered"] == 4 * 4 * 243
    tr = rec["predictions"]["read_as"]["transformations"]
    assert any("normalised outputs denormalised" in t for t in tr)
    assert any(f"{4 * 4 * 7} of {4 * 4 * L.T} test frames in no clip" in t for t in tr)


def test_motionbert_denormalize_matches_its_formula():
    from posebench.readers.motionbert import denormalize, split_clips

    x = np.array([[[[0.0, 0.0, 0.1]]], [[[0.5, -0.2, 0.0]]]])
    out = denormalize(x, np.array(["54138969", "55011271"]))
    assert out[0, 0, 0].tolist() == pytest.approx([500.0, (0 + 1.002) * 500, 50.0])
    assert out[1, 0, 0].tolist() == pytest.approx([750.0, 400.0, 0.0])
    src = np.array(["a"] * 500 + ["b"] * 243)
    clips = split_clips(src)
    assert [c[0] for c in clips] == [0, 243, 500] and len(clips) == 3
    assert split_clips(np.array(["a"] * 10)) == [None]


def test_learnable_triangulation_world_frame_reads_back_to_zero(h36m, tmp_path, capsys):
    root, world = h36m
    res, labels = L.write_learnable_triangulation(tmp_path / "lt", world)
    args = [str(res), "--from", "learnable-triangulation", "--labels", str(labels),
            "--dataset", str(root)]
    rc, _, err = _eval([*args, *NO_PSS], capsys)
    assert rc == 2 and "S9|Greeting|2" in err  # the damaged S9 trial it drops: reported
    rc, rec, err = _eval([*args, "--allow-partial", *NO_PSS], capsys)
    assert rc == 0, err
    assert rec["metrics"]["mpjpe"] < 1e-3
    assert rec["coverage"]["covered"] == 3 * 4 * L.T
    assert rec["predictions"]["read_as"]["not_predicted"][0].startswith("S9 Greeting-2")
    res, labels = L.write_learnable_triangulation(tmp_path / "lt2", world, with_damaged=True)
    rc, rec, err = _eval([str(res), "--from", "learnable-triangulation", "--labels",
                          str(labels), "--lt-with-damaged", "--dataset", str(root), *NO_PSS],
                         capsys)
    assert rc == 0 and rec["metrics"]["mpjpe"] < 1e-3 and not rec["coverage"]["partial"]


def test_learnable_triangulation_wrong_index_changes_the_number(h36m, tmp_path, capsys):
    root, world = h36m
    res, labels = L.write_learnable_triangulation(tmp_path / "lt", world, shift=1,
                                                  with_damaged=True)
    rc, rec, err = _eval([str(res), "--from", "learnable-triangulation", "--labels",
                          str(labels), "--lt-with-damaged", "--dataset", str(root), *NO_PSS],
                         capsys)
    assert rc == 0, err
    assert rec["metrics"]["mpjpe"] > 10


@pytest.mark.parametrize("fmt,content,expect", [
    ("videopose3d", {"positions_3d": np.zeros((5, 17, 3))}, "array float64 (5, 17, 3)"),
    ("mmpose", [{"keypoints": [[0, 0, 0]], "target_id": 0}], "result_keypoints.json"),
    ("motionbert", {"X3D": np.zeros((5, 17, 3))}, "results_all"),
])
def test_unknown_or_old_layouts_get_one_sentence(h36m, tmp_path, capsys, fmt, content, expect):
    root, _ = h36m
    if isinstance(content, dict):
        f = tmp_path / "x.npz"
        np.savez(f, **content)
    else:
        f = tmp_path / "x.json"
        f.write_text(json.dumps(content))
    rc, _, err = _eval([str(f), "--from", fmt, "--dataset", str(root), *NO_PSS], capsys)
    assert rc == 2 and expect in err and err.count("\n") == 1, err


def test_convert_keeps_the_canonical_file_and_the_same_number(h36m, tmp_path, capsys):
    root, world = h36m
    f = L.write_videopose3d(tmp_path / "vp3d.npz", world)
    out = tmp_path / "preds.npz"
    assert main(["convert", str(f), "--from", "videopose3d", "--dataset", str(root), "--out",
                 str(out)]) == 0
    capsys.readouterr()
    rc, rec, err = _eval([str(out), "--dataset", str(root), *NO_PSS], capsys)
    assert rc == 0 and rec["metrics"]["mpjpe"] < 1e-3
    assert rec["predictions"]["read_as"]["layout"] == "posebench (converted from videopose3d)"


def test_full_frames_scored_under_every64_by_selecting_rows(h36m, tmp_path, capsys):
    root, world = h36m
    f = L.write_videopose3d(tmp_path / "vp3d.npz", world)
    out = tmp_path / "all.npz"
    main(["convert", str(f), "--from", "videopose3d", "--dataset", str(root), "--out", str(out)])
    capsys.readouterr()
    rc, _, err = _eval([str(out), "--dataset", str(root), "--protocol", "h36m-every64",
                        *NO_PSS], capsys)
    assert rc == 2 and "--select-from-superset" in err
    rc, rec, err = _eval([str(out), "--dataset", str(root), "--protocol", "h36m-every64",
                          "--select-from-superset", *NO_PSS], capsys)
    assert rc == 0, err
    sel = rec["predictions"]["read_as"]["selected"]
    assert sel["kept"] == 4 * 4 * 4 and sel["of"] == 4 * 4 * L.T  # frames 0, 64, 128, 192
    assert rec["metrics"]["mpjpe"] < 1e-3


def test_frames_past_the_dataset_trial_end_are_dropped_and_counted(h36m, tmp_path, capsys):
    """VideoPose3D keeps the mocap length; a dataset trimmed to the video drops the rest."""
    root, world = h36m
    f = L.write_videopose3d(tmp_path / "v.npz", world)
    data = dict(np.load(f, allow_pickle=True)["positions_3d"].item())
    for s in data:
        for b in data[s]:
            data[s][b] = [np.concatenate([a, a[-5:]]) for a in data[s][b]]
    np.savez(f, positions_3d=data)
    rc, rec, err = _eval([str(f), "--from", "videopose3d", "--dataset", str(root), *NO_PSS],
                         capsys)
    assert rc == 0, err
    sel = rec["predictions"]["read_as"]["selected"]
    assert sel["not_in_dataset"] == 4 * 4 * 5 and sel["kept"] == 4 * 4 * L.T
    assert rec["metrics"]["mpjpe"] < 1e-3


def test_videopose3d_viz_export_array_with_run_py_arguments(h36m, tmp_path, capsys):
    """run.py --viz-export writes one (T, 17, 3) camera-space metre array with np.save."""
    root, world = h36m
    cam = L.camera_mm("S11", world["S11"]["Greeting 2"])[:, 2] / 1000.0
    f = tmp_path / "export.npy"
    np.save(f, (cam - cam[:, :1]).astype(np.float32))
    base = [str(f), "--from", "videopose3d", "--dataset", str(root)]
    rc, _, err = _eval([*base, *NO_PSS], capsys)
    assert rc == 2 and "--viz-subject" in err and err.count("\n") == 1
    rc, rec, err = _eval([*base, "--viz-subject", "S11", "--viz-action", "Greeting 2",
                          "--viz-camera", "2", "--allow-partial", *NO_PSS], capsys)
    assert rc == 0, err
    assert rec["metrics"]["mpjpe"] < 1e-3 and rec["coverage"]["covered"] == L.T


def test_motionbert_short_video_needs_split_id_and_averages_repeats(h36m, tmp_path, capsys):
    """A video shorter than 243 frames is resampled (frames repeat within the clip): without
    the saved split_id it is refused; with it, repeated frames are averaged back to 0 mm."""
    root, world = h36m
    cam = L.camera_mm("S9", world["S9"]["Directions 1"])[:100, 0]     # 100 frames, camera 1
    fac = cam[:, 0, 2] / 1145.0
    img = (cam - cam[:, :1]) / fac[:, None, None] + np.array([512.0, 500.0, 0.0])
    norm = img / 1000.0 * 2 - np.array([1.0, 1.002, 0.0])
    idx = np.linspace(0, 100, 243, endpoint=False).astype(np.int64)     # MotionBERT resample
    arrays = dict(results_all=norm[idx][None].astype(np.float32),
                  source=np.array(["s_09_act_02_subact_01_ca_01"] * 100), factor=fac,
                  camera_name=np.array(["54138969"] * 100))
    f = tmp_path / "mb.npz"
    np.savez(f, **arrays)
    rc, _, err = _eval([str(f), "--from", "motionbert", "--dataset", str(root), *NO_PSS],
                       capsys)
    assert rc == 2 and "split_id" in err and err.count("\n") == 1
    np.savez(f, **arrays, split_id=idx[None])
    rc, rec, err = _eval([str(f), "--from", "motionbert", "--dataset", str(root),
                          "--allow-partial", *NO_PSS], capsys)
    assert rc == 0, err
    assert rec["metrics"]["mpjpe"] < 1e-3 and rec["coverage"]["covered"] == 100
    tr = rec["predictions"]["read_as"]["transformations"]
    assert any(t.startswith("100 frames predicted more than once") for t in tr)


def test_mmpose_0x_out_batches_read_back_to_zero(h36m, tmp_path, capsys):
    """mmpose 0.x tools/test.py --out: batches of preds (B, 17, 4) + target_image_paths."""
    root, world = h36m
    batches = []
    for s in ("S9", "S11"):
        for b, w in world[s].items():
            cam = L.camera_mm(s, w) / 1000.0
            for i, cid in enumerate(L.CAMERA_IDS):
                preds = np.concatenate([cam[:, i], np.ones((L.T, 17, 1))], -1)
                batches.append({"preds": preds.astype(np.float32),
                                "target_image_paths": [L.imgname(s, b, cid, f)
                                                       for f in range(L.T)]})
    f = tmp_path / "out.pkl"
    f.write_bytes(pickle.dumps(batches))
    rc, rec, err = _eval([str(f), "--from", "mmpose", "--dataset", str(root), *NO_PSS], capsys)
    assert rc == 0, err
    assert rec["metrics"]["mpjpe"] < 1e-3
    assert rec["predictions"]["read_as"]["layout"] == "mmpose (0.x --out batch outputs)"

"""The CLI a researcher expects: key mismatches name the field, small data has PSS options,
train-only samples have --split, and the new-user path on the real samples has no dead end."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from posebench.skeletons import get_skeleton

sys.path.insert(0, str(Path(__file__).parent))
import reader_layouts as L  # noqa: E402

from posebench.cli import main  # noqa: E402


def _keyed(tmp_path, root, **change) -> Path:
    """A correct keyed predictions file (ground truth) with one key field altered."""
    from posebench.data.dataset import read_split

    ds = read_split(root, "test")
    arrays = {"poses_3d": ds.poses_3d, "subject": ds.keys.subject, "action": ds.keys.action,
              "subaction": ds.keys.subaction, "camera": ds.keys.camera, "frame": ds.keys.frame}
    for k, fn in change.items():
        arrays[k] = fn(arrays[k])
    f = tmp_path / "p.npz"
    np.savez(f, **arrays)
    return f


def _err(args, capsys) -> tuple[int, str]:
    rc = main(args)
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("change,expect", [
    ({"camera": lambda c: np.searchsorted(np.unique(c), c).astype(str)},
     "field 'camera' holds camera indices 0, 1, 2, 3"),
    ({"action": lambda a: np.char.add(a, " 1")}, "field 'action' holds video basenames"),
    ({"frame": lambda f: f + 1}, "field 'frame' looks 1-based"),
    ({"subaction": lambda s: 3 - s}, "field 'subaction'"),
    ({"subject": lambda s: np.char.lstrip(s, "S")}, "write subjects as S"),
])
def test_key_mismatch_names_the_field_and_the_fix(h36m, tmp_path, capsys, change, expect):
    root, _ = h36m
    f = _keyed(tmp_path, root, **change)
    rc, err = _err(["eval", str(f), "--dataset", str(root), "--no-pss"], capsys)
    assert rc == 2 and expect in err and err.count("\n") == 1, err


def test_mmpose_imgname_file_without_from_names_the_reader(h36m, tmp_path, capsys):
    root, _ = h36m
    f = tmp_path / "m.npz"
    np.savez(f, imgname=np.array(["S9/S9_Directions_1.54138969/x_000001.jpg"]),
             preds=np.zeros((1, 17, 3)))
    rc, err = _err(["eval", str(f), "--dataset", str(root)], capsys)
    assert rc == 2 and "--from mmpose" in err and "'imgname'" in err


def test_h36m_prints_per_action_p1_p2_side_by_side_headline_marked(h36m, tmp_path, capsys):
    root, world = h36m
    f = L.write_videopose3d(tmp_path / "v.npz", world)
    assert main(["eval", str(f), "--from", "videopose3d", "--dataset", str(root),
                 "--no-pss"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("per action:"):]
    header = table.splitlines()[1]
    assert "MPJPE *" in header and "P-MPJPE" in header
    assert header.index("MPJPE *") < header.index("P-MPJPE")
    assert "Directions" in table and "Greeting" in table
    assert "* headline metric of protocol h36m-p1" in out
    assert main(["eval", str(f), "--from", "videopose3d", "--dataset", str(root), "--no-pss",
                 "--no-per-action"]) == 0
    assert "per action:" not in capsys.readouterr().out


def test_pss_k_and_no_pss_for_small_data(h36m, tmp_path, capsys):
    root, world = h36m
    f = L.write_videopose3d(tmp_path / "v.npz", world)
    rc, err = _err(["eval", str(f), "--from", "videopose3d", "--dataset", str(root)], capsys)
    # the training split holds 250 frames x 4 cameras = 1000 poses: PSS@50/@100 fit
    assert rc == 0, err
    rc, err = _err(["eval", str(f), "--from", "videopose3d", "--dataset", str(root),
                    "--pss-k", "2000"], capsys)
    assert rc == 2 and "PSS@2000 needs at least 2000 poses" in err and "--no-pss" in err
    assert main(["eval", str(f), "--from", "videopose3d", "--dataset", str(root),
                 "--pss-k", "5,10", "--format", "json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert {"pss@5", "pss@10"} <= set(rec["metrics"]) and "pss@50" not in rec["metrics"]
    rc, err = _err(["eval", str(f), "--from", "videopose3d", "--dataset", str(root),
                    "--pss-k", "ten"], capsys)
    assert rc == 2 and "--pss-k" in err


def test_out_and_output_are_aliases(h36m, tmp_path, capsys):
    root, world = h36m
    f = L.write_videopose3d(tmp_path / "v.npz", world)
    for opt in ("--out", "--output"):
        assert main(["eval", str(f), "--from", "videopose3d", "--dataset", str(root),
                     "--no-pss", opt, str(tmp_path / f"r{opt}.json")]) == 0
        rec = json.loads((tmp_path / f"r{opt}.json").read_text())
        assert rec["predictions"]["read_as"]["layout"] == "videopose3d"


def test_every_option_has_a_help_line():
    import click

    from posebench.cli import COMMANDS, cli

    ctx = click.Context(cli)
    missing = []
    for name in ("eval", "keys", "convert"):
        cmd = cli.get_command(ctx, name)
        missing += [f"{name} {p.opts[0]}" for p in cmd.params
                    if isinstance(p, click.Option) and not p.help]
    assert not missing and "convert" in COMMANDS


def test_new_user_path_on_the_real_samples(shared_fixtures, tmp_path, capsys):
    """prepare -> keys -> eval (per-action tables) on the real Human3.6M and 3DHP samples."""
    mm = shared_fixtures / "mmpose"
    assert main(["data", "prepare", "h36m", "--from", "mmpose",
                 str(mm / "h36m" / "test_h36m_body3d.npz"), "--name", "h36m-sample"]) == 0
    rc, err = _err(["keys", "--dataset", "h36m-sample", "--out", str(tmp_path / "k.npz")],
                   capsys)
    assert rc == 2 and "--split train" in err      # only a train split: the fix is named
    assert main(["keys", "--dataset", "h36m-sample", "--split", "train", "--out",
                 str(tmp_path / "k.npz")]) == 0
    keys = np.load(tmp_path / "k.npz")
    z = np.load(mm / "h36m" / "test_h36m_body3d.npz")
    # the user's model: mmpose-layout output in metres, here ground truth + 20 mm on x
    pred = z["S"][..., :3].copy()
    pred[:, 1:, 0] += 0.02
    np.savez(tmp_path / "mm.npz", imgname=z["imgname"], preds=pred)
    capsys.readouterr()
    rc, err = _err(["eval", str(tmp_path / "mm.npz"), "--from", "mmpose", "--dataset",
                    "h36m-sample", "--split", "train", "--out", str(tmp_path / "r.json")],
                   capsys)
    assert rc == 2 and "PSS@100 needs at least 100 poses" in err and "--no-pss" in err
    assert main(["eval", str(tmp_path / "mm.npz"), "--from", "mmpose", "--dataset",
                 "h36m-sample", "--split", "train", "--pss-k", "2", "--out",
                 str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "per action:" in out and "WalkDog" in out
    rec = json.loads((tmp_path / "r.json").read_text())
    assert rec["protocol"]["name"] == "h36m-p1@train"
    assert rec["metrics"]["mpjpe"] == pytest.approx(20.0 * 16 / 17, abs=1e-3)
    assert len(keys["index"]) == 4
    # 3DHP: test split exists; 2 training poses -> --pss-k 2
    assert main(["data", "prepare", "3dhp", "--from", "mmpose", str(mm / "mpi_inf_3dhp"),
                 "--name", "3dhp-sample"]) == 0
    # the mmpose layout has no univ_annot3: 3dhp-official refuses, naming --ground-truth
    capsys.readouterr()
    assert main(["keys", "--dataset", "3dhp-sample", "--out", str(tmp_path / "k3.npz")]) == 2
    assert "--ground-truth poses_3d" in capsys.readouterr().err
    gt_opt = ["--ground-truth", "poses_3d"]
    assert main(["keys", "--dataset", "3dhp-sample", *gt_opt,
                 "--out", str(tmp_path / "k3.npz")]) == 0
    k3 = np.load(tmp_path / "k3.npz")
    t = np.load(mm / "mpi_inf_3dhp" / "test_3dhp_test.npz")
    order = [list(t["imgname"]).index(p) for p in k3["image_path"]]
    cam = t["S"][order, :, :3] * 1000.0
    root = get_skeleton("3dhp17").root
    np.savez(tmp_path / "p3.npz", poses_3d=cam - cam[:, root:root + 1], index=k3["index"])
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "p3.npz"), "--dataset", "3dhp-sample", *gt_opt,
                 "--pss-k", "2"]) == 0
    out = capsys.readouterr().out
    assert "per scene:" in out and "PCK@150 *" in out and "3dhp-official+gt=poses_3d" in out


def test_mpjve_where_the_protocol_allows(h36m, tmp_path, capsys):
    """A joint drifting 17 mm per frame: velocity error 17 mm on 1 of 17 joints = 1.0 mm per
    action (run.py's mean_velocity_error); every-64th-frame protocols report no MPJVE."""
    root, world = h36m
    f = L.write_videopose3d(tmp_path / "v.npz", world)
    data = dict(np.load(f, allow_pickle=True)["positions_3d"].item())
    for s in data:
        for b in data[s]:
            for c in range(4):
                data[s][b][c][:, 13, 0] += 0.017 * np.arange(L.T)
    np.savez(f, positions_3d=data)
    assert main(["eval", str(f), "--from", "videopose3d", "--dataset", str(root), "--no-pss",
                 "--format", "json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["metrics"]["mpjve"] == pytest.approx(1.0, abs=1e-4)
    assert all(v["mpjve"] == pytest.approx(1.0, abs=1e-4)
               for v in rec["per_group"]["action"].values())
    assert main(["eval", str(f), "--from", "videopose3d", "--dataset", str(root), "--no-pss",
                 "--protocol", "h36m-every64", "--format", "json"]) == 0
    assert "mpjve" not in json.loads(capsys.readouterr().out)["metrics"]

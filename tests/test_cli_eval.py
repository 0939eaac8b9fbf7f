"""`posebench eval / keys / protocols` through the real entry point (posebench.cli.main).

Malformed predictions: every case must exit 2 with exactly one line on stderr, no traceback,
and leave an existing --output file byte-for-byte untouched (and no temporary files behind).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from helpers_toy import fit_pss_cache, toy_3dhp, toy_synth_scored

from posebench.cli import main
from posebench.data.dataset import read_split
from posebench.data.protocols import get_protocol
from posebench.skeletons import get_skeleton

SENTINEL = '{"keep": "me"}\n'


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """(dataset folder, ground truth (M, 17, 3) of protocol 'synth', its keys)."""
    return toy_synth_scored(tmp_path_factory.mktemp("cli") / "toy-synth")


@pytest.fixture(scope="module")
def fitted_pss(synth, tmp_path_factory):
    """PSS@50/@100 models of the toy set, fitted once per module (as evaluate caches them)."""
    root, gt, _ = synth
    return fit_pss_cache(root, gt, tmp_path_factory.mktemp("pss_home"))


@pytest.fixture(autouse=True)
def _share_pss_cache(fitted_pss, isolated_home):
    """Copy the module's fitted PSS models into each test's isolated POSEBENCH_HOME."""
    import shutil

    shutil.copytree(fitted_pss, isolated_home / "pss", dirs_exist_ok=True)


def _keys(k, sl=slice(None)):
    return {"subject": k.subject[sl], "action": k.action[sl], "subaction": k.subaction[sl],
            "camera": k.camera[sl], "frame": k.frame[sl]}


def _npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _malformed_cases():
    """name -> function(gt, keys) returning the bytes of a predictions file."""
    def idx(gt):
        return np.arange(len(gt))

    cases = {
        "empty file": lambda gt, k: b"",
        "text, not npz": lambda gt, k: b"frame,x,y,z\n0,1,2,3\n",
        "truncated npz": lambda gt, k: _npz_bytes(poses_3d=gt, index=idx(gt))[:600],
        "single npy array": lambda gt, k: _npy_bytes(gt),
        "no poses_3d": lambda gt, k: _npz_bytes(index=idx(gt)),
        "no index nor keys": lambda gt, k: _npz_bytes(poses_3d=gt),
        "rank 2 poses": lambda gt, k: _npz_bytes(poses_3d=gt.reshape(len(gt), -1),
                                                  index=idx(gt)),
        "2D poses": lambda gt, k: _npz_bytes(poses_3d=gt[..., :2], index=idx(gt)),
        "15 joints": lambda gt, k: _npz_bytes(poses_3d=gt[:, :15], index=idx(gt)),
        "NaN": lambda gt, k: _npz_bytes(poses_3d=_with(gt, np.nan), index=idx(gt)),
        "inf": lambda gt, k: _npz_bytes(poses_3d=_with(gt, np.inf), index=idx(gt)),
        "metres": lambda gt, k: _npz_bytes(poses_3d=gt / 1000.0, index=idx(gt)),
        "duplicate index": lambda gt, k: _npz_bytes(poses_3d=gt, index=_dup(idx(gt))),
        "duplicate keys": lambda gt, k: _npz_bytes(poses_3d=gt, **_dup_keys(_keys(k))),
        "unknown keys": lambda gt, k: _npz_bytes(poses_3d=gt, **_unknown_keys(_keys(k))),
        "index out of range": lambda gt, k: _npz_bytes(poses_3d=gt, index=idx(gt) + 1),
        "negative index": lambda gt, k: _npz_bytes(poses_3d=gt, index=idx(gt) - 1),
        "missing samples": lambda gt, k: _npz_bytes(poses_3d=gt[:-7], index=idx(gt)[:-7]),
        "object array": lambda gt, k: _npz_bytes(poses_3d=np.array(list(gt), dtype=object),
                                                 index=idx(gt)),
        "unknown joint_names": lambda gt, k: _npz_bytes(
            poses_3d=gt, index=idx(gt),
            joint_names=np.array(["nose", *get_skeleton("h36m17").names[1:]])),
        "joint_names count": lambda gt, k: _npz_bytes(
            poses_3d=gt, index=idx(gt), joint_names=np.array(get_skeleton("h36m17").names[:16])),
        "joint_names lack spine": lambda gt, k: _npz_bytes(
            poses_3d=gt[:, :16], index=idx(gt), joint_names=np.array(get_skeleton("mpii16").names)),
        "length mismatch": lambda gt, k: _npz_bytes(poses_3d=gt, index=idx(gt)[:-1]),
        "string poses": lambda gt, k: _npz_bytes(poses_3d=gt.astype(str), index=idx(gt)),
        "float index": lambda gt, k: _npz_bytes(poses_3d=gt, index=idx(gt).astype(float)),
        "string frame key": lambda gt, k: _npz_bytes(
            poses_3d=gt, **{**_keys(k), "frame": k.frame.astype(str)}),
        "incomplete keys": lambda gt, k: _npz_bytes(poses_3d=gt, subject=k.subject,
                                                    action=k.action),
        "zero poses": lambda gt, k: _npz_bytes(poses_3d=np.zeros((0, 17, 3)),
                                               index=np.zeros(0, dtype=np.int64)),
        "index disagrees with keys": lambda gt, k: _npz_bytes(
            poses_3d=gt, index=np.roll(idx(gt), 3), **_keys(k)),
        "ambiguous keys (no subaction)": lambda gt, k: _npz_bytes(
            poses_3d=gt, subject=k.subject, action=k.action, camera=k.camera, frame=k.frame),
    }
    return cases


def _npy_bytes(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _with(gt, value):
    out = gt.copy()
    out[3, 5, 1] = value
    return out


def _dup(index):
    out = index.copy()
    out[1] = out[0]
    return out


def _dup_keys(keys):
    out = {k: v.copy() for k, v in keys.items()}
    for v in out.values():
        v[1] = v[0]
    return out


def _unknown_keys(keys):
    out = {k: v.copy() for k, v in keys.items()}
    out["subject"] = out["subject"].astype("<U16")
    out["subject"][0] = "S1"
    return out


CASES = _malformed_cases()
EXTRA_CASES = {
    "unknown protocol": ["--protocol", "no-such-protocol"],
    "protocol for another dataset kind": ["--protocol", "3dhp-official"],
    "missing PSS model file": ["--pss-model", "does-not-exist.npz"],
}


def test_there_are_at_least_20_malformed_files():
    assert len(CASES) >= 20


def _run_cli(args, capsys):
    rc = main(args)
    out, err = capsys.readouterr()
    return rc, out, err


def _assert_clean_failure(rc, out, err, output, tmp_path):
    assert rc == 2, (rc, out, err)
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in out + err
    assert output.read_text() == SENTINEL
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert not leftovers, leftovers


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_predictions_exit_2_with_one_line(case, synth, tmp_path, capsys):
    root, gt, keys = synth
    preds = tmp_path / "preds.npz"
    preds.write_bytes(CASES[case](gt, keys))
    output = tmp_path / "result.json"
    output.write_text(SENTINEL)
    rc, out, err = _run_cli(["eval", str(preds), "--dataset", str(root), "--output",
                             str(output)], capsys)
    _assert_clean_failure(rc, out, err, output, tmp_path)


@pytest.mark.parametrize("case", sorted(EXTRA_CASES))
def test_bad_options_exit_2_with_one_line(case, synth, tmp_path, capsys):
    root, gt, _ = synth
    preds = tmp_path / "preds.npz"
    np.savez(preds, poses_3d=gt, index=np.arange(len(gt)))
    output = tmp_path / "result.json"
    output.write_text(SENTINEL)
    rc, out, err = _run_cli(["eval", str(preds), "--dataset", str(root), "--output",
                             str(output), *EXTRA_CASES[case]], capsys)
    _assert_clean_failure(rc, out, err, output, tmp_path)


def test_missing_predictions_file(synth, tmp_path, capsys):
    root, _, _ = synth
    output = tmp_path / "result.json"
    output.write_text(SENTINEL)
    rc, out, err = _run_cli(["eval", str(tmp_path / "nope.npz"), "--dataset", str(root),
                             "--output", str(output)], capsys)
    _assert_clean_failure(rc, out, err, output, tmp_path)


def test_npz_with_bad_zip_member(synth, tmp_path, capsys):
    """A zip whose poses_3d member is not a valid .npy (corrupt, not truncated)."""
    root, _, _ = synth
    preds = tmp_path / "preds.npz"
    with zipfile.ZipFile(preds, "w") as z:
        z.writestr("poses_3d.npy", b"garbage")
        z.writestr("index.npy", _npy_bytes(np.arange(3)))
    output = tmp_path / "result.json"
    output.write_text(SENTINEL)
    rc, out, err = _run_cli(["eval", str(preds), "--dataset", str(root), "--output",
                             str(output)], capsys)
    _assert_clean_failure(rc, out, err, output, tmp_path)


def test_eval_ground_truth_writes_record_and_table(synth, tmp_path, capsys):
    root, gt, keys = synth
    preds = tmp_path / "preds.npz"
    np.savez(preds, poses_3d=gt, **_keys(keys))
    output = tmp_path / "result.json"
    output.write_text(SENTINEL)
    rc, out, err = _run_cli(["eval", str(preds), "--dataset", str(root), "--output",
                             str(output), "--per-action", "--per-joint"], capsys)
    assert rc == 0, err
    for label in ("MPJPE", "P-MPJPE", "N-MPJPE", "PCK@150", "AUC", "PSS@50", "PSS@100"):
        assert label in out
    assert "per action:" in out and "per joint:" in out
    rec = json.loads(output.read_text())
    assert rec["format"] == "posebench-result"
    assert rec["metrics"]["mpjpe"] == pytest.approx(0.0, abs=1e-9)
    assert rec["metrics"]["pss@50"] == 1.0 and rec["metrics"]["pss@100"] == 1.0
    assert rec["protocol"]["name"] == "synth" and len(rec["protocol_fingerprint"]) == 64
    assert len(rec["dataset"]["fingerprint"]) == 64
    assert [m["k"] for m in rec["pss_models"]] == [50, 100]
    assert set(rec["per_group"]) == {"action", "joint"}


@pytest.mark.parametrize("fmt", ["markdown", "csv", "json"])
def test_formats(fmt, synth, tmp_path, capsys):
    root, gt, _ = synth
    preds = tmp_path / "preds.npz"
    np.savez(preds, poses_3d=gt + 10.0, index=np.arange(len(gt)))
    rc, out, err = _run_cli(["eval", str(preds), "--dataset", str(root), "--format", fmt],
                            capsys)
    assert rc == 0, err
    if fmt == "json":
        rec = json.loads(out)
        # a constant offset disappears with root-centring
        assert rec["metrics"]["mpjpe"] == pytest.approx(0.0, abs=1e-9)
    elif fmt == "csv":
        header, first = out.splitlines()[:2]
        assert header.startswith("table,group,n,mpjpe") and first.startswith("overall,all,")
    else:
        assert "| MPJPE" in out


def test_partial_is_loud(synth, tmp_path, capsys):
    root, gt, _ = synth
    preds = tmp_path / "preds.npz"
    np.savez(preds, poses_3d=gt[:-5], index=np.arange(len(gt) - 5))
    output = tmp_path / "r.json"
    rc, out, err = _run_cli(["eval", str(preds), "--dataset", str(root), "--allow-partial",
                             "--output", str(output)], capsys)
    assert rc == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("!!! PARTIAL") and lines[-1].startswith("!!! PARTIAL")
    assert "PARTIAL" in err
    rec = json.loads(output.read_text())
    assert rec["coverage"] == {"covered": len(gt) - 5, "expected": len(gt),
                               "fraction": pytest.approx((len(gt) - 5) / len(gt)),
                               "partial": True}
    assert any(n.startswith("PARTIAL") for n in rec["notes"])


def test_keys_command_writes_order_without_3d(synth, tmp_path, capsys):
    root, gt, keys = synth
    out_file = tmp_path / "keys.npz"
    rc, out, err = _run_cli(["keys", "--dataset", str(root), "--out", str(out_file)], capsys)
    assert rc == 0, err
    with np.load(out_file, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    assert not any("3d" in k for k in arrays)
    np.testing.assert_array_equal(arrays["index"], np.arange(len(gt)))
    np.testing.assert_array_equal(arrays["frame"], keys.frame)
    assert arrays["poses_2d"].shape == (len(gt), 17, 2)
    assert str(arrays["protocol_name"]) == "synth"
    # a predictions file built from the keys file scores
    np.savez(tmp_path / "p.npz", poses_3d=gt, index=arrays["index"])
    assert main(["eval", str(tmp_path / "p.npz"), "--dataset", str(root)]) == 0


def test_protocols_command(capsys):
    assert main(["protocols"]) == 0
    out = capsys.readouterr().out
    for name in ("h36m-p1", "h36m-p2", "h36m-every64", "h36m-every64-mpii16", "h36m-mmpose",
                 "3dhp-official", "3dhp-14", "synth", "all-frames"):
        assert name in out
    assert main(["protocols", "h36m-every64"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["frame_stride"] == 64 and shown["n_mpjpe_scale"] == "procrustes"
    assert main(["protocols", "nope"]) == 2


def test_pss_skipped_without_training_split(tmp_path, capsys):
    root = toy_3dhp(tmp_path / "hp")
    ds = read_split(root, "test")
    rows = get_protocol("3dhp-official").select(ds)
    gt = ds.extra["univ_poses_3d"][rows]
    np.savez(tmp_path / "p.npz", poses_3d=gt - gt[:, 14:15],  # root-relative, as 3DHP scores
             index=np.arange(len(rows)))
    rc, out, err = _run_cli(["eval", str(tmp_path / "p.npz"), "--dataset", str(root)], capsys)
    assert rc == 0, err
    assert "PSS skipped" in out and "PSS@50" not in out
    assert "per scene:" in out and "per subject:" in out


_NO_TORCH = """
import sys
from posebench.cli import main
rc = main({args!r})
assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))
sys.exit(rc)
"""


def test_help_and_eval_import_no_torch(synth, fitted_pss, tmp_path):
    root, gt, _ = synth
    preds = tmp_path / "preds.npz"
    np.savez(preds, poses_3d=gt, index=np.arange(len(gt)))
    import shutil

    env_home = tmp_path / "home"
    shutil.copytree(fitted_pss, env_home / "pss")
    for args in (["--help"], ["eval", str(preds), "--dataset", str(root)]):
        r = subprocess.run([sys.executable, "-c", _NO_TORCH.format(args=args)],
                           capture_output=True, text=True, timeout=120,
                           env={**_env(), "POSEBENCH_HOME": str(env_home)})
        assert r.returncode == 0, r.stderr


def test_console_entry_point_exit_code(tmp_path):
    r = subprocess.run([sys.executable, "-m", "posebench.cli", "eval",
                        str(tmp_path / "missing.npz"), "--dataset", str(tmp_path)],
                       capture_output=True, text=True, timeout=120, env=_env())
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def _env():
    import os

    return dict(os.environ)


# ------------------------------------------------------------------------------ new-user habits
def _one_line_exit_2(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_viz_index_out_of_range_or_negative_is_one_sentence(synth, tmp_path, capsys):
    root = synth[0]
    out = str(tmp_path / "g.png")
    msg = _one_line_exit_2(["viz", "sample", "--dataset", str(root), "--index", "16000",
                            "--out", out], capsys)
    assert "16000" in msg and "0 to" in msg
    msg = _one_line_exit_2(["viz", "sample", "--dataset", str(root), "--index", "-1",
                            "--out", out], capsys)
    assert "--index" in msg and "-1" in msg and not (tmp_path / "g.png").exists()


def test_debug_flag_works_after_the_subcommand(tmp_path, capsys):
    from posebench.errors import InputError

    missing = str(tmp_path / "missing.npz")
    _one_line_exit_2(["eval", missing], capsys)
    with pytest.raises(InputError):
        main(["eval", missing, "--debug"])
    with pytest.raises(InputError):
        main(["--debug", "eval", missing])


def test_usage_errors_are_one_line_with_a_pointer(capsys):
    msg = _one_line_exit_2(["eval", "x.npz", "--format", "bogus"], capsys)
    assert "--format" in msg and "posebench eval --help" in msg
    msg = _one_line_exit_2(["eval", "x.npz", "--seed", "-5"], capsys)
    assert "--seed" in msg


def test_pss_model_error_names_the_file_given(synth, tmp_path, capsys):
    root, gt, _ = synth
    preds = tmp_path / "p.npz"
    np.savez(preds, poses_3d=gt, index=np.arange(len(gt)))
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    msg = _one_line_exit_2(["eval", str(preds), "--dataset", str(root), "--pss-model",
                            str(bad)], capsys)
    assert "bad.json" in msg and msg.index("bad.json") < msg.index("bad.npz")
    msg = _one_line_exit_2(["pss", "show", str(bad)], capsys)
    assert "bad.json" in msg
    msg = _one_line_exit_2(["eval", str(preds), "--dataset", str(root), "--pss-model",
                            str(tmp_path / "nothere.npz")], capsys)
    assert "nothere.npz" in msg and "does not exist" in msg


def test_reproduce_refuses_unknown_variants_before_any_work(tmp_path, capsys):
    msg = _one_line_exit_2(["reproduce", "epipolarpose", "--variants", "ss-knwon",
                            "--out", str(tmp_path / "r")], capsys)
    assert "ss-knwon" in msg and "ss-known" in msg and not (tmp_path / "r").exists()


def test_cli_maps_the_split_read_only(synth):
    """`posebench eval` reads the split's poses as read-only memory maps (as `evaluate` given
    a folder does): a full-size split is ~0.7 GB of 2D and 3D poses that the evaluation
    never loads whole (the 2D ones it never reads)."""
    import mmap

    from posebench.commands.eval_cmd import resolve

    ds, _, _ = resolve(synth[0], "synth", None)
    base = ds.poses_3d
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    assert base is not None and not ds.poses_3d.flags.writeable

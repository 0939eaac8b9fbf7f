"""Fuzzing the command line with generated malformed inputs (hypothesis, derandomised).

Every generated input goes through `posebench.cli.main` in-process and must give exactly one
line on stderr starting "error: ", exit code 2, no uncaught exception (what a user would see
as a traceback) and no change to any file the user had (every file of the example's folder,
the dataset and the datasets home are hashed before and after; no file may appear either).

Commands covered: eval, check, keys, pss show / pss fit, data prepare (h36m, 3dhp, mpii),
geometry pseudo-labels, and compare when this build has it. To fuzz another command, add one
entry to FILE_COMMANDS: name -> (kind of generated file, argv builder).
The counts are printed by the last test (`-s` to see them) and written to
$POSEBENCH_FUZZ_COUNTS when set.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import string
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from helpers_toy import toy_synth
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posebench.cli import COMMANDS, main

STATS: Counter = Counter()
_FUZZ_SETTINGS = dict(derandomize=True, deadline=None, database=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture,
                                             HealthCheck.too_slow, HealthCheck.data_too_large])


def fuzz(n: int):
    """Deterministic hypothesis settings with `n` examples."""
    return settings(max_examples=n, **_FUZZ_SETTINGS)


@dataclass
class Ctx:
    root: Path           # the toy dataset folder
    home: Path           # POSEBENCH_HOME (PSS models cached)
    work: Path           # folder of per-example sub-folders
    preds: bytes         # a valid predictions .npz
    poses: np.ndarray    # (M, 17, 3) valid predictions
    record: dict         # a valid result record
    record_path: Path    # ... written here (the baseline of `check`)
    pss_model: bytes     # a valid PSS model .npz
    n_train: int         # samples of the training split


@pytest.fixture(scope="module")
def ctx(tmp_path_factory) -> Ctx:
    base = tmp_path_factory.mktemp("fuzz")
    root = toy_synth(base / "toy")
    home = base / "home"
    mp = pytest.MonkeyPatch()
    mp.setenv("POSEBENCH_HOME", str(home))
    try:
        from posebench.data.dataset import read_split
        from posebench.data.protocols import get_protocol
        from posebench.metrics import PoseStructureScore

        test = read_split(root, "test")
        rows = get_protocol("synth").select(test)
        rng = np.random.default_rng(0)
        poses = test.poses_3d[rows] + rng.normal(0, 20, test.poses_3d[rows].shape)
        buf = io.BytesIO()
        np.savez(buf, poses_3d=poses, index=np.arange(len(rows)))
        (base / "valid.npz").write_bytes(buf.getvalue())
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["eval", str(base / "valid.npz"), "--dataset", str(root), "--out",
                         str(base / "valid.json")]) == 0
        train = read_split(root, "train")
        model = PoseStructureScore(k=5, seed=0).fit(train.poses_3d - train.poses_3d[:, :1])
        model.save(base / "model")
    finally:
        mp.undo()
    return Ctx(root, home, base / "work", buf.getvalue(), poses,
               json.loads((base / "valid.json").read_text()), base / "valid.json",
               (base / "model.npz").read_bytes(), len(train))


# ------------------------------------------------------------------------------ harness
def _snapshot(folders: list[Path]) -> dict[str, str]:
    out = {}
    for folder in folders:
        if folder.exists():
            for p in sorted(folder.rglob("*")):
                if p.is_file():
                    out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


_EXAMPLE = Counter()


def _example_dir(ctx: Ctx) -> Path:
    _EXAMPLE["n"] += 1
    d = ctx.work / f"ex{_EXAMPLE['n']:05d}"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    (d / "out.json").write_text('{"keep": "me"}\n')  # an output the user already had
    (d / "out.npz").write_bytes(b"keep me")
    return d


def expect_clean_error(ctx: Ctx, argv: list[str], folder: Path, what: str) -> None:
    """Run `posebench argv`; count and assert: exit 2, one 'error:' line, no traceback, no
    file changed or added."""
    watch = [folder, ctx.root, ctx.home / "datasets"]
    before = _snapshot(watch)
    out, err = io.StringIO(), io.StringIO()
    STATS["inputs tried"] += 1
    STATS[f"inputs: {what}"] += 1
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(argv)
    except BaseException as exc:  # noqa: BLE001 - what a user would see as a traceback
        STATS["tracebacks"] += 1
        raise AssertionError(f"posebench {' '.join(argv)} raised {type(exc).__name__}: "
                             f"{exc}") from exc
    changed = before != _snapshot(watch)
    STATS["files changed"] += int(changed)
    lines = err.getvalue().strip().splitlines()
    clean = rc == 2 and len(lines) == 1 and lines[0].startswith("error: ")
    STATS["clean errors"] += int(clean)
    assert clean, f"posebench {' '.join(argv)} -> exit {rc}, stderr {err.getvalue()!r}"
    assert not changed, f"posebench {' '.join(argv)} changed or added files"


# ------------------------------------------------------------------------------ generators
def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


_BAD_J = st.sampled_from([1, 2, 3, 5, 7, 11])
_KEY = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=10)


def _broken_bytes(data, valid: bytes) -> bytes:
    """Garbage, a zip header with garbage, a truncated valid file, or a single .npy."""
    kind = data.draw(st.sampled_from(["garbage", "pk", "truncated", "npy", "empty"]))
    if kind == "garbage":
        return data.draw(st.binary(min_size=1, max_size=300).filter(lambda b: b[:2] != b"PK"))
    if kind == "pk":
        return b"PK\x03\x04" + data.draw(st.binary(max_size=300))
    if kind == "truncated":
        return valid[:data.draw(st.integers(1, len(valid) - 1))]
    if kind == "npy":
        buf = io.BytesIO()
        np.save(buf, np.zeros((3, 17, 3)))
        return buf.getvalue()
    return b""


def _wrong_keys(data, forbidden: set[str]) -> bytes:
    keys = data.draw(st.lists(_KEY.filter(lambda k: k not in forbidden), min_size=0, max_size=3,
                              unique=True))
    return _npz(**{k: np.zeros((2, 3)) for k in keys})


def predictions_file(data, ctx: Ctx) -> bytes:
    """Malformed predictions: broken bytes, wrong keys, bad poses_3d, bad index, objects."""
    poses, m = ctx.poses, len(ctx.poses)
    index = np.arange(m)
    kind = data.draw(st.sampled_from(["broken", "keys", "ndim", "lastdim", "joints", "dtype",
                                      "nonfinite", "empty", "index", "object", "names"]))
    if kind == "broken":
        return _broken_bytes(data, ctx.preds)
    if kind == "keys":
        return _wrong_keys(data, {"poses_3d"})
    if kind == "ndim":
        shape = data.draw(st.sampled_from([(m * 51,), (m, 51), (m, 17, 3, 1), (1, m, 17, 3)]))
        return _npz(poses_3d=poses.reshape(shape), index=index)
    if kind == "lastdim":
        d = data.draw(st.sampled_from([1, 2, 4, 5]))
        return _npz(poses_3d=np.zeros((m, 17, d)), index=index)
    if kind == "joints":
        return _npz(poses_3d=np.zeros((m, data.draw(_BAD_J), 3)), index=index)
    if kind == "dtype":
        cast = data.draw(st.sampled_from(["bool", "U8", "complex128", "S4"]))
        return _npz(poses_3d=poses.astype(cast), index=index)
    if kind == "nonfinite":
        bad = poses.copy()
        i, j, c = (data.draw(st.integers(0, m - 1)), data.draw(st.integers(0, 16)),
                   data.draw(st.integers(0, 2)))
        bad[i, j, c] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return _npz(poses_3d=bad, index=index)
    if kind == "empty":
        return _npz(poses_3d=np.zeros((0, 17, 3)), index=np.zeros(0, np.int64))
    if kind == "index":
        how = data.draw(st.sampled_from(["range", "negative", "float", "dup", "length", "2d",
                                         "str"]))
        k = data.draw(st.integers(0, m - 1))
        idx = index.copy()
        if how == "range":
            idx[k] = m + data.draw(st.integers(0, 10**6))
        elif how == "negative":
            idx[k] = -data.draw(st.integers(1, 10**6))
        elif how == "float":
            idx = idx + 0.5
        elif how == "dup":
            idx[k] = (k + 1) % m
        elif how == "length":
            idx = idx[:data.draw(st.integers(0, m - 1))]
        elif how == "2d":
            idx = idx[:, None]
        else:
            idx = idx.astype(str)
        return _npz(poses_3d=poses, index=idx)
    if kind == "object":
        return _npz(poses_3d=poses.astype(object), index=index)
    names = data.draw(st.lists(_KEY, min_size=17, max_size=17))
    return _npz(poses_3d=poses, index=index, joint_names=np.array(names))


def record_file(data, ctx: Ctx) -> bytes:
    """Malformed result records: broken text, non-records, missing fields, foreign
    fingerprints, tampered protocol, other coverage or PSS models."""
    good = ctx.record
    valid = json.dumps(good).encode()
    kind = data.draw(st.sampled_from(["text", "truncated", "nondict", "drop", "dataset",
                                      "protocol", "coverage", "pss", "metrics_type"]))
    if kind == "text":
        return data.draw(st.text(max_size=200)).encode()
    if kind == "truncated":
        return valid[:data.draw(st.integers(0, len(valid) - 1))]
    if kind == "nondict":
        return json.dumps(data.draw(st.one_of(st.lists(st.integers(), max_size=3),
                                              st.integers(), st.text(max_size=10),
                                              st.none()))).encode()
    rec = json.loads(valid)
    if kind == "drop":
        del rec[data.draw(st.sampled_from(["format", "metrics", "dataset", "protocol"]))]
    elif kind == "dataset":
        rec["dataset"]["fingerprint"] = data.draw(st.text(alphabet="0123456789abcdef",
                                                          min_size=0, max_size=64)
                                                  .filter(lambda s: s != good["dataset"]
                                                          ["fingerprint"]))
    elif kind == "protocol":
        field = data.draw(st.sampled_from(["pck_threshold", "frame_stride", "root"]))
        rec["protocol"][field] = data.draw(st.one_of(st.integers(200, 10**6),
                                                     st.text(min_size=1, max_size=5)))
    elif kind == "coverage":
        rec["coverage"]["covered"] = data.draw(st.integers(0, good["coverage"]["covered"] - 1))
    elif kind == "pss":
        which = data.draw(st.integers(0, len(rec["pss_models"]) - 1))
        rec["pss_models"][which]["fingerprint"] = data.draw(st.text(min_size=1, max_size=12))
    else:
        rec["metrics"] = data.draw(st.one_of(st.lists(st.integers(), max_size=2),
                                             st.text(max_size=5), st.integers()))
    return json.dumps(rec).encode()


def pss_model_file(data, ctx: Ctx) -> bytes:
    kind = data.draw(st.sampled_from(["broken", "keys", "meta", "centres"]))
    if kind == "broken":
        return _broken_bytes(data, ctx.pss_model)
    if kind == "keys":
        return _wrong_keys(data, {"centres", "meta_json"})
    with np.load(io.BytesIO(ctx.pss_model)) as z:
        arrays = dict(z)
    if kind == "meta":
        arrays["meta_json"] = np.array(data.draw(st.text(max_size=50)))
    else:
        arrays["centres"] = np.zeros((data.draw(st.integers(1, 9)), 7))
    return _npz(**arrays)


def detections_file(data, ctx: Ctx) -> bytes:
    kind = data.draw(st.sampled_from(["broken", "keys", "shape", "dtype"]))
    if kind == "broken":
        return _broken_bytes(data, _npz(poses_2d=np.zeros((ctx.n_train, 17, 2))))
    if kind == "keys":
        return _wrong_keys(data, {"poses_2d"})
    if kind == "shape":
        shape = data.draw(st.sampled_from([(ctx.n_train - 1, 17, 2), (ctx.n_train, 17, 3),
                                           (ctx.n_train, 5, 2), (ctx.n_train, 34)]))
        return _npz(poses_2d=np.zeros(shape))
    return _npz(poses_2d=np.zeros((ctx.n_train, 17, 2)).astype(
        data.draw(st.sampled_from(["U4", "bool", "complex64"]))))


GENERATORS = {"predictions": predictions_file, "record": record_file,
              "pss_model": pss_model_file, "detections": detections_file}

#: command -> (kind of generated file, argv builder(file, ctx, example folder)).
#: One line adds a command to the suite.
FILE_COMMANDS = {
    "eval": ("predictions", lambda f, c, d: ["eval", f, "--dataset", str(c.root),
                                             "--out", str(d / "out.json")]),
    "check": ("record", lambda f, c, d: ["check", f, "--against", str(c.record_path)]),
    "check (as baseline)": ("record", lambda f, c, d: ["check", str(c.record_path),
                                                       "--against", f]),
    "pss show": ("pss_model", lambda f, c, d: ["pss", "show", f]),
    "eval --pss-model": ("pss_model", lambda f, c, d: [
        "eval", str(c.record_path.with_suffix(".npz")), "--dataset", str(c.root),
        "--pss-model", f, "--out", str(d / "out.json")]),
    "data prepare h36m videopose3d": ("predictions", lambda f, c, d: [
        "data", "prepare", "h36m", "--from", "videopose3d", f, "--name", "fuzzed"]),
    "geometry pseudo-labels": ("detections", lambda f, c, d: [
        "geometry", "pseudo-labels", "--dataset", str(c.root), "--split", "train",
        "--detections", f, "--out", str(d / "out.npz"), "--report", str(d / "out.json")]),
}
if "compare" in COMMANDS:  # the stats helper's `posebench compare A B`
    FILE_COMMANDS["compare"] = ("record", lambda f, c, d: ["compare", f, str(c.record_path)])


@pytest.fixture
def home(ctx, monkeypatch):
    monkeypatch.setenv("POSEBENCH_HOME", str(ctx.home))
    return ctx.home


@pytest.mark.parametrize("command", list(FILE_COMMANDS))
def test_malformed_files_give_one_line_errors(command, ctx, home):
    kind, argv = FILE_COMMANDS[command]
    examples = {"eval": 60, "check": 40}.get(command, 20)

    @fuzz(examples)
    @given(data=st.data())
    def run(data):
        d = _example_dir(ctx)
        suffix = ".json" if kind == "record" else ".npz"
        f = d / f"input{suffix}"
        f.write_bytes(GENERATORS[kind](data, ctx))
        expect_clean_error(ctx, argv(str(f), ctx, d), d, command)

    run()


_NOT_A_NAME = st.text(alphabet=string.ascii_letters + string.digits + "-_@.", min_size=1,
                      max_size=20)


@fuzz(60)
@given(data=st.data())
def test_malformed_options_give_one_line_errors(data, ctx, home):
    """Bad option values: tolerances, protocols, k, seeds, formats, dataset folders."""
    from posebench.data.protocols import list_protocols

    d = _example_dir(ctx)
    protocols = {p.name for p in list_protocols()}
    metrics = set(ctx.record["metrics"]) | {"pss"}
    kind = data.draw(st.sampled_from(["tolerance-name", "tolerance-value", "protocol",
                                      "pss-k", "dataset-folder", "prepare-folder"]))
    if kind == "tolerance-name":
        name = data.draw(_NOT_A_NAME.filter(lambda s: s not in metrics and "=" not in s))
        argv = ["check", str(ctx.record_path), "--against", str(ctx.record_path),
                "--tolerance", f"{name}={data.draw(st.floats(0, 10))}"]
    elif kind == "tolerance-value":
        value = data.draw(st.one_of(st.floats(max_value=-1e-9), st.just("nan"),
                                    st.just("inf"), st.text(alphabet="abc-+", min_size=1,
                                                            max_size=4)))
        argv = ["check", str(ctx.record_path), "--against", str(ctx.record_path),
                "--tolerance", f"mpjpe={value}"]
    elif kind == "protocol":
        name = data.draw(_NOT_A_NAME.filter(lambda s: s not in protocols))
        cmd = data.draw(st.sampled_from(["keys", "eval"]))
        argv = (["keys", "--dataset", str(ctx.root), "--out", str(d / "out.npz")]
                if cmd == "keys" else ["eval", str(ctx.record_path.with_suffix(".npz")),
                                       "--dataset", str(ctx.root), "--out",
                                       str(d / "out.json")]) + ["--protocol", name]
    elif kind == "pss-k":
        k = data.draw(st.one_of(st.integers(-10**6, 0), st.integers(10**5, 10**7)))
        argv = ["pss", "fit", "--dataset", str(ctx.root), "--k", str(k), "--out",
                str(d / "model")]
    elif kind == "dataset-folder":
        bad = d / "notadataset"
        bad.mkdir()
        if data.draw(st.booleans()):
            (bad / "meta.json").write_bytes(data.draw(st.binary(max_size=100)))
        cmd = data.draw(st.sampled_from(["keys", "pss", "geometry"]))
        argv = {"keys": ["keys", "--dataset", str(bad), "--out", str(d / "out.npz")],
                "pss": ["pss", "fit", "--dataset", str(bad), "--out", str(d / "model")],
                "geometry": ["geometry", "pseudo-labels", "--dataset", str(bad), "--out",
                             str(d / "out.npz")]}[cmd]
    else:
        layout = data.draw(st.sampled_from([("h36m", "mmpose"), ("h36m", "cdf"),
                                            ("3dhp", "mmpose"), ("3dhp", "mat"),
                                            ("mpii", "mmpose")]))
        src = d / "source"
        src.mkdir()
        for name in data.draw(st.lists(st.sampled_from(
                ["annotations/mpii_train.json", "annotations/h36m_train.npz", "TS1/annot_data.mat",
                 "cameras.pkl", "S1/MyPoses/D3_Positions/Walking.cdf"]), max_size=3, unique=True)):
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes(data.draw(st.binary(max_size=200)))
        argv = ["data", "prepare", layout[0], "--from", layout[1], str(src), "--name", "fuzzed"]
    expect_clean_error(ctx, argv, d, f"option: {kind}")


def test_zz_fuzz_counts():
    """Runs last in this file: the totals of the suite (printed with -s)."""
    if STATS["inputs tried"] == 0:
        pytest.skip("run with the rest of tests/test_fuzz_cli.py to collect counts")
    counts = {k: STATS[k] for k in ("inputs tried", "clean errors", "tracebacks",
                                    "files changed")}
    detail = {k: v for k, v in sorted(STATS.items()) if k.startswith("inputs: ")}
    print("\nfuzz counts:", json.dumps(counts), json.dumps(detail))
    if os.environ.get("POSEBENCH_FUZZ_COUNTS"):
        Path(os.environ["POSEBENCH_FUZZ_COUNTS"]).write_text(
            json.dumps({**counts, "by_command": detail}, indent=2) + "\n")
    assert counts["inputs tried"] >= 200
    assert counts["clean errors"] == counts["inputs tried"]
    assert counts["tracebacks"] == 0 and counts["files changed"] == 0

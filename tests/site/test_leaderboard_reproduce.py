"""`posebench leaderboard reproduce / add` on a freshly generated small leaderboard."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers_toy import toy_synth

from posebench.cli import main

ROWS = {"mean-pose": ["mean-pose"], "nearest-neighbour": ["nearest-neighbour"]}


@pytest.fixture(scope="module")
def fresh_board(tmp_path_factory):
    """Two rows made by `posebench run` + `posebench eval --output` on a toy synth dataset
    (provenance.command added here where this branch's eval does not merge it yet)."""
    import os

    base = tmp_path_factory.mktemp("repro")
    home = base / "home"
    old_home, old_cwd = os.environ.get("POSEBENCH_HOME"), os.getcwd()
    os.environ["POSEBENCH_HOME"] = str(home)
    toy_synth(home / "datasets" / "toy-synth")  # found by name: no machine path in commands
    board = base / "board"
    board.mkdir()
    try:
        os.chdir(base)
        for name, method in ROWS.items():
            cmd = ["posebench", "run", *method, "--dataset", "toy-synth", "--seed", "0",
                   "--out", f"{name}.npz"]
            assert main(cmd[1:]) == 0
            out = board / f"{name}.json"
            assert main(["eval", f"{name}.npz", "--dataset", "toy-synth", "--output",
                         str(out)]) == 0
            rec = json.loads(out.read_text())
            for m in rec["pss_models"]:  # portable, as the gate helper's eval writes them
                m["path"] = "$POSEBENCH_HOME/pss/" + Path(m["path"]).name
            rec.setdefault("provenance", {"kind": "run", "method": method[0], "seed": 0,
                                          "options": {}, "command": cmd})
            rec["method"] = name
            if not (rec.get("code") or {}).get("git_commit") and not rec.get("git_commit"):
                rec["code"] = {"posebench_version": "0.1.0", "git_commit": "0" * 40,
                               "git_dirty": None}  # a source tree without git
            out.write_text(json.dumps(rec, indent=1))
        assert main(["leaderboard", "build", str(board)]) == 0
    finally:
        os.chdir(old_cwd)
        if old_home is None:
            os.environ.pop("POSEBENCH_HOME", None)
        else:
            os.environ["POSEBENCH_HOME"] = old_home
    return board, home


@pytest.fixture
def board(fresh_board, tmp_path, monkeypatch):
    src, home = fresh_board
    monkeypatch.setenv("POSEBENCH_HOME", str(home))  # PSS models cached by the fixture
    dst = tmp_path / "board"
    shutil.copytree(src, dst)
    return dst


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_check_passes_on_a_fresh_board_and_writes_nothing(board, capsys):
    before = _snapshot(board)
    assert main(["leaderboard", "reproduce", str(board), "--check"]) == 0
    out = capsys.readouterr().out
    assert "mean-pose.json: reproduced (bit-for-bit" in out
    assert "nearest-neighbour.json: reproduced (bit-for-bit" in out
    assert "2 entries reproduced" in out
    assert _snapshot(board) == before


def test_check_fails_when_a_record_is_edited_by_hand(board, capsys):
    path = board / "mean-pose.json"
    rec = json.loads(path.read_text())
    rec["metrics"]["mpjpe"] -= 0.01  # a flattering hand edit
    path.write_text(json.dumps(rec, indent=1))
    before = _snapshot(board)
    assert main(["leaderboard", "reproduce", str(board), "--check", "--only", "mean-pose"]) == 1
    captured = capsys.readouterr()
    assert "mean-pose.json: MOVED" in captured.out and "mpjpe:" in captured.out
    assert "nearest-neighbour" not in captured.out  # --only
    assert _snapshot(board) == before
    # without --check the record is regenerated from its provenance and the tables rebuilt
    assert main(["leaderboard", "reproduce", str(board), "--only", "mean-pose"]) == 1
    assert json.loads(path.read_text())["metrics"]["mpjpe"] == rec["metrics"]["mpjpe"] + 0.01
    assert f"{rec['metrics']['mpjpe'] + 0.01:.2f}" in (board / "LEADERBOARD.md").read_text()


def test_add_validates_provenance_and_fingerprints(board, tmp_path, capsys):
    rec = json.loads((board / "mean-pose.json").read_text())
    new = tmp_path / "mp-copy.json"
    bad = dict(rec, provenance={"kind": "run"})
    new.write_text(json.dumps(bad))
    assert main(["leaderboard", "add", str(new), str(board)]) == 2
    assert "lacks provenance (method, seed, command" in capsys.readouterr().err
    foreign = json.loads(json.dumps(rec))
    foreign["dataset"]["fingerprint"] = "00" * 32
    new.write_text(json.dumps(foreign))
    assert main(["leaderboard", "add", str(new), str(board)]) == 2
    assert "dataset fingerprint 000000000000" in capsys.readouterr().err
    assert not (board / "mp-copy.json").exists()
    good = dict(rec, method="mean-pose copy",
                code={"posebench_version": "0.1.0", "git_commit": "0" * 40, "git_dirty": False})
    good.pop("per_sample", None)
    new.write_text(json.dumps(good))
    assert main(["leaderboard", "add", str(new), str(board)]) == 0
    assert (board / "mp-copy.json").is_file()
    assert "mean-pose copy" in (board / "LEADERBOARD.md").read_text()


def test_trained_rows_move_only_outside_their_interval_and_tolerance():
    """A trained row may land anywhere inside the old record's 95% interval, or within the
    gate's tolerance of the old value; beyond both (or NaN / missing) it has moved. An untrained
    row must be equal to the bit."""
    from posebench.leaderboard_ops import moved_metrics
    from posebench.results import DEFAULT_TOLERANCES

    tol = DEFAULT_TOLERANCES["mpjpe"]
    old = {"metrics": {"mpjpe": 50.0},
           "ci": {"mpjpe": {"low": 48.0, "high": 52.0, "level": 0.95}}}

    def new(v):
        return {"metrics": {"mpjpe": v}}

    assert moved_metrics(old, new(51.9), trained=True) == []  # inside the interval
    narrow = {"metrics": {"mpjpe": 50.0},
              "ci": {"mpjpe": {"low": 49.9, "high": 50.1, "level": 0.95}}}
    assert moved_metrics(narrow, new(50.0 + 0.9 * tol), trained=True) == []  # within tol
    assert moved_metrics(narrow, new(50.0 + 1.1 * tol), trained=True) != []
    far = 52.0 + tol + 0.1
    moved = moved_metrics(old, new(far), trained=True)
    assert len(moved) == 1 and "outside the record's 95% interval [48, 52]" in moved[0]
    no_ci = {"metrics": {"mpjpe": 50.0}}
    assert "no interval in the record" in moved_metrics(no_ci, new(50.0 + tol + 0.1), True)[0]
    assert "not finite" in moved_metrics(old, new(float("nan")), trained=True)[0]
    assert "missing" in moved_metrics(old, {"metrics": {}}, trained=True)[0]
    assert moved_metrics(old, new(50.0), trained=False) == []
    assert "bit-for-bit" in moved_metrics(old, new(50.0 + 1e-12), trained=False)[0]

"""Every `posebench` command in docs/predictions.md runs on files written in that layout."""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import reader_layouts as L  # noqa: E402

from posebench.cli import main  # noqa: E402

DOC = Path(__file__).resolve().parents[2] / "docs" / "predictions.md"


def _commands() -> list[list[str]]:
    blocks = re.findall(r"```(\w*)\n(.*?)```", DOC.read_text(), flags=re.S)
    return [shlex.split(line) for lang, b in blocks if not lang for line in b.splitlines()
            if line.startswith("posebench ")]


def test_doc_lists_one_command_per_codebase():
    froms = {c[c.index("--from") + 1] for c in _commands() if "--from" in c}
    assert froms == {"videopose3d", "motionbert", "mmpose", "learnable-triangulation"}


def test_every_documented_command_runs(tmp_path, monkeypatch, capsys, isolated_home):
    root, world = L.build(tmp_path)              # prepares 'h36m-readers' under the home
    os.symlink(root, isolated_home / "datasets" / "h36m")
    monkeypatch.chdir(tmp_path)
    L.write_videopose3d(tmp_path / "vp3d_predictions.npz", world)
    L.write_motionbert(tmp_path / "motionbert_h36m.npz", world)
    L.write_mmpose_dump(tmp_path / "mmpose_preds.pkl", world)
    cam = L.camera_mm("S11", world["S11"]["Greeting 2"])[:, 2] / 1000.0
    np.save(tmp_path / "export.npy", (cam - cam[:, :1]).astype(np.float32))
    res, labels = L.write_learnable_triangulation(tmp_path / "lt", world)
    res.rename(tmp_path / "results.pkl")
    labels.rename(tmp_path / "human36m-multiview-labels-GTbboxes.npy")
    cmds = _commands()
    assert len(cmds) == 7
    for cmd in cmds:
        args = cmd[1:] + (["--no-pss", "--format", "json"] if cmd[1] == "eval" else [])
        rc = main(args)
        out, err = capsys.readouterr()
        assert rc == 0, (cmd, err)
        if cmd[1] == "eval":
            rec = json.loads(out)
            assert rec["metrics"]["mpjpe"] == pytest.approx(0.0, abs=1e-3), cmd
            assert set(rec["predictions"]["read_as"]) >= {"layout", "units", "frame",
                                                          "joint_order", "transformations"}

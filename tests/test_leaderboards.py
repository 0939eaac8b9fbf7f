"""The committed leaderboards regenerate exactly from their records, and `check` accepts them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from posebench.results import build_leaderboard

BOARDS = Path(__file__).resolve().parents[1] / "leaderboards"


@pytest.mark.parametrize("board", sorted(p.name for p in BOARDS.iterdir() if p.is_dir()))
def test_committed_table_matches_its_records(board):
    md, csv, n = build_leaderboard(BOARDS / board)
    assert n >= 1
    assert (BOARDS / board / "LEADERBOARD.md").read_text() == md
    assert (BOARDS / board / "leaderboard.csv").read_text() == csv


def test_every_record_is_a_complete_result():
    for path in sorted(BOARDS.rglob("*.json")):
        rec = json.loads(path.read_text())
        assert rec["format"] == "posebench-result", path
        assert len(rec["dataset"]["fingerprint"]) == 64 and rec["protocol"]["name"], path
        for name in ("mpjpe", "p_mpjpe", "n_mpjpe", "pss@50", "pss@100"):
            assert name in rec["metrics"], (path, name)


def test_check_accepts_a_record_against_itself(capsys):
    from posebench.cli import main

    rec = BOARDS / "synth" / "simple-baseline-gt2d.json"
    assert main(["check", str(rec), "--against", str(rec)]) == 0

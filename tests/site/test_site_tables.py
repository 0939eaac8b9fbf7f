"""Leaderboard tables: intervals, rank ties from the paired test, provenance, skipped JSON."""

from __future__ import annotations

import csv
import io

import pytest
from helpers_board import install_comparison_standin, make_board

from posebench.leaderboard import build, build_leaderboard, collect


@pytest.fixture
def board(tmp_path, monkeypatch):
    install_comparison_standin(monkeypatch)
    return make_board(tmp_path / "board")


def test_ranks_tie_when_the_paired_difference_is_not_significant(board):
    items = next(iter(collect(board).groups.values()))
    assert [e.name for e in items] == ["alpha", "beta", "gamma", "delta"]
    # alpha/beta: same simulated mean (0.3 mm apart, 3 mm sequence noise) -> shared rank 1;
    # gamma is 20 mm worse, delta 50 mm worse than the row above -> ranks 3 and 4
    assert [(e.rank, e.tie) for e in items] == [(1, ""), (1, "="), (3, ""), (4, "")]


def test_markdown_shows_value_interval_rank_and_provenance(board):
    md, table, n, notes = build(board)
    assert n == 4
    assert notes == ["skipped notes.json: not a posebench result record"]
    import json

    rec = json.loads((board / "gamma.json").read_text())
    lo, hi = rec["ci"]["mpjpe"]["low"], rec["ci"]["mpjpe"]["high"]
    row = next(line for line in md.splitlines() if "| gamma" in line)
    assert f"{rec['metrics']['mpjpe']:.2f} [{lo:.2f}, {hi:.2f}]" in row
    assert row.startswith("| 3 ")
    assert "0123456789 s3 1.8s" in row  # commit[:10], clean, seed 3, fit 1.5 + predict 0.25
    beta = next(line for line in md.splitlines() if "| beta" in line)
    assert beta.startswith("| 1= ")
    assert "100.0%" in row
    rows = list(csv.DictReader(io.StringIO(table)))
    g = next(r for r in rows if r["method"] == "gamma")
    assert float(g["mpjpe_low"]) == lo and float(g["mpjpe_high"]) == hi
    assert (g["rank"], g["tie"], g["dirty"], g["seed"], g["cpu_s"]) == ("3", "", "0", "3", "1.75")


def test_ranks_marked_untested_without_per_sample_results(board):
    (board / "beta.samples.npz").unlink()
    items = next(iter(collect(board).groups.values()))
    assert [(e.name, e.tie) for e in items][:3] == [("alpha", ""), ("beta", "?"), ("gamma", "?")]


def test_non_record_json_is_skipped_not_fatal(board):
    md, _csv, n = build_leaderboard(board)
    assert n == 4 and "note: skipped notes.json" in md


def test_gallery_finds_the_model_under_the_default_home(tmp_path, monkeypatch):
    """A record naming `$POSEBENCH_HOME/pss/<file>` with POSEBENCH_HOME unset: the file is
    looked up where posebench caches it (posebench_home(): ~/.cache/posebench)."""
    import json

    from helpers_board import write_pss_model

    from posebench.data.registry import posebench_home
    from posebench.site.data import _model_file

    monkeypatch.delenv("POSEBENCH_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cache = posebench_home() / "pss"
    assert cache == tmp_path / "home" / ".cache" / "posebench" / "pss"
    cache.mkdir(parents=True)
    model = write_pss_model(cache)
    board = make_board(tmp_path / "board")
    entry = next(e for items in collect(board).groups.values() for e in items)
    entry.record["pss_models"] = [{"k": 50, "path": "$POSEBENCH_HOME/pss/" + model.name}]
    (board / model.name).unlink(missing_ok=True)
    assert _model_file(entry, "pss@50") == model
    assert json.dumps(entry.record)  # still a plain record

"""`posebench check --summary / $GITHUB_STEP_SUMMARY / --require-significant` (gate_summary)."""

from __future__ import annotations

import json

import pytest
from helpers_board import install_comparison_standin, make_board

from posebench.cli import main
from posebench.gate_summary import is_trained, summarize


@pytest.fixture
def board(tmp_path, monkeypatch):
    install_comparison_standin(monkeypatch)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return make_board(tmp_path / "board")


def _row(md: str, metric: str) -> list[str]:
    line = next(x for x in md.splitlines() if x.startswith(f"| {metric} |"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_regression_summary_names_delta_interval_and_status(board, tmp_path):
    out = tmp_path / "summary.md"
    code = main(["check", str(board / "gamma.json"), "--against", str(board / "alpha.json"),
                 "--summary", str(out)])
    assert code == 1
    md = out.read_text()
    assert md.startswith("### posebench check: :x: regression in mpjpe, pss@50")
    g, a = (json.loads((board / f"{n}.json").read_text())["metrics"] for n in ("gamma", "alpha"))
    row = _row(md, "mpjpe")
    assert row[1:4] == [f"{a['mpjpe']:.3f}", f"{g['mpjpe']:.3f}",
                        f"{g['mpjpe'] - a['mpjpe']:+.3f}"]
    assert row[4].endswith("(paired, p=" + row[4].split("p=")[1]) and row[6] == ":x: regression"
    lo, hi = (float(x) for x in row[4].split("]")[0].strip("[").split(","))
    assert 0 < lo < g["mpjpe"] - a["mpjpe"] < hi  # the paired interval brackets the delta
    assert md.rstrip().endswith("Exit code 1.")


def test_pass_summary_goes_to_github_step_summary(board, tmp_path, monkeypatch):
    out = tmp_path / "gh.md"
    out.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(out))
    assert main(["check", str(board / "alpha.json"), "--against", str(board / "alpha.json")]) == 0
    md = out.read_text()
    assert md.startswith("earlier step\n### posebench check: :white_check_mark: no regression")
    assert _row(md, "mpjpe")[3:5] == ["+0.000", "[+0.000, +0.000] (paired, p=1.000)"]


def test_require_significant_turns_a_non_significant_breach_into_a_pass(board, tmp_path):
    # beta is 1.3 mm worse than alpha (> 0.5 mm tolerance) but within sequence noise
    args = ["check", str(board / "beta.json"), "--against", str(board / "alpha.json")]
    assert main(args) == 1
    s = summarize(board / "beta.json", board / "alpha.json", require_significant=True)
    row = next(r for r in s.rows if r.metric == "mpjpe")
    assert row.delta > 0.5 and row.interval[0] <= 0 <= row.interval[1]
    assert row.status == "not significant"
    out = tmp_path / "s.md"
    assert main([*args, "--require-significant", "--summary", str(out)]) == 0
    assert _row(out.read_text(), "mpjpe")[6] == ":white_check_mark: not significant"
    # ... while a significant breach still fails with the option
    assert main(["check", str(board / "gamma.json"), "--against", str(board / "alpha.json"),
                 "--require-significant"]) == 1


def test_trained_method_defaults_to_the_paired_test(board):
    rec = json.loads((board / "beta.json").read_text())
    rec["provenance"]["environment"]["torch_threads"] = 2
    (board / "beta.json").write_text(json.dumps(rec))
    assert is_trained(rec)
    assert main(["check", str(board / "beta.json"), "--against", str(board / "alpha.json")]) == 0


def test_trained_without_per_sample_uses_the_baseline_interval(board):
    for name in ("alpha", "beta"):
        rec = json.loads((board / f"{name}.json").read_text())
        rec.pop("per_sample")
        rec["provenance"]["kind"] = "reproduce"
        (board / f"{name}.json").write_text(json.dumps(rec))
    s = summarize(board / "beta.json", board / "alpha.json")
    row = next(r for r in s.rows if r.metric == "mpjpe")
    base = json.loads((board / "alpha.json").read_text())["ci"]["mpjpe"]
    assert row.interval == (base["low"], base["high"]) and row.interval_kind == "baseline"
    assert row.delta > 0.5 and base["low"] <= row.result <= base["high"]
    assert row.status == "within CI"
    assert main(["check", str(board / "beta.json"), "--against", str(board / "alpha.json")]) == 0
    # the same breach for an untrained method stays a regression
    for name in ("alpha", "beta"):
        rec = json.loads((board / f"{name}.json").read_text())
        rec["provenance"]["kind"] = "run"
        (board / f"{name}.json").write_text(json.dumps(rec))
    assert main(["check", str(board / "beta.json"), "--against", str(board / "alpha.json")]) == 1


def test_refused_comparison_exits_2_with_a_summary(board, tmp_path):
    rec = json.loads((board / "gamma.json").read_text())
    rec["dataset"]["fingerprint"] = "00" * 32
    (board / "gamma.json").write_text(json.dumps(rec))
    out = tmp_path / "s.md"
    assert main(["check", str(board / "gamma.json"), "--against", str(board / "alpha.json"),
                 "--summary", str(out)]) == 2
    assert out.read_text().startswith("### posebench check: :no_entry: refused")


def test_small_p_values_are_printed_not_rounded_to_zero():
    """(c + 1) / (n + 1) is never 0: 1/2001 prints as 0.0005, not 0.000."""
    from posebench.gate_summary import format_p

    assert format_p(1 / 2001) == "0.0005"
    assert format_p(0.0045) == "0.0045"
    assert format_p(0.118) == "0.118"
    assert format_p(1.0) == "1.000"

"""Result records, leaderboard build and the regression gate (library + CLI exit codes)."""

from __future__ import annotations

import copy
import csv
import io
import json

import numpy as np
import pytest
from helpers_toy import toy_synth

import posebench
from posebench.cli import main
from posebench.data.dataset import read_split
from posebench.data.protocols import get_protocol
from posebench.errors import InputError
from posebench.leaderboard import build_leaderboard
from posebench.results import (
    GateRefused,
    compare_results,
    gate,
    load_result,
    parse_tolerances,
    protocol_fingerprint,
    write_result,
)


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """Two result records on the same toy set: 'good' (10 mm noise) and 'bad' (40 mm)."""
    base = tmp_path_factory.mktemp("res")
    root = toy_synth(base / "toy-synth")
    test = read_split(root, "test")
    rng = np.random.default_rng(0)
    out = {}
    mp = pytest.MonkeyPatch()  # module scope: keep the PSS cache out of the user's home
    mp.setenv("POSEBENCH_HOME", str(base / "home"))
    try:
        for name, sigma in (("good", 10.0), ("bad", 40.0)):
            preds = test.poses_3d + rng.normal(0, sigma, test.poses_3d.shape)
            rec = posebench.evaluate(preds, dataset=root, pss_k=(50,)).record()
            rec["method"] = name
            out[name] = rec
    finally:
        mp.undo()
    return out


def test_protocol_fingerprint_ignores_cosmetics_only():
    d = get_protocol("h36m-p1").to_dict()
    renamed = {**d, "name": "x", "description": "y", "source": "z",
               "extra": {**d["extra"], "headline": "p_mpjpe"}}
    assert protocol_fingerprint(renamed) == protocol_fingerprint(d)
    assert protocol_fingerprint({**d, "frame_stride": 64}) != protocol_fingerprint(d)
    assert protocol_fingerprint(get_protocol("h36m-p2").to_dict()) == protocol_fingerprint(d)
    assert protocol_fingerprint(get_protocol("h36m-every64").to_dict()) != protocol_fingerprint(d)


def test_write_and_load_result(records, tmp_path):
    p = write_result(tmp_path / "r.json", records["good"])
    assert load_result(p)["metrics"] == records["good"]["metrics"]
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_result(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(InputError, match="not a posebench result"):
        load_result(tmp_path / "other.json")


def test_compare_detects_regression_and_improvement(records):
    good, bad = records["good"], records["bad"]
    same = compare_results(good, good)
    assert same.ok and all(r[5] == "ok" for r in same.rows)
    worse = compare_results(bad, good)
    assert not worse.ok and {"mpjpe", "p_mpjpe", "n_mpjpe"} <= set(worse.regressions)
    better = compare_results(good, bad)
    assert better.ok and any(r[5] == "better" for r in better.rows)
    # a tolerance wide enough accepts the regression
    assert compare_results(bad, good, parse_tolerances(["1000"])).ok


def test_tolerance_is_exclusive_per_metric_direction(records):
    base = records["good"]
    res = copy.deepcopy(base)
    res["metrics"]["mpjpe"] += 0.4   # worse but within 0.5 mm
    res["metrics"]["pck"] -= 0.6     # worse by more than 0.5 points
    out = compare_results(res, base)
    assert out.regressions == ["pck"]
    out = compare_results(res, base, parse_tolerances(["pck=1", "mpjpe=0.1"]))
    assert out.regressions == ["mpjpe"]


def test_compare_refuses_different_data_or_protocol(records):
    good = records["good"]
    other = copy.deepcopy(good)
    other["dataset"]["fingerprint"] = "0" * 64
    with pytest.raises(InputError, match="dataset fingerprint"):
        compare_results(other, good)
    other = copy.deepcopy(good)
    other["protocol"]["frame_stride"] = 64
    other.pop("protocol_fingerprint")
    with pytest.raises(InputError, match="protocol"):
        compare_results(other, good)
    other = copy.deepcopy(good)
    other["coverage"]["covered"] -= 1
    with pytest.raises(InputError, match="samples"):
        compare_results(other, good)


def test_gate_refuses_foreign_pss_models(records):
    good = records["good"]
    other = copy.deepcopy(good)
    other["pss_models"][0]["fingerprint"] = "f" * 64
    with pytest.raises(GateRefused, match="PSS model") as info:
        compare_results(other, good)
    assert info.value.rule == "pss-model"
    unrecorded = copy.deepcopy(good)
    unrecorded["pss_models"] = []
    out = gate(unrecorded, good)
    assert out.refused[0] == "pss-model" and out.exit_code == 2


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), None, "12.5"])
def test_gate_fails_closed_on_non_finite_metric(records, bad):
    good = records["good"]
    res = copy.deepcopy(good)
    res["metrics"]["mpjpe"] = bad
    out = compare_results(res, good)
    assert not out.ok and out.exit_code == 1 and out.regressions == ["mpjpe"]
    row = next(r for r in out.to_dict()["rows"] if r["metric"] == "mpjpe")
    assert row["rule"] == "not-finite" and row["status"] == "REGRESSION"
    # a NaN baseline is not a free pass either
    assert compare_results(good, res).regressions == ["mpjpe"]


def test_gate_fails_closed_on_missing_metric(records):
    good = records["good"]
    res = copy.deepcopy(good)
    del res["metrics"]["pss@50"], res["metrics"]["auc"]
    out = compare_results(res, good)
    assert sorted(out.regressions) == ["auc", "pss@50"] and out.exit_code == 1
    rules = {r["metric"]: r["rule"] for r in out.to_dict()["rows"]}
    assert rules["auc"] == rules["pss@50"] == "missing-metric"
    assert rules["mpjpe"] == "within-tolerance"
    # an extra metric in the result is reported, never gated
    extra = copy.deepcopy(good)
    extra["metrics"]["mpjve"] = 1.0
    out = compare_results(extra, good)
    assert out.ok and ("mpjve", "not-in-baseline") in {(r[0], r[6]) for r in out.rows}


def test_gate_refusal_rules_are_named(records):
    good = records["good"]
    cases = {"dataset-fingerprint": lambda r: r["dataset"].update(fingerprint="0" * 64),
             "protocol-fingerprint": lambda r: (r["protocol"].update(pck_threshold=100.0),
                                                r.pop("protocol_fingerprint")),
             "coverage": lambda r: r["coverage"].update(covered=1),
             "no-provenance": lambda r: r.pop("dataset")}
    for rule, mutate in cases.items():
        other = copy.deepcopy(good)
        mutate(other)
        out = gate(other, good)
        assert out.refused[0] == rule and out.exit_code == 2, rule
        assert json.loads(out.render("json"))["refused"]["rule"] == rule
    empty = copy.deepcopy(good)
    empty["metrics"] = {}
    assert gate(good, empty).refused[0] == "no-metrics"


def test_gate_refuses_a_record_whose_protocol_was_edited(records):
    good = records["good"]
    edited = copy.deepcopy(good)
    edited["protocol"]["pck_threshold"] = 100.0  # fingerprint left as it was
    out = gate(edited, good)
    assert out.refused[0] == "protocol-fingerprint" and "edited" in out.refused[1]
    assert gate(good, edited).refused[0] == "protocol-fingerprint"


def test_gate_tolerance_typo_names_known_metrics(records):
    good = records["good"]
    with pytest.raises(InputError, match="mpjep.*mpjpe"):
        compare_results(good, good, parse_tolerances(["mpjep=0.1"]))
    assert compare_results(good, good, parse_tolerances(["pss=0.1", "pss@50=0.2"])).ok


def test_cli_check_output_names_the_rule(records, tmp_path, capsys):
    g = write_result(tmp_path / "good.json", records["good"])
    nan = copy.deepcopy(records["good"])
    nan["metrics"] = {k: float("nan") for k in nan["metrics"]}
    n = write_result(tmp_path / "nan.json", nan)
    assert main(["check", str(n), "--against", str(g), "--format", "json"]) == 1
    out = capsys.readouterr().out
    payload = json.loads(out[:out.rindex("}") + 1])
    assert payload["exit_code"] == 1 and {r["rule"] for r in payload["rows"]} == {"not-finite"}
    assert main(["check", str(n), "--against", str(g), "--format", "markdown"]) == 1
    md = capsys.readouterr().out
    assert "| rule" in md.replace("|   rule", "| rule") or "rule" in md.splitlines()[0]
    assert "not-finite" in md and "REGRESSION" in md
    pss = copy.deepcopy(records["good"])
    pss["pss_models"][0]["fingerprint"] = "e" * 64
    p = write_result(tmp_path / "pss.json", pss)
    assert main(["check", str(p), "--against", str(g)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "PSS model" in err
    assert main(["check", str(g), "--against", str(g), "--tolerance", "mpjep=0.1"]) == 2
    err = capsys.readouterr().err
    assert "mpjep" in err and "mpjpe" in err and "Traceback" not in err


def test_parse_tolerances_errors():
    assert parse_tolerances(["0.2", "pss=0.01"]) == {"*": 0.2, "pss": 0.01}
    with pytest.raises(InputError):
        parse_tolerances(["mpjpe=abc"])
    with pytest.raises(InputError):
        parse_tolerances(["-1"])


def test_leaderboard_build_sorts_by_headline(records, tmp_path):
    for name, rec in records.items():
        write_result(tmp_path / f"{name}.json", rec)
    md, table, n = build_leaderboard(tmp_path)
    assert n == 2
    assert md.index("| good") < md.index("| bad")  # lower MPJPE first
    rows = list(csv.DictReader(io.StringIO(table)))
    assert [r["method"] for r in rows] == ["good", "bad"]
    assert float(rows[0]["mpjpe"]) == pytest.approx(records["good"]["metrics"]["mpjpe"])
    assert rows[0]["dataset_fingerprint"] == records["good"]["dataset"]["fingerprint"]


def test_cli_check_exit_codes(records, tmp_path, capsys):
    g = write_result(tmp_path / "good.json", records["good"])
    b = write_result(tmp_path / "bad.json", records["bad"])
    assert main(["check", str(g), "--against", str(g)]) == 0
    assert "OK: no regression" in capsys.readouterr().out
    assert main(["check", str(b), "--against", str(g)]) == 1
    out, err = capsys.readouterr()
    assert "REGRESSION" in out and "Traceback" not in err
    assert main(["check", str(b), "--against", str(g), "--tolerance", "1000"]) == 0
    capsys.readouterr()
    other = copy.deepcopy(records["good"])
    other["dataset"]["fingerprint"] = "0" * 64
    o = write_result(tmp_path / "other.json", other)
    assert main(["check", str(o), "--against", str(g)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert main(["check", str(tmp_path / "missing.json"), "--against", str(g)]) == 2


def test_cli_leaderboard_build(records, tmp_path, capsys):
    folder = tmp_path / "lb"
    for name, rec in records.items():
        write_result(folder / f"{name}.json", rec)
    assert main(["leaderboard", "build", str(folder)]) == 0
    assert (folder / "LEADERBOARD.md").read_text().startswith("# Leaderboard")
    assert (folder / "leaderboard.csv").read_text().count("\n") == 3
    assert main(["leaderboard", "build", str(tmp_path / "empty")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["leaderboard", "build", str(tmp_path / "empty")]) == 2


def test_record_is_plain_json(records):
    text = json.dumps(records["good"])
    back = json.loads(text)
    assert back["format"] == "posebench-result" and back["protocol"]["name"] == "synth"
    assert {"timestamp", "git_commit", "posebench_version", "pss_models"} <= set(back)

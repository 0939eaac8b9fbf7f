"""The default synth test split ("sequences" layout): many short strided sequences at the crop
budget of the old 2-subject layout, the training split untouched, and the power it buys."""

from __future__ import annotations

import numpy as np
import pytest

from posebench.data.dataset import read_split
from posebench.errors import InputError
from posebench.synth.build import SynthOptions, build, heldout_subject_names

FPA = 20


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    d = tmp_path_factory.mktemp("layouts")
    out = {}
    for layout in ("sequences", "h36m"):
        out[layout] = build(d / layout, SynthOptions(images=False, frames_per_action=FPA,
                                                     test_layout=layout))
    return out


def test_sequences_layout_same_budget_train_unchanged(layouts):
    new, old = read_split(layouts["sequences"], "test"), read_split(layouts["h36m"], "test")
    assert len(new) == len(old) == 2 * 10 * FPA * 4  # same crop budget
    assert read_split(layouts["sequences"], "train").fingerprint() == \
        read_split(layouts["h36m"], "train").fingerprint()
    assert sorted(set(old.keys.subject)) == ["S11", "S9"]
    assert sorted(set(new.keys.subject)) == sorted(["S9", "S11", *(f"S{i}" for i in
                                                                   range(12, 18))])
    assert sorted(set(new.keys.subaction)) == [1, 2, 3, 4, 5]
    seq = {(s, a, u) for s, a, u in zip(new.keys.subject, new.keys.action, new.keys.subaction)}
    assert len(seq) == 8 * 10 * 5  # 400 sequences (old: 20)
    assert set(np.unique(new.keys.frame) % FPA) == {0}  # one frame per clip at FPA=20
    assert set(new.keys.camera) == set(old.keys.camera)


def test_more_sequences_narrow_the_block_interval(layouts):
    from posebench.evaluation import evaluate
    from posebench.methods import run_method

    widths = {}
    for layout, root in layouts.items():
        res = run_method("nearest-neighbour", str(root))
        rep = evaluate(res.poses_3d[np.argsort(res.index)], dataset=root, pss_k=(),
                       n_boot=1000)
        ci = rep.summary["ci"]["mpjpe"]
        widths[layout] = ci["high"] - ci["low"]
        assert ci["blocks"] == (400 if layout == "sequences" else 20)
    assert widths["sequences"] < 0.5 * widths["h36m"], widths


def test_heldout_names_and_bad_layout(tmp_path):
    assert heldout_subject_names(["S1", "S12"], ["S9"], 3) == ["S9", "S13", "S14"]
    assert heldout_subject_names(["S1"], ["S9", "S11"], 1) == ["S9", "S11"]
    with pytest.raises(InputError, match="test layout"):
        build(tmp_path / "x", SynthOptions(images=False, frames_per_action=2,
                                           test_layout="nope"))

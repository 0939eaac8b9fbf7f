"""EpipolarPose 2D pre-training on an MPII dataset prepared from mmpose's layout."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from mpii_layout import write_layout

torch = pytest.importorskip("torch")

from posebench.data.dataset import read_split  # noqa: E402
from posebench.data.prepare import prepare  # noqa: E402
from posebench.errors import InputError  # noqa: E402
from reference_models.epipolarpose.pipeline import pretrain_split_name  # noqa: E402
from reference_models.epipolarpose.trainer import train  # noqa: E402

TINY = {"threads": 1, "mode": "pretrain-2d",
        "model": {"depth": 18, "width": 0.25, "image_size": 32, "depth_bins": 8,
                  "deconv_channels": 32},
        "optim": {"batch_size": 3, "epochs": 30, "lr_milestones": [100], "loss": "l1"},
        "data": {"dataset": "h36m", "pretrain_dataset": "mpii", "pretrain_split": "train2d"},
        "run": {"checkpoint_every": 100, "log_every": 5, "eval_every": 0, "progress": False}}


@pytest.fixture
def mpii_home(tmp_path, isolated_home):
    """MPII prepared at 32 px into $POSEBENCH_HOME/datasets/mpii."""
    write_layout(tmp_path / "mpii_src")
    return prepare("mpii", "mmpose", tmp_path / "mpii_src", name="mpii",
                   options={"image_size": 32})


def test_pretrain_2d_on_mpii_lowers_the_loss(mpii_home, tmp_path):
    run = train(TINY, tmp_path / "run")  # 'h36m' is never loaded: only the MPII split is used
    with open(run / "log.csv", newline="") as fh:
        losses = [float(r["loss"]) for r in csv.DictReader(fh) if r["loss"]]
    assert len(losses) == 6 and np.isfinite(losses).all()
    assert losses[-1] < 0.7 * losses[0]
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert state["step"] == 30 and state["config"]["data"]["pretrain_dataset"] == "mpii"


def test_injected_split_and_size_mismatch(mpii_home, tmp_path):
    ds = read_split(mpii_home, "train2d")
    cfg = {**TINY, "data": {**TINY["data"], "pretrain_dataset": "other"},
           "optim": {**TINY["optim"], "epochs": 1}}
    run = train(cfg, tmp_path / "run", datasets={"other:train2d": ds})
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 1
    big = {**cfg, "model": {**cfg["model"], "image_size": 64}}
    with pytest.raises(InputError, match="--image-size 64"):
        train(big, tmp_path / "big", datasets={"other:train2d": ds})


def test_reproduce_picks_the_pretrain_dataset_split(mpii_home):
    notes: list = []
    prof = {"data": {"pretrain_dataset": "mpii", "train_split": "train"}}
    assert pretrain_split_name({"train": None, "test": None}, prof, notes, "h36m") == "train2d"
    assert notes == ["2D pre-training used split 'train2d' of dataset 'mpii'"]
    with pytest.raises(InputError, match="no split 'extra'"):
        pretrain_split_name({}, {"data": {**prof["data"], "pretrain_split": "extra"}}, [], "h36m")
    # without pretrain_dataset (or naming the run's own dataset) nothing changes
    notes = []
    assert pretrain_split_name({"train": None}, {"data": {}}, notes, "synth") == "train"
    assert pretrain_split_name({"train2d": None}, {"data": {"pretrain_dataset": "synth"}}, notes,
                               "synth") == "train2d"

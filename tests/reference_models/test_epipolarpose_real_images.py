"""Real-image smoke path: the 4 real Human3.6M frames of mmpose's test data (../shared).

Prepared with --images (the official 2000 mm pelvis box), the crops hold every joint and the
pelvis at their centre; every stage the data allows runs a few steps (2D pre-training on them,
fully-supervised 3D) and the evaluation path gives finite numbers. The 4 frames are 4 different
subjects seen by one camera each, so the self-supervised stages (which triangulate synchronised
views) are refused up front, in one sentence, before any training.
"""

from __future__ import annotations

import numpy as np
import pytest

from posebench.cli import main
from posebench.data.dataset import read_meta, read_split
from posebench.errors import InputError

torch = pytest.importorskip("torch")

S = 32
TINY = {"threads": 1, "seed": 0,
        "model": {"depth": 18, "width": 0.25, "image_size": S, "depth_bins": 8,
                  "deconv_channels": 16},
        "optim": {"batch_size": 4, "epochs": 100, "max_steps": 4, "lr_milestones": []},
        "data": {"dataset": "h36m-real", "pretrain_split": "train", "train_split": "train"},
        "run": {"checkpoint_every": 4, "log_every": 2, "eval_every": 0, "progress": False},
        "augment": {"enabled": True}}


@pytest.fixture
def real(shared_fixtures, tmp_path, monkeypatch):
    h36m = shared_fixtures / "mmpose" / "h36m"
    if not (h36m / "S1").is_dir():
        pytest.skip("the real Human3.6M frames are not in the shared fixtures")
    monkeypatch.setenv("POSEBENCH_HOME", str(tmp_path))
    assert main(["data", "prepare", "h36m", "--from", "mmpose", str(h36m), "--images",
                 str(h36m), "--image-size", str(S), "--name", "h36m-real"]) == 0
    return tmp_path / "datasets" / "h36m-real"


def test_real_frames_crops_train_and_evaluate(real, tmp_path):
    from posebench import metrics as M
    from reference_models.epipolarpose.evaluate import predict
    from reference_models.epipolarpose.preflight import check_multiview
    from reference_models.epipolarpose.trainer import train

    ds = read_split(real, "train")
    assert read_meta(real)["images"]["sources"]["train"] == {"frames": 4, "video": 0}
    assert ds.images.shape == (4, S, S, 3)
    uv = np.einsum("nij,nkj->nki", ds.crop_affine[:, :, :2], ds.poses_2d) \
        + ds.crop_affine[:, None, :, 2]
    assert uv.min() > 0 and uv.max() < S - 1                 # every joint inside the crop
    assert np.abs(uv[:, 0] - (S - 1) / 2).max() < 0.5        # the pelvis at the centre
    assert not ds.extra["crop_outside"].any()
    # the person is brighter / more varied than the black padding: the crops are real pixels
    assert ds.images.reshape(4, -1).std(axis=1).min() > 10
    data = {"train": ds}
    pre = train({**TINY, "mode": "pretrain-2d"}, tmp_path / "pre", datasets=data)
    fs = train({**TINY, "mode": "fully-supervised", "init_checkpoint": str(pre / "checkpoint.pt")},
               tmp_path / "fs", datasets=data)
    for run in (pre, fs):
        pred = predict(run, ds, root_relative=True)
        gt = ds.poses_3d - ds.poses_3d[:, :1]
        err = M.mpjpe(pred, gt)
        assert pred.shape == (4, 17, 3) and np.isfinite(pred).all() and np.isfinite(err).all()
        assert (err > 0).all() and (err < 2000).all()
    with pytest.raises(InputError, match="one camera per frame"):
        check_multiview(ds, "variant ss-known")

"""Person crops for Human3.6M / MPI-INF-3DHP from frames and videos (posebench.data.crops)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from posebench.cli import main
from posebench.data.adapters.mpii_mmpose import crop_affines, sample_crops
from posebench.data.crops import boxes_outside, joint_boxes, official_boxes
from posebench.data.dataset import read_meta, read_split

sys.path.insert(0, str(Path(__file__).parent))
from h36m_image_layouts import (  # noqa: E402
    synth_splits,
    write_synth_mmpose,
    write_video,
)

VIDEO_SEQ = ("S9", "Directions", "54138969")


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    """mmpose layout (npz + JPEG frames) of a small synthetic Human3.6M; one test sequence
    only as a release video."""
    pytest.importorskip("av")
    root = tmp_path_factory.mktemp("h36m-images")
    splits = synth_splits(root / "synth", frames=7)  # >= 100 training poses (PSS@100)
    images = write_synth_mmpose(root, splits, skip_frames_of=VIDEO_SEQ)
    write_video(images, splits["test"], *VIDEO_SEQ)
    return root, images, splits


def _result(out, variant: str):
    """The record `reproduce` wrote for `variant` (epipolarpose-<profile>-<variant>.json)."""
    (path,) = (out / "results").glob(f"epipolarpose-*-{variant}.json")
    return path


def _prepare(home, monkeypatch, *args) -> int:
    monkeypatch.setenv("POSEBENCH_HOME", str(home))
    return main(["data", "prepare", "h36m", *args])


def _expected_crop(synth_ds, i, affine, size):
    """Our crop predicted from the synthetic renderer's own crop: compose the two affines.
    -> (S, S, 3) expected pixels, (S, S) mask of pixels inside both that crop and the frame."""
    A_syn = np.vstack([synth_ds.crop_affine[i], [0, 0, 1]])
    A_our = np.vstack([affine, [0, 0, 1]])
    comp = (A_our @ np.linalg.inv(A_syn))[None, :2]
    src = np.ascontiguousarray(synth_ds.images[i])
    ci = synth_ds.camera_index[i]
    jj, ii = np.meshgrid(np.arange(size), np.arange(size))
    uv = (np.stack([jj, ii], -1) - affine[:, 2]) @ np.linalg.inv(affine[:, :2]).T
    in_frame = (uv >= 0).all(-1) & (uv[..., 0] <= synth_ds.cameras.width[ci] - 1) \
        & (uv[..., 1] <= synth_ds.cameras.height[ci] - 1)
    inside = (sample_crops(np.full_like(src, 255), comp, size)[0, ..., 0] == 255) & in_frame
    return sample_crops(src, comp, size)[0].astype(int), inside


def test_crops_from_mmpose_frames_and_a_release_video(layout, tmp_path, monkeypatch, capsys):
    root, images, splits = layout
    S = 128  # no box pre-filter at this size: the comparison below is sharp
    assert _prepare(tmp_path, monkeypatch, "--from", "mmpose", str(root), "--images",
                    str(images), "--image-size", str(S)) == 0
    assert "128 px crops" in capsys.readouterr().out
    d = tmp_path / "datasets" / "h36m"
    meta = read_meta(d)
    n_test, n_train = len(splits["test"]), len(splits["train"])
    assert meta["images"]["sources"]["test"] == {"frames": n_test - 7, "video": 7}
    assert meta["images"]["sources"]["train"] == {"frames": n_train, "video": 0}
    for split in ("train", "test"):
        ds = read_split(d, split)
        syn = splits[split]
        assert ds.images.shape == (len(syn), S, S, 3)
        assert np.array_equal(ds.keys.as_strings(), syn.keys.as_strings())
        # joints inside the crop (the official 2000 mm pelvis box can cut a stretched limb's
        # tip: 99% inside), the root at its centre (the box is centred on the pinhole
        # projection; the lens distortion moves the root by < 4 px)
        uv = np.einsum("nij,nkj->nki", ds.crop_affine[:, :, :2], ds.poses_2d) \
            + ds.crop_affine[:, None, :, 2]
        inside = ((uv > 0) & (uv < S - 1)).all(axis=-1)
        assert inside.mean() > 0.99 and inside[:, 0].all()
        assert np.abs(uv[:, 0] - (S - 1) / 2).max() < 4.0
        # the 2000 mm box: side = 2000 * f / Z_root
        f = ds.cameras.f[ds.camera_index].mean(-1)
        assert np.allclose(ds.extra["crop_side"], 2000 * f / ds.poses_3d[:, 0, 2])
        # the pixels are what the affine says: compare with the renderer's own crop
        video = (ds.keys.subject == VIDEO_SEQ[0]) & (ds.keys.action == VIDEO_SEQ[1]) \
            & (ds.keys.camera == VIDEO_SEQ[2])
        for i in np.flatnonzero(video | (np.arange(len(ds)) % 4 == 0)):
            want, inside = _expected_crop(syn, i, ds.crop_affine[i], S)
            err = np.abs(ds.images[i].astype(int) - want)[inside].mean()
            assert err < (6.0 if video[i] else 3.0), (i, err)
        if split == "test":
            assert video.sum() == 7


def test_frame_stride_and_missing_frames(layout, tmp_path, monkeypatch, capsys):
    root, images, _ = layout
    assert _prepare(tmp_path, monkeypatch, "--from", "mmpose", str(root), "--images",
                    str(images), "--image-size", "32", "--frame-stride", "train=2,test=3",
                    "--name", "strided") == 0
    d = tmp_path / "datasets" / "strided"
    assert set(read_split(d, "train").keys.frame.tolist()) == {0, 2, 4, 6}
    assert set(read_split(d, "test").keys.frame.tolist()) == {0, 3, 6}
    assert read_meta(d)["images"]["frame_stride"] == {"train": 2, "test": 3}
    capsys.readouterr()
    # a frame deleted from a copy: refused in one line, nothing written
    copy = tmp_path / "copy"
    shutil.copytree(images, copy)
    next(copy.glob("S5/S5_Walking_1.58860488/*_000002.jpg")).unlink()
    assert _prepare(tmp_path, monkeypatch, "--from", "mmpose", str(root), "--images", str(copy),
                    "--image-size", "32", "--name", "broken") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "S5|Walking|1|58860488|1" in err
    assert not (tmp_path / "datasets" / "broken").exists()
    assert not list((tmp_path / "datasets").glob(".crops-*"))


def test_official_box_and_boxes_leaving_the_image_are_padded():
    # hand-derived: root 5 m in front on the axis, f = 1000 px -> 400 px box at the centre
    centre, side = official_boxes(np.array([[0.0, 0.0, 5000.0], [500.0, -250.0, 2500.0]]),
                                  np.full((2, 2), 1000.0), np.full((2, 2), 500.0))
    assert np.allclose(centre, [[500, 500], [700, 400]]) and np.allclose(side, [400, 800])
    c2, s2 = joint_boxes(np.array([[[10.0, 20.0], [30.0, 100.0], [np.nan, np.nan]]]))
    assert np.allclose(c2, [[20, 60]]) and np.allclose(s2, [96.0])
    # a box hanging over the top-left corner: zero (black) padding, flagged
    image = np.full((200, 300, 3), 200, np.uint8)
    c, s = np.array([[10.0, 20.0]]), np.array([100.0])
    assert boxes_outside(c, s, np.array([300]), np.array([200])).tolist() == [True]
    crop = sample_crops(image, crop_affines(c, s, 32), 32)[0]
    assert crop[:8, :8].max() == 0 and crop[-4:, -4:].min() == 200


def test_3dhp_test_set_frames(tmp_path, monkeypatch):
    """Official test-set layout: TS1/annot_data.mat + TS1/imageSequence/img_000001.jpg."""
    h5py = pytest.importorskip("h5py")
    from PIL import Image

    from posebench.geometry.camera import project
    from posebench.skeletons import get_skeleton

    rng = np.random.default_rng(3)
    n, f, c = 3, np.array([1500.0, 1498.0]), np.array([1017.0, 1043.0])
    p3 = rng.normal(0, 250, (n, 17, 3)) + np.array([0.0, 0.0, 4500.0])
    p2 = project(p3, f, c, model="none")
    seq = tmp_path / "TS1"
    (seq / "imageSequence").mkdir(parents=True)
    with h5py.File(seq / "annot_data.mat", "w", userblock_size=512) as h:
        h["annot2"], h["annot3"], h["univ_annot3"] = p2[:, None], p3[:, None], p3[:, None]
        h["valid_frame"] = np.ones((n, 1))
        h["activity_annotation"] = np.ones((n, 1))
    root = get_skeleton("3dhp17").root
    for i in range(n):  # a red square on the root joint of each frame
        img = np.zeros((2048, 2048, 3), np.uint8)
        x, y = np.rint(p2[i, root]).astype(int)
        img[y - 20:y + 21, x - 20:x + 21] = (255, 0, 0)
        Image.fromarray(img).save(seq / "imageSequence" / f"img_{i + 1:06d}.jpg", quality=95)
    monkeypatch.setenv("POSEBENCH_HOME", str(tmp_path / "home"))
    assert main(["data", "prepare", "3dhp", "--from", "mat", str(tmp_path), "--images",
                 str(tmp_path), "--image-size", "64"]) == 0
    ds = read_split(tmp_path / "home" / "datasets" / "3dhp", "test")
    red = ds.images[..., 0].astype(float) * (ds.images[..., 1] < 80)
    jj, ii = np.meshgrid(np.arange(64), np.arange(64))
    cx = (red * jj).sum((1, 2)) / red.sum((1, 2))
    cy = (red * ii).sum((1, 2)) / red.sum((1, 2))
    uv = np.einsum("nij,nj->ni", ds.crop_affine[:, :, :2], ds.poses_2d[:, root]) \
        + ds.crop_affine[:, :, 2]
    assert np.abs(np.stack([cx, cy], -1) - uv).max() < 0.5
    assert np.abs(uv - 31.5).max() < 1e-6   # pinhole data: the root is the box centre


TINY_PROFILE = """
profile = "tiny-h36m"
seed = 0
threads = 1
device = "cpu"
[data]
dataset = "h36m"
train_split = "train"
val_split = "test"
val_samples = 16
[model]
depth = 18
width = 0.25
image_size = 32
num_joints = 17
depth_bins = 8
deconv_channels = 16
deconv_kernel = 4
stem_pool = true
[pretrain.optim]
lr = 1e-3
batch_size = 16
epochs = 100.0
max_steps = 60
lr_milestone_steps = [50]
lr_milestones = []
lr_gamma = 0.1
loss = "l1"
[train3d.optim]
lr = 1e-3
batch_size = 16
epochs = 100.0
max_steps = 60
lr_milestone_steps = [50]
lr_milestones = []
lr_gamma = 0.1
loss = "smooth_l1"
smooth_l1_beta = 0.02
[augment]
enabled = true
[pseudo]
mode_2dgt = "known"
batch_size = 64
[run]
checkpoint_every = 50
log_every = 4
eval_every = 0
progress = false
[variants]
train = ["fully-supervised", "ss-known"]
"""


def _tiny_run(layout, tmp_path):
    """(layout root, images folder, tiny profile path) for a reproduction test (needs torch)."""
    pytest.importorskip("torch")
    root, images, _ = layout
    profile = tmp_path / "tiny.toml"
    profile.write_text(TINY_PROFILE)
    return root, images, profile


def test_docs_commands_from_mmpose_frames_to_a_reproduction(layout, tmp_path, monkeypatch,
                                                            capsys):
    """docs/datasets.md: prepare with --images, then reproduce (a tiny profile)."""
    import json

    root, images, profile = _tiny_run(layout, tmp_path)
    assert _prepare(tmp_path, monkeypatch, "--from", "mmpose", str(root), "--images",
                    str(images), "--image-size", "32") == 0
    out = tmp_path / "run"
    assert main(["reproduce", "epipolarpose", "--profile", str(profile), "--dataset", "h36m",
                 "--out", str(out)]) == 0
    for variant in ("fully-supervised", "ss-known", "2d-model", "mean-pose"):
        rec = json.loads(_result(out, variant).read_text())
        m = rec["metrics"]
        assert all(np.isfinite(m[k]) for k in ("mpjpe", "p_mpjpe", "pss@50")), variant
        assert 0 < m["mpjpe"] < 1000
    q = json.loads(_result(out, "ss-known").read_text())["pseudo_label_quality"]
    assert q["labelled_fraction"] > 0.9


def test_reproduce_and_run_refuse_missing_data_before_training(layout, tmp_path, monkeypatch,
                                                               capsys):
    root, images, profile = _tiny_run(layout, tmp_path)
    monkeypatch.setenv("POSEBENCH_HOME", str(tmp_path))

    def refused(*extra_profile) -> str:
        prof = profile
        if extra_profile:
            prof = tmp_path / "variant.toml"
            prof.write_text(TINY_PROFILE.replace("[data]\n", "[data]\n" + extra_profile[0]))
        out = tmp_path / f"out{len(list(tmp_path.glob('out*')))}"
        capsys.readouterr()
        assert main(["reproduce", "epipolarpose", "--profile", str(prof), "--dataset", "h36m",
                     "--out", str(out)]) == 2
        assert not (out / "pretrain-2d").exists()     # refused before any training
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1
        return err

    assert "`posebench data prepare h36m --from" in refused()          # not prepared
    assert _prepare(tmp_path, monkeypatch, "--from", "mmpose", str(root)) == 0
    err = refused()                                                   # prepared, no crops
    assert "has none" in err and "--images FRAMES --image-size 32" in err
    fast = ("--frame-stride", "7")  # frame 0 only: what is checked is the crops' existence
    assert _prepare(tmp_path, monkeypatch, "--from", "mmpose", str(root), "--images",
                    str(images), "--image-size", "24", *fast) == 0
    assert "needs 32 px crops but" in refused() and "24 px" in refused()   # wrong size
    assert _prepare(tmp_path, monkeypatch, "--from", "mmpose", str(root), "--images",
                    str(images), "--image-size", "32", *fast) == 0
    err = refused('pretrain_dataset = "mpii"\n')                      # 2D set missing
    assert "`posebench data prepare mpii --from mmpose PATH --image-size 32`" in err
    # posebench run: an image method on a dataset without crops names the command too
    assert _prepare(tmp_path, monkeypatch, "--from", "mmpose", str(root), "--name",
                    "h36m-nocrops") == 0
    capsys.readouterr()
    assert main(["run", "epipolarpose-fs", "--dataset", "h36m-nocrops", "--out",
                 str(tmp_path / "preds.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--images" in err

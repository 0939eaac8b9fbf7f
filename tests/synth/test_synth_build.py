"""Tiny synthetic benchmarks: labels, determinism, splits, rigs, CLI and the sample figure."""

from __future__ import annotations

import numpy as np
import pytest

from posebench.cli import main
from posebench.data.dataset import read_meta, read_split
from posebench.data.registry import load_dataset
from posebench.errors import InputError
from posebench.geometry.camera import project_with_table
from posebench.synth.build import SynthOptions, build

TINY = dict(subjects=2, frames_per_action=4, train2d_subjects=1, train2d_frames_per_action=3,
            test_layout="h36m")  # one test sequence per action (see test_synth_test_split)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "tiny"
    build(root, SynthOptions(**TINY))
    return root


def test_splits_keys_and_shapes(tiny):
    meta = read_meta(tiny)
    assert meta["kind"] == "synth" and meta["skeleton"] == "h36m17"
    assert set(meta["splits"]) == {"train", "test", "train2d"}
    train, test = read_split(tiny, "train"), read_split(tiny, "test")
    assert set(train.keys.subject) == {"S1"} and set(test.keys.subject) == {"S5"}
    # 10 actions x 4 frames x 4 Human3.6M cameras
    assert len(train) == 10 * 4 * 4
    assert set(train.keys.camera) == {"54138969", "55011271", "58860488", "60457274"}
    assert train.cameras.distortion == "h36m" and np.abs(train.cameras.k).sum() > 0
    assert train.images.shape == (len(train), 64, 64, 3) and train.images.dtype == np.uint8
    assert isinstance(train.images, np.memmap)
    assert train.crop_affine.shape == (len(train), 2, 3)
    order = train.keys.sort_order()
    np.testing.assert_array_equal(order, np.arange(len(train)))     # canonical order
    # every instant is seen by all 4 cameras (multi-view groups for the geometry core)
    inst = np.char.add(train.keys.action, train.keys.frame.astype(str))
    assert np.all(np.unique(inst, return_counts=True)[1] == 4)
    assert train.keys.frame.min() == 0 and set(train.keys.subaction) == {1}


def test_2d_labels_are_the_projection_of_the_3d_ground_truth(tiny):
    for split in ("train", "test"):
        ds = read_split(tiny, split)
        uv = project_with_table(ds.poses_3d, ds.cameras, ds.camera_index)
        np.testing.assert_allclose(ds.poses_2d, uv, atol=1e-6)
        assert np.all(ds.poses_3d[..., 2] > 1000)                  # in front of the camera
        crop = np.einsum("nij,nkj->nki", ds.crop_affine[:, :, :2], ds.poses_2d) \
            + ds.crop_affine[:, None, :, 2]
        assert np.all((crop > -0.5) & (crop < 63.5))                # labels inside the crop


def test_train2d_is_single_view_2d_only(tiny):
    ds = read_split(tiny, "train2d")
    meta = read_meta(tiny)["splits"]["train2d"]
    assert not meta["has_3d"] and meta["role"] == "2d-only"
    assert np.isnan(ds.poses_3d).all() and np.isfinite(ds.poses_2d).all()
    assert set(ds.keys.subject) == {"M1"} and set(ds.keys.camera) == {"random"}
    assert len(ds.cameras) == len(ds)                               # one random camera each
    assert ds.images.shape[0] == len(ds)


def test_same_seed_gives_byte_identical_output(tiny, tmp_path):
    again = tmp_path / "again"
    build(again, SynthOptions(**TINY))
    m1, m2 = read_meta(tiny), read_meta(again)
    for split in m1["splits"]:
        assert m1["splits"][split]["fingerprint"] == m2["splits"][split]["fingerprint"]
        assert (tiny / f"{split}_images.npy").read_bytes() == \
            (again / f"{split}_images.npy").read_bytes()
        assert (tiny / f"{split}.npz").read_bytes() == (again / f"{split}.npz").read_bytes()
    other = tmp_path / "other"
    build(other, SynthOptions(**TINY, seed=1, images=False))
    assert read_meta(other)["splits"]["train"]["fingerprint"] != m1["splits"]["train"][
        "fingerprint"]


def test_ring_and_moving_rigs_and_no_images(tmp_path):
    build(tmp_path / "ring", SynthOptions(**TINY, cameras="ring:6", images=False))
    ds = read_split(tmp_path / "ring", "train")
    assert ds.images is None and ds.crop_affine.shape == (len(ds), 2, 3)
    # without images the affines still map image points into each crop: the boxes are
    # centred on the person, so the projected root lands in the middle half of the crop
    S = SynthOptions(**TINY).image_size
    root = np.einsum("nij,nj->ni", ds.crop_affine[:, :, :2], ds.poses_2d[:, 0]) \
        + ds.crop_affine[:, :, 2]
    assert (np.abs(root - S / 2) < S / 4).all()
    assert len(np.unique(ds.keys.camera)) == 6
    centres = ds.cameras.centre
    assert np.allclose(np.hypot(*(centres[:, :2] - centres[:, :2].mean(0)).T), 4500, atol=1)
    build(tmp_path / "mov", SynthOptions(**TINY, cameras="moving", images=False))
    mv = read_split(tmp_path / "mov", "train")
    assert len(mv.cameras) == len(mv)                               # one row per frame x camera
    cam0 = mv.keys.camera == "54138969"
    act0 = mv.keys.action == mv.keys.action[0]
    C = mv.cameras.centre[mv.camera_index[cam0 & act0]]
    assert np.ptp(C[:, 0]) > 0.1                                    # the camera moves ...
    assert np.ptp(C[:, 0]) < 200                                    # ... slowly
    uv = project_with_table(mv.poses_3d, mv.cameras, mv.camera_index)
    np.testing.assert_allclose(mv.poses_2d, uv, atol=1e-6)


def test_bad_options_give_input_errors(tmp_path):
    for opts in (SynthOptions(**{**TINY, "subjects": 1}), SynthOptions(**TINY, cameras="dome"),
                 SynthOptions(**TINY, image_size=8), SynthOptions(**TINY, poses="fbx:x")):
        with pytest.raises(InputError):
            build(tmp_path / "bad", opts)
    assert not (tmp_path / "bad").exists()


def test_cli_synth_and_viz_sample(tmp_path, capsys):
    args = ["data", "synth", "--subjects", "2", "--frames-per-action", "3", "--name", "mini"]
    assert main(args) == 0
    assert "train" in capsys.readouterr().out
    ds = load_dataset("mini", "test")
    assert len(ds) == 10 * 3 * 4
    out = tmp_path / "grid.png"
    assert main(["viz", "sample", "--dataset", "mini", "--split", "test", "--out",
                 str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert main(["data", "synth", "--cameras", "ring:x", "--name", "bad"]) == 2

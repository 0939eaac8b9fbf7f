"""MPII (mmpose layout) -> 2D-only canonical dataset: joints, NaNs, crops, affines, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from mpii_layout import BACKGROUND, write_layout

from posebench.cli import main
from posebench.data.adapters.mpii_mmpose import crop_affines, sample_crops
from posebench.data.dataset import read_meta, read_split
from posebench.data.prepare import prepare
from posebench.skeletons import get_skeleton

H36M = get_skeleton("h36m17")
HEAD_TOP, R_ANKLE, SPINE = H36M.index("head_top"), H36M.index("r_ankle"), H36M.index("spine")
SIZE = 48


@pytest.fixture
def prepared(tmp_path):
    truth = write_layout(tmp_path / "mpii")
    root = prepare("mpii", "mmpose", tmp_path / "mpii", name="mpii", root=tmp_path / "out",
                   options={"image_size": SIZE})
    return root, truth


def _apply(A, uv):
    return np.einsum("ij,...j->...i", A[:, :2], uv) + A[:, 2]


def _centroid(weight):
    w = np.clip(weight - 30.0, 0, None)  # above JPEG noise on the grey background
    ii, jj = np.mgrid[: w.shape[0], : w.shape[1]]
    return np.array([(w * jj).sum(), (w * ii).sum()]) / w.sum()


def test_shapes_keys_and_nans(prepared):
    root, truth = prepared
    meta = read_meta(root)
    assert meta["kind"] == "mpii" and meta["skeleton"] == "h36m17"
    assert set(meta["splits"]) == {"train2d", "val2d"}
    tr = read_split(root, "train2d")
    assert len(tr) == 3 and tr.images.shape == (3, SIZE, SIZE, 3)
    assert tr.crop_affine.shape == (3, 2, 3) and tr.poses_2d.shape == (3, 17, 2)
    assert np.isnan(tr.poses_3d).all() and not tr.has_3d
    assert np.isnan(tr.poses_2d[:, SPINE]).all()
    assert tr.keys.action.tolist() == ["000000001", "000000002", "000000002"]
    assert tr.keys.frame.tolist() == [0, 0, 1] and set(tr.keys.subject) == {"mpii"}
    assert set(tr.keys.camera) == {"mpii"} and set(tr.keys.subaction) == {1}
    # camera rows: one per image, placeholder pinhole at the image centre
    assert tr.cameras.distortion == "none"
    assert tr.cameras.c[tr.camera_index].tolist() == [[79.5, 69.5], [119.5, 74.5], [119.5, 74.5]]
    # joints: 0-based (the JSON is 1-based), by canonical name, invisible -> NaN
    mpii = get_skeleton("mpii16")
    for row, (_, joints, visible) in enumerate(truth["train2d"]):
        for m, name in enumerate(mpii.names):
            got = tr.poses_2d[row, H36M.index(name)]
            if visible[m]:
                np.testing.assert_array_equal(got, joints[m])
            else:
                assert np.isnan(got).all()
    assert np.isnan(tr.poses_2d[0, H36M.index("r_knee")]).all()
    assert np.isnan(tr.poses_2d[2, H36M.index("l_knee")]).all()
    assert np.isnan(tr.poses_2d[2, H36M.index("l_elbow")]).all()


def test_crop_affine_matches_mmpose_box(prepared):
    root, _ = prepared
    tr = read_split(root, "train2d")
    # person 0: centre (80, 70) 0-based, scale 0.6 -> moved centre (80, 79), side 150 px
    A = tr.crop_affine[0]
    s = SIZE / 150.0
    np.testing.assert_allclose(A[:, :2], s * np.eye(2))
    np.testing.assert_allclose(_apply(A, np.array([80.0, 79.0])), [(SIZE - 1) / 2] * 2)
    np.testing.assert_allclose(_apply(A, np.array([80.0 + 75, 79.0 - 75])),
                               [(SIZE - 1) / 2 + SIZE / 2] + [(SIZE - 1) / 2 - SIZE / 2])


@pytest.mark.parametrize("split", ["train2d", "val2d"])
def test_discs_land_where_the_affine_maps_the_joints(prepared, split):
    root, _ = prepared
    ds = read_split(root, split)
    img = np.asarray(ds.images, dtype=float)
    for n in range(len(ds)):
        red = img[n, ..., 0] - 0.5 * (img[n, ..., 1] + img[n, ..., 2])
        blue = img[n, ..., 2] - 0.5 * (img[n, ..., 0] + img[n, ..., 1])
        for weight, joint in ((red, HEAD_TOP), (blue, R_ANKLE)):
            want = _apply(ds.crop_affine[n], ds.poses_2d[n, joint])
            assert np.linalg.norm(_centroid(weight) - want) < 0.5  # measured <= 0.1


def test_sampler_reproduces_a_ramp_at_every_shrink_factor():
    """A linear ramp image: box-averaging and bilinear interpolation are exact, so crop pixel
    (i, j) holds the ramp at crop_affine^-1 (j, i): the sampler and the affine agree."""
    H, W = 150, 240
    yy, xx = np.mgrid[:H, :W]
    image = np.stack([xx, yy, np.full_like(xx, 50)], -1).astype(np.uint8)
    centre = np.array([[120.0, 75.0], [110.0, 70.0], [121.3, 77.7]])
    side = np.array([48.0, 100.0, 130.0])          # shrink factors 1, 2 and 4
    A = crop_affines(centre, side, 24)
    crops = sample_crops(image, A, 24).astype(float)
    ii, jj = np.mgrid[:24, :24]
    for k in range(3):
        lin = np.linalg.inv(A[k, :, :2])
        xy = np.einsum("ab,ijb->ija", lin, np.stack([jj, ii], -1) - A[k, :, 2])
        np.testing.assert_allclose(crops[k, ..., 0], xy[..., 0], atol=0.51)
        np.testing.assert_allclose(crops[k, ..., 1], xy[..., 1], atol=0.51)


def test_outside_the_image_is_zero_and_inside_is_the_image():
    image = np.full((20, 30, 3), 77, np.uint8)
    A = crop_affines(np.array([[0.0, 0.0]]), np.array([16.0]), 16)  # identity-scale, half out
    crop = sample_crops(image, A, 16)[0]
    assert (crop[:7, :7] == 0).all() and (crop[9:, 9:] == 77).all()
    assert A[0, 0, 0] == 1.0


def test_flat_layout_and_background_colour(tmp_path):
    write_layout(tmp_path / "m", annotations_subdir=False)
    root = prepare("mpii", "mmpose", tmp_path / "m", root=tmp_path / "o",
                   options={"image_size": 32})
    ds = read_split(root, "val2d")
    assert ds.images.shape == (1, 32, 32, 3)
    assert np.abs(ds.images[0, 0, 16].astype(int) - BACKGROUND).max() <= 3
    assert not list(tmp_path.glob("**/.mpii-images-*"))  # temporaries removed


def _break(tmp_path, how):
    src = tmp_path / "mpii"
    write_layout(src)
    ann = src / "annotations" / "mpii_train.json"
    records = json.loads(ann.read_text())
    if how == "missing image":
        (src / "images" / "000000002.jpg").unlink()
    elif how == "not a list":
        ann.write_text(json.dumps({"annotations": records}))
    elif how == "joint count":
        records[1]["joints"] = records[1]["joints"][:14]
        ann.write_text(json.dumps(records))
    elif how == "malformed":
        del records[2]["scale"]
        ann.write_text(json.dumps(records))
    return src


@pytest.mark.parametrize("how,needle", [("missing image", "000000002.jpg"),
                                        ("not a list", "mpii_train.json"),
                                        ("joint count", "(14, 2)"),
                                        ("malformed", "record 2")])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, isolated_home,
                                                          how, needle):
    src = _break(tmp_path, how)
    rc = main(["data", "prepare", "mpii", "--from", "mmpose", str(src), "--image-size", "32"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err and err.startswith("error: ") and needle in err
    datasets = isolated_home / "datasets"
    assert not (datasets / "mpii").exists()
    assert not list(datasets.glob(".mpii-images-*")) if datasets.exists() else True


def test_cli_prepares_into_the_registry(tmp_path, capsys, isolated_home):
    write_layout(tmp_path / "mpii")
    rc = main(["data", "prepare", "mpii", "--from", "mmpose", str(tmp_path / "mpii"),
               "--image-size", "32"])
    out = capsys.readouterr().out
    assert rc == 0 and "train2d: 3 samples" in out and "val2d: 1 samples" in out
    meta = read_meta(isolated_home / "datasets" / "mpii")
    assert meta["splits"]["train2d"]["image_size"] == 32 and meta["index_base"] == 1

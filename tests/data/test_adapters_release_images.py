"""docs/datasets.md's release-layout commands: `data prepare h36m --from cdf ROOT --images ROOT`
(the original CDF poses beside `S*/Videos/*.mp4`) and `--from videopose3d` with the same videos:
crops for every sample, cut from the right video frame, identical for both layouts."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from posebench.cli import main
from posebench.data.adapters.h36m_common import CAMERA_IDS, camera_rows, h36m_camera_table
from posebench.data.dataset import read_meta, read_split

sys.path.insert(0, str(Path(__file__).parent))
from h36m_image_layouts import encode_mp4  # noqa: E402
from h36m_synthetic_layouts import synthetic_world, write_cdf, write_videopose3d  # noqa: E402

SEQS = {"S1": {"Directions 1": (4, 1)}, "S9": {"Greeting": (3, 3)}}  # train / test subject
SIZE = 32


def _fill(subject: str, t: int) -> int:
    """Grey level of frame t of every video of `subject` (the crops must come from frame t)."""
    return 40 + 50 * t + (20 if subject == "S9" else 0)


def _write_videos(root: Path) -> None:
    for subject, acts in SEQS.items():
        table = h36m_camera_table([subject])
        rows = camera_rows(table, subject, "test")
        for basename, (frames, _) in acts.items():
            for cam, row in zip(CAMERA_IDS, rows):
                w, h = int(table.width[row]), int(table.height[row])
                encode_mp4(root / subject / "Videos" / f"{basename}.{cam}.mp4",
                           (np.full((h, w, 3), _fill(subject, t), np.uint8)
                            for t in range(frames)), w, h)


def test_release_videos_with_cdf_and_videopose3d_poses(tmp_path, monkeypatch, capsys):
    pytest.importorskip("av")
    pytest.importorskip("cdflib")
    seqs = {s: {b: synthetic_world(n, seed) for b, (n, seed) in acts.items()}
            for s, acts in SEQS.items()}
    root = tmp_path / "extracted"
    write_cdf(root, seqs)
    write_videopose3d(tmp_path / "vp3d", seqs)
    _write_videos(root)
    monkeypatch.setenv("POSEBENCH_HOME", str(tmp_path / "home"))
    for layout, src, name in (("cdf", root, "h36m-cdf"), ("videopose3d", tmp_path / "vp3d",
                                                          "h36m-vp")):
        assert main(["data", "prepare", "h36m", "--from", layout, str(src), "--name", name,
                     "--images", str(root), "--image-size", str(SIZE)]) == 0, capsys.readouterr()
    out = {}
    for name in ("h36m-cdf", "h36m-vp"):
        d = tmp_path / "home" / "datasets" / name
        sources = read_meta(d)["images"]["sources"]
        assert sources == {"train": {"frames": 0, "video": 16}, "test": {"frames": 0, "video": 12}}
        out[name] = {split: read_split(d, split) for split in ("train", "test")}
    for split in ("train", "test"):
        a, b = out["h36m-cdf"][split], out["h36m-vp"][split]
        assert np.array_equal(a.keys.as_strings(), b.keys.as_strings())
        np.testing.assert_allclose(a.crop_affine, b.crop_affine, atol=1e-6)
        assert np.array_equal(a.images, b.images)
        # the crop centre shows the frame the key names (flat grey 50 levels apart; codec error
        # measured up to 5 levels)
        centre = a.images[:, SIZE // 2, SIZE // 2].astype(int)
        want = np.array([_fill(s, f) for s, f in zip(a.keys.subject, a.keys.frame)])
        assert np.abs(centre - want[:, None]).max() < 10
        # the root projects to the crop centre (the official pelvis box)
        uv = np.einsum("nij,nkj->nki", a.crop_affine[:, :, :2], a.poses_2d) \
            + a.crop_affine[:, None, :, 2]
        assert np.abs(uv[:, 0] - (SIZE - 1) / 2).max() < 1.0

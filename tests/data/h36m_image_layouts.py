"""Human3.6M image layouts written from the synthetic benchmark, for the crop tests.

`write_synth_mmpose` renders a small synthetic Human3.6M (the procedural bodies seen by the
packaged Human3.6M rig, `posebench.synth`) into mmpose's layout: ``h36m_train.npz`` /
``h36m_test.npz`` (imgname, S metres, part px) and full-size JPEG frames
``images/S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg``; `write_video`
encodes one sequence's frames as a release-style video ``S9/Videos/Directions 1.54138969.mp4``
with PyAV. A full frame is the synthetic crop pasted back through its affine (grey outside the
synthetic renderer's box), so every frame shows the person exactly where the labels say.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posebench.data.adapters.h36m_common import TRIAL_BASENAMES

SUBJECTS = ("S1", "S5", "S9", "S11")  # both test subjects: h36m-p1 requires them
ACTIONS = ("Directions", "Walking")


def basename(subject: str, action: str, trial: int) -> str:
    """Release basename of a trial, e.g. ("S1", "Directions", 1) -> "Directions 1"."""
    suffix = next(s for (sub, a, s), t in TRIAL_BASENAMES.items()
                  if sub == subject and a == action and t == trial)
    return f"{action} {suffix}" if suffix else action


def synth_splits(root: Path, frames: int = 3, size: int = 128) -> dict:
    """A small synthetic benchmark (S1, S5 train; S9, S11 test; 2 actions; `frames` frames)."""
    from posebench.data.dataset import read_split
    from posebench.synth.build import SynthOptions, build

    if not (root / "meta.json").is_file():
        build(root, SynthOptions(frames_per_action=frames, image_size=size,
                                 train2d_frames_per_action=1, background_textures=4,
                                 test_layout="h36m"))  # one long clip per test sequence
    out = {}
    for split in ("train", "test"):
        ds = read_split(root, split)
        keep = np.isin(ds.keys.subject, SUBJECTS) & np.isin(ds.keys.action, ACTIONS)
        out[split] = ds.take(np.flatnonzero(keep))
    return out


def full_frame(crop: np.ndarray, affine: np.ndarray, width: int, height: int) -> np.ndarray:
    """(S, S, 3) crop + its full->crop affine -> (height, width, 3) uint8 frame (grey around);
    PIL's affine resampling (pixel centres at +0.5 there, integers here)."""
    from PIL import Image

    a = np.asarray(affine, np.float64)
    off = a[:, 2] + 0.5 - 0.5 * a[:, :2].sum(1)
    coeffs = (a[0, 0], a[0, 1], off[0], a[1, 0], a[1, 1], off[1])
    img = Image.fromarray(np.ascontiguousarray(crop)).transform(
        (width, height), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR,
        fillcolor=(90, 90, 90))
    return np.asarray(img)


def frame_name(ds, i: int) -> str:
    k = ds.keys
    folder = (f"{k.subject[i]}_{basename(k.subject[i], k.action[i], int(k.subaction[i]))}"
              .replace(" ", "_") + f".{k.camera[i]}")
    return f"{k.subject[i]}/{folder}/{folder}_{k.frame[i] + 1:06d}.jpg"


def write_synth_mmpose(folder: Path, splits: dict, *, skip_frames_of: tuple | None = None,
                       quality: int = 95) -> Path:
    """mmpose annotations + JPEG frames under `folder` (returns the images folder).

    skip_frames_of: (subject, action, camera) whose frames are not written (a video stands in).
    """
    from PIL import Image

    images = folder / "images"
    for split, ds in splits.items():
        names = np.array([frame_name(ds, i) for i in range(len(ds))])
        vis = np.ones(ds.poses_3d.shape[:2] + (1,))
        np.savez(folder / f"h36m_{split}.npz", imgname=names,
                 S=np.concatenate([ds.poses_3d / 1000.0, vis], -1),
                 part=np.concatenate([ds.poses_2d, vis], -1))
        ci = ds.camera_index
        for i, name in enumerate(names):
            k = ds.keys
            if skip_frames_of == (k.subject[i], k.action[i], k.camera[i]):
                continue
            frame = full_frame(ds.images[i], ds.crop_affine[i], int(ds.cameras.width[ci[i]]),
                               int(ds.cameras.height[ci[i]]))
            path = images / name
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(frame).save(path, quality=quality)
    return images


def write_video(images: Path, ds, subject: str, action: str, camera: str) -> Path:
    """Encode the frames of one (subject, action, trial 1, camera) as a release-style mp4."""

    rows = np.flatnonzero((ds.keys.subject == subject) & (ds.keys.action == action)
                          & (ds.keys.camera == camera))
    rows = rows[np.argsort(ds.keys.frame[rows])]
    assert (ds.keys.frame[rows] == np.arange(len(rows))).all()
    ci = ds.camera_index[rows[0]]
    w, h = int(ds.cameras.width[ci]), int(ds.cameras.height[ci])
    path = images / subject / "Videos" / f"{basename(subject, action, 1)}.{camera}.mp4"
    return encode_mp4(path, (full_frame(ds.images[i], ds.crop_affine[i], w, h) for i in rows),
                      w, h)


def encode_mp4(path: Path, frames, width: int, height: int) -> Path:
    """Write (H, W, 3) uint8 RGB frames as a 50 fps mpeg4 file (release-video style)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("mpeg4", rate=50)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"qscale": "2"}
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path

"""Person-centred image crops for datasets with 3D labels (Human3.6M, MPI-INF-3DHP).

`attach_crops` renders, for every sample of a prepared split, a square crop of side S px
(``image_size``) around the person from the images the user has, and stores it with the affine
that maps full-image px to crop px (``crop_affine``, the MPII adapter's convention: crop pixel
(row i, col j) shows image point ``crop_affine^-1 (j, i)``; rendering and the affine come from
`posebench.data.adapters.mpii_mmpose`: ``crop_affines`` and ``sample_crops``).

Box (the official rule): a 2000 x 2000 mm square centred on the root joint (pelvis), parallel to
the image plane, projected with the pinhole intrinsics: centre = projection of the root, side =
2000 mm * f / Z_root px (f = mean of fx, fy). This is how the EpipolarPose / Integral Human Pose
code builds its Human3.6M boxes: ``from_worldjt_to_imagejt`` in mkocabas/EpipolarPose
``lib/utils/prep_h36m.py:192-197`` (3D rectangle ``pelvis3d +- [rect_3d_width / 2,
rect_3d_height / 2, 0]`` projected by ``CamProj``), with ``rect_3d_width = rect_3d_height =
2000`` (``lib/dataset/JointIntegralDataset.py:64-65``) and the crop box = that rectangle
(JimmySuen/integral-human-pose ``pytorch_projects/common_pytorch/dataset/hm36.py:408-418``:
``center_x = (rect2d_l + rect2d_r) / 2``, ``width = rect2d_r - rect2d_l``). The box scales with
the person's distance, so the body's size in the crop is the same at any depth. Samples without a
finite root in front of the camera fall back to the tight box of their 2D joints enlarged by 1.2
and made square (``extra_crop_box`` = 1 marks them). Boxes leaving the image are padded with
black (zero) pixels, as ``cv2.warpAffine``'s constant border does in the official loader;
``extra_crop_outside`` flags them.

Image sources (``images`` folder; either one holds every frame a split needs):

* Human3.6M frames extracted as mmpose does: ``S1/S1_Directions_1.54138969/
  S1_Directions_1.54138969_000001.jpg`` (1-based frame numbers; an ``images/`` subfolder is
  looked into too);
* Human3.6M release videos: ``S1/Videos/Directions 1.54138969.mp4``, decoded with PyAV (the
  ``video`` extra), each video once, in order, up to the last frame needed; only the frames of
  the kept samples are converted;
* MPI-INF-3DHP test set: ``TS1/imageSequence/img_000001.jpg`` (official layout), or the
  ``image_path`` an adapter recorded (mmpose names) under the folder.

Frames are read one at a time and crops streamed into a memory-mapped temporary file, so memory
stays bounded by one frame and one group's crops. ``frame_stride`` keeps only samples whose
frame index is a multiple of the stride (per split), before any image is read.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from posebench.data.adapters._assemble import progress_iter
from posebench.data.adapters.h36m_common import SUBJECTS, check_camera_id, parse_sequence
from posebench.data.adapters.mpii_mmpose import crop_affines, read_image, sample_crops
from posebench.data.registry import posebench_home
from posebench.errors import InputError
from posebench.skeletons import get_skeleton

BOX_MM = 2000.0
JOINT_BOX_MARGIN = 1.2
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


# ------------------------------------------------------------------------------ boxes
def official_boxes(root_3d: np.ndarray, f: np.ndarray, c: np.ndarray,
                   box_mm: float = BOX_MM) -> tuple[np.ndarray, np.ndarray]:
    """root_3d (N, 3) camera-frame mm, f, c (N, 2) px -> centre (N, 2) px (pinhole projection of
    the root), side (N,) px = box_mm * mean(f) / Z_root; NaN where the root is not finite or
    not in front of the camera."""
    z = root_3d[:, 2]
    ok = np.isfinite(root_3d).all(-1) & (z > 0)
    zs = np.where(ok, z, np.nan)
    centre = f * root_3d[:, :2] / zs[:, None] + c
    return centre, box_mm * f.mean(-1) / zs


def joint_boxes(uv: np.ndarray, margin: float = JOINT_BOX_MARGIN) -> tuple[np.ndarray, np.ndarray]:
    """uv (N, J, 2) px (NaN = missing joint) -> centre (N, 2) of the joints' tight box, side (N,)
    = margin x its longer side (square); NaN where a sample has no finite joint."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows stay NaN
        lo, hi = np.nanmin(uv, axis=1), np.nanmax(uv, axis=1)
    return (lo + hi) / 2.0, margin * (hi - lo).max(-1)


def person_boxes(ds, box_mm: float = BOX_MM) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes of every sample of a PoseDataset -> centre (N, 2) px, side (N,) px, kind (N,) uint8
    (0 = the official 3D box, 1 = the 2D joints' box for samples without 3D)."""
    root = get_skeleton(ds.skeleton).root
    ci = ds.camera_index
    centre, side = official_boxes(ds.poses_3d[:, root], ds.cameras.f[ci], ds.cameras.c[ci], box_mm)
    kind = np.zeros(len(ds), np.uint8)
    bad = ~(np.isfinite(centre).all(-1) & np.isfinite(side) & (side > 1.0))
    if bad.any():
        centre[bad], side[bad] = joint_boxes(ds.poses_2d[bad])
        kind[bad] = 1
    lost = ~(np.isfinite(centre).all(-1) & np.isfinite(side) & (side > 1.0))
    if lost.any():
        i = int(np.flatnonzero(lost)[0])
        raise InputError(f"sample {ds.keys.as_strings()[i]} of split '{ds.split}' has neither a "
                         "3D root nor any 2D joint, so no crop box can be placed; expected "
                         "labelled samples; remove such rows from the input.")
    return centre, side, kind


def boxes_outside(centre: np.ndarray, side: np.ndarray, width: np.ndarray,
                  height: np.ndarray) -> np.ndarray:
    """(N,) True where the square box leaves the image (pixel centres 0 .. W-1, 0 .. H-1)."""
    half = side / 2.0
    return ((centre[:, 0] - half < -0.5) | (centre[:, 1] - half < -0.5)
            | (centre[:, 0] + half > width - 0.5) | (centre[:, 1] + half > height - 0.5))


# ------------------------------------------------------------------------------ sources
def _image_roots(root: Path) -> list[Path]:
    return [p for p in (root, root / "images") if p.is_dir()]


def h36m_sources(root: Path) -> dict[tuple[str, str, int, str], tuple[str, Path]]:
    """(subject, action, trial, camera) -> ("frames", folder) | ("video", file) found under
    `root` (mmpose frame folders win over videos). Unparseable names are ignored."""
    found: dict = {}

    def add(subject: str, name: str, kind: str, path: Path) -> None:
        basename, dot, cam = name.rpartition(".")
        if not dot:
            return
        try:
            action, trial = parse_sequence(subject, basename.replace("_", " "), str(path))
            key = (subject, action, trial, check_camera_id(cam, str(path)))
        except InputError:
            return
        if kind == "frames" or key not in found:
            found[key] = (kind, path)

    for base in _image_roots(root):
        for subject in SUBJECTS:
            sdir = base / subject
            if not sdir.is_dir():
                continue
            videos = sdir / "Videos"
            if videos.is_dir():
                for v in sorted(videos.iterdir()):
                    if v.suffix.lower() in (".mp4", ".avi", ".mkv"):
                        add(subject, v.stem, "video", v)
            for d in sorted(sdir.iterdir()):
                if d.is_dir() and d.name.startswith(subject + "_"):
                    add(subject, d.name[len(subject) + 1:], "frames", d)
    return found


def _h36m_locations(ds, root: Path):
    """Per sample: kind (N,) "frames" / "video" / "", path (N,) str (frame file or video)."""
    sources = h36m_sources(root)
    k = ds.keys
    group = np.char.add(np.char.add(np.char.add(np.char.add(k.subject, "|"), k.action), "|"),
                        np.char.add(np.char.add(k.subaction.astype(str), "|"), k.camera))
    uniq, inv = np.unique(group, return_inverse=True)
    kinds, paths = np.empty(len(ds), dtype=object), np.empty(len(ds), dtype=object)
    for g, name in enumerate(uniq):
        s, a, t, c = name.split("|")
        src = sources.get((s, a, int(t), c))
        rows = np.flatnonzero(inv == g)
        if src is None:
            kinds[rows], paths[rows] = "", f"{s} {a} trial {t} camera {c}"
        elif src[0] == "video":
            kinds[rows], paths[rows] = "video", str(src[1])
        else:
            folder = src[1]
            kinds[rows] = "frames"
            paths[rows] = [str(folder / f"{folder.name}_{f + 1:06d}.jpg") for f in k.frame[rows]]
    missing = np.array([kd == "frames" and not Path(p).is_file() for kd, p in zip(kinds, paths)])
    kinds[missing] = ""
    return kinds.astype(str), paths.astype(str)


def _3dhp_locations(ds, root: Path):
    """Per sample: kind "frames" / "", path: TSn/imageSequence/img_%06d.jpg or image_path."""
    kinds = np.full(len(ds), "", dtype=object)
    paths = np.empty(len(ds), dtype=object)
    for i in range(len(ds)):
        cands = []
        for base in _image_roots(root):
            cands.append(base / ds.keys.subject[i] / "imageSequence"
                         / f"img_{ds.keys.frame[i] + 1:06d}.jpg")
            if ds.image_path is not None:
                cands += [base / str(ds.image_path[i]),
                          base / ds.keys.subject[i] / str(ds.image_path[i])]
        hit = next((p for p in cands if p.is_file()), None)
        kinds[i] = "frames" if hit is not None else ""
        paths[i] = str(hit if hit is not None else cands[0] if cands else root)
    return kinds.astype(str), paths.astype(str)


LOCATORS = {"h36m": _h36m_locations, "3dhp": _3dhp_locations}


# ------------------------------------------------------------------------------ rendering
def iter_video_frames(path: Path, wanted: np.ndarray):
    """Yield (frame index, (H, W, 3) uint8 RGB) for the sorted 0-based indices `wanted`,
    decoding the video once, in order, and stopping after the last one (PyAV)."""
    try:
        import av  # lazy: optional dependency for video sources
    except ImportError:
        raise InputError(f"{path} is a video and PyAV is not installed; expected the `av` "
                         "package; pip install 'posebench3d[video]' (or extract the frames as "
                         "mmpose does).") from None
    want = set(int(w) for w in wanted)
    last = int(max(want))
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for i, frame in enumerate(container.decode(stream)):
                if i in want:
                    yield i, frame.to_ndarray(format="rgb24")
                if i >= last:
                    return
    except av.FFmpegError as exc:
        raise InputError(f"video {path} could not be decoded ({type(exc).__name__}: {exc}); "
                         "expected a Human3.6M release video; re-copy the file.") from None
    raise InputError(f"video {path} ends before frame {last} (0-based); expected at least "
                     f"{last + 1} frames as the annotations say; check that the video matches "
                     "the annotations (trial and camera).")


def render_split(ds, kinds: np.ndarray, paths: np.ndarray, affine: np.ndarray, size: int,
                 images: np.ndarray, progress: bool = False) -> None:
    """Fill `images` (N, S, S, 3) (a memmap) with every sample's crop, one frame at a time."""
    frames = kinds == "frames"
    files, finv = np.unique(paths[frames], return_inverse=True)
    rows_f = np.flatnonzero(frames)
    order = np.argsort(finv, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(finv, minlength=len(files)))]
    for g in progress_iter(range(len(files)), progress, f"cropping {ds.split} frames"):
        rows = rows_f[order[bounds[g]:bounds[g + 1]]]
        images[rows] = sample_crops(read_image(Path(files[g])), affine[rows], size)
    vids = kinds == "video"
    for v in progress_iter(np.unique(paths[vids]).tolist(), progress, f"cropping {ds.split} "
                           "videos"):
        rows = np.flatnonzero(vids & (paths == v))
        frame = ds.keys.frame[rows]
        for i, img in iter_video_frames(Path(v), np.unique(frame)):
            at = rows[frame == i]
            images[at] = sample_crops(img, affine[at], size)


def attach_crops(prepared, kind: str, images_root: str | Path, image_size: int, *,
                 frame_stride: dict[str, int] | None = None, progress: bool = False,
                 scratch: str | Path | None = None, box_mm: float = BOX_MM):
    """Render crops for every split of an adapter's `Prepared` (in place) and return it.

    kind: "h36m" or "3dhp"; images_root: the folder holding frames / videos; frame_stride:
    {split: stride} (``"*"`` for every split). Splits none of whose frames are found keep no
    crops (listed in meta under images.splits_without_crops, with a warning); a split with some
    frames missing is an InputError naming the first one.
    """
    root = Path(images_root)
    _check_crop_inputs(root, kind, image_size)
    stride = dict(frame_stride or {})
    scratch_root = Path(scratch) if scratch is not None else posebench_home() / "datasets"
    scratch_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".crops-", dir=scratch_root))
    prepared.cleanup.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
    info: dict = {"image_root": str(root), "image_size": image_size,
                  "box": f"{box_mm:g} mm square around the root, projected (official rule)",
                  "pixel_convention": "crop pixel (row i, col j) shows image point "
                                      "crop_affine^-1 (j, i)",
                  "frame_stride": stride, "splits_without_crops": [], "boxes_outside": {},
                  "sources": {}}
    for split, ds in list(prepared.splits.items()):
        s = int(stride.get(split, stride.get("*", 1)))
        if s < 1:
            raise InputError(f"frame stride {s} for split '{split}' is not positive; expected "
                             "an integer >= 1.")
        if s > 1:
            ds = ds.take(ds.keys.frame % s == 0)
        kinds, paths = LOCATORS[kind](ds, root)
        found = kinds != ""
        if not found.any():
            warnings.warn(f"no frames of split '{split}' under {root}; it is kept without "
                          "crops", stacklevel=2)
            info["splits_without_crops"].append(split)
            prepared.splits[split] = ds
            continue
        if not found.all():
            i = int(np.flatnonzero(~found)[0])
            raise InputError(f"no image for sample {ds.keys.as_strings()[i]} of split '{split}' "
                             f"({paths[i]}) under {root}, though {int(found.sum())} of "
                             f"{len(ds)} were found; expected every frame of the split; add the "
                             "missing frames or videos, or use --frame-stride to keep fewer.")
        outside = _render_into(ds, kinds, paths, tmp / f"{split}.npy", image_size, box_mm,
                               progress)
        info["boxes_outside"][split] = int(outside.sum())
        info["sources"][split] = {k: int((kinds == k).sum()) for k in ("frames", "video")}
        prepared.splits[split] = ds
    prepared.meta = {**prepared.meta, "images": info}
    return prepared


def _check_crop_inputs(root: Path, kind: str, image_size: int) -> None:
    """InputError (one sentence) for a missing images folder, a crop side below 16 px or a
    dataset kind without a frame locator."""
    if not root.is_dir():
        raise InputError(f"--images {root} is not a folder; expected the folder holding the "
                         "frames (S1/S1_Directions_1.54138969/...jpg) or videos "
                         "(S1/Videos/*.mp4); pass that folder.")
    if image_size < 16:
        raise InputError(f"--image-size {image_size} is too small; expected >= 16 (64 for the "
                         "cpu profile, 256 for the paper profile).")
    if kind not in LOCATORS:
        raise InputError(f"crops for dataset kind '{kind}' are not supported; expected one of "
                         f"{', '.join(LOCATORS)}.")


def _render_into(ds, kinds: np.ndarray, paths, store: Path, image_size: int, box_mm: float,
                 progress: bool) -> np.ndarray:
    """Render the (N, S, S, 3) uint8 crops of `ds` into the memory-mapped .npy `store` and
    attach them (images, crop_affine, crop_* extras) to `ds`; returns (N,) bool: boxes that
    leave the image."""
    centre, side, box_kind = person_boxes(ds, box_mm)
    affine = crop_affines(centre, side, image_size)
    ci = ds.camera_index
    outside = boxes_outside(centre, side, ds.cameras.width[ci], ds.cameras.height[ci])
    images = np.lib.format.open_memmap(store, mode="w+", dtype=np.uint8,
                                       shape=(len(ds), image_size, image_size, 3))
    render_split(ds, kinds, paths, affine, image_size, images, progress)
    images.flush()
    ds.images, ds.crop_affine = images, affine
    ds.extra = {**ds.extra, "crop_centre": centre, "crop_side": side,
                "crop_box": box_kind, "crop_outside": outside}
    return outside

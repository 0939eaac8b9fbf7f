"""MPII Human Pose (2D labels only) from mmpose's layout -> a 2D-only canonical dataset.

Input folder (mmpose's ``data/mpii``)::

    annotations/mpii_train.json   (or mpii_train.json directly in the folder) -> split train2d
    annotations/mpii_val.json     (or mpii_val.json)                          -> split val2d
    images/<name>.jpg

Each JSON file is a list of person records ``{"image": "015601864.jpg", "center": [x, y],
"scale": s, "joints": 16 x [x, y], "joints_vis": 16 x 0/1}``: ``center`` a rough body centre
in px, ``scale`` the person box height / 200 px, joints in MPII order (r_ankle, r_knee, r_hip,
l_hip, l_knee, l_ankle, pelvis, thorax, upper_neck, head_top, r_wrist, r_elbow, r_shoulder,
l_shoulder, l_elbow, l_wrist = posebench skeleton "mpii16"). Conventions, as the readers of
this file treat it (mmpose 0.x ``TopDownMpiiDataset`` and the HRNet / Simple Baselines
``lib/dataset/mpii.py``; mmpose 1.x ``MpiiDataset`` shifts the centre the same way):

* coordinates are MATLAB 1-based (the JSON is a conversion of the official .mat release):
  ``center`` and ``joints`` minus 1 give 0-based px (pixel centres at integer coordinates),
  which is what ``poses_2d`` holds (``index_base=0`` reads files that are already 0-based);
* the centre is moved down by 15 px x scale "to avoid cropping limbs" and the box is enlarged
  by 1.25: the crop is the square of side ``scale * 200 * 1.25`` px around the moved centre.

Output (kind "mpii", skeleton "h36m17"): the 16 MPII joints placed by canonical name
(`posebench.skeletons.mapping`), the h36m17 joint MPII lacks (spine) NaN, joints with
``joints_vis`` 0 NaN, ``poses_3d`` all NaN (split_info role "2d-only"). Keys: subject "mpii",
action = image name without extension, subaction 1, camera "mpii", frame = the person's index
among the image's records (file order). Camera table: one row per image, a placeholder pinhole
(MPII has no calibration): f = max(width, height) px, c = the image centre, R = I, t = 0,
distortion "none"; usable for 2D work only. Crops: ``(N, S, S, 3)`` uint8, S = ``image_size``,
``crop_affine`` maps full-image px to crop px with crop pixel (row i, col j) showing image point
``crop_affine^-1 (j, i)``; rendered by bilinear sampling (zero outside the image) after a box
pre-filter by the integer factor floor(side / S) when it is >= 2 (against aliasing). Crops are
streamed, one image at a time, into a temporary memory-mapped file; extra arrays: ``center``
(N, 2) 0-based moved centre px, ``scale`` (N,) the file's scale.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from posebench.data.adapters._assemble import Prepared, progress_iter
from posebench.data.dataset import CameraTable, PoseDataset, SampleKeys
from posebench.data.registry import posebench_home
from posebench.errors import InputError
from posebench.skeletons import get_skeleton, mapping

SPLIT_FILES = {"train2d": "mpii_train.json", "val2d": "mpii_val.json"}
NUM_JOINTS = 16
PIXEL_STD = 200.0      # scale unit: px of box height
BOX_MARGIN = 1.25      # crop side = scale * PIXEL_STD * BOX_MARGIN
CENTRE_SHIFT = 15.0    # px per unit scale the centre moves down (y)
PIXEL_CONVENTION = "crop pixel (row i, col j) shows image point crop_affine^-1 (j, i)"


# ------------------------------------------------------------------------------ annotations
def _annotation_file(root: Path, fname: str) -> Path | None:
    for p in (root / "annotations" / fname, root / fname):
        if p.is_file():
            return p
    return None


def _records(path: Path) -> list[dict]:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} could not be read as JSON ({type(exc).__name__}); expected "
                         "mmpose's MPII annotation list; re-download the file.") from None
    if not isinstance(data, list):
        raise InputError(f"{path} holds a JSON {type(data).__name__}, expected a list of person "
                         "records (image, center, scale, joints, joints_vis); pass mmpose's "
                         "mpii_train.json / mpii_val.json.")
    return data


def parse_records(records: list, path: Path, index_base: int = 1) -> dict[str, np.ndarray]:
    """Validate person records -> arrays: image (N,) str, center (N, 2) 0-based px (not yet
    moved), scale (N,), joints (N, 16, 2) 0-based px, visible (N, 16) bool."""
    n = len(records)
    image = []
    center, scale = np.empty((n, 2)), np.empty(n)
    joints, visible = np.empty((n, NUM_JOINTS, 2)), np.empty((n, NUM_JOINTS), bool)
    for i, r in enumerate(records):
        try:
            name = r["image"]
            c = np.asarray(r["center"], dtype=np.float64)
            s = float(r["scale"])
            j = np.asarray(r["joints"], dtype=np.float64)
            v = np.asarray(r["joints_vis"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{path}: record {i} is malformed ({type(exc).__name__}: {exc}); "
                             "expected image, center [x, y], scale, joints, joints_vis; fix or "
                             "re-download the file.") from None
        if j.shape != (NUM_JOINTS, 2) or v.shape != (NUM_JOINTS,):
            raise InputError(f"{path}: record {i} has joints {j.shape} and joints_vis "
                             f"{v.shape}, expected ({NUM_JOINTS}, 2) and ({NUM_JOINTS},) (MPII's "
                             "16 joints); pass an MPII annotation file.")
        if not isinstance(name, str) or not name or c.shape != (2,) or not np.isfinite(c).all() \
                or c[0] == -1 or not (np.isfinite(s) and s > 0):
            raise InputError(f"{path}: record {i} has image {name!r}, center {c.tolist()}, scale "
                             f"{s}; expected a file name, a finite centre and a positive scale; "
                             "fix or drop the record (test-set records without boxes are not "
                             "supported).")
        image.append(name)
        center[i], scale[i], joints[i], visible[i] = c, s, j, v > 0
    base = float(index_base)
    return {"image": np.asarray(image, dtype=str), "center": center - base, "scale": scale,
            "joints": joints - base, "visible": visible}


# ------------------------------------------------------------------------------ geometry
def crop_boxes(center: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """mmpose's box: centre (N, 2) 0-based px moved down by 15 px x scale; side (N,) px =
    scale * 200 * 1.25."""
    moved = center + np.stack([np.zeros_like(scale), CENTRE_SHIFT * scale], -1)
    return moved, scale * PIXEL_STD * BOX_MARGIN


def crop_affines(centre: np.ndarray, side: np.ndarray, size: int) -> np.ndarray:
    """(N, 2, 3) full-image px -> crop px: ``crop = s (img - centre) + (size - 1) / 2``,
    s = size / side (the box centre lands on the crop's centre)."""
    s = size / side
    A = np.zeros((len(side), 2, 3))
    A[:, 0, 0] = A[:, 1, 1] = s
    A[:, :, 2] = -s[:, None] * centre + (size - 1) / 2.0
    return A


def _box_reduce(image: np.ndarray, r: int) -> np.ndarray:
    """(H, W, 3) -> (ceil(H/r), ceil(W/r), 3) float32 box averages (edge-padded)."""
    H, W = image.shape[:2]
    Hr, Wr = -(-H // r), -(-W // r)
    padded = np.pad(image, ((0, Hr * r - H), (0, Wr * r - W), (0, 0)), mode="edge")
    return padded.reshape(Hr, r, Wr, r, 3).mean(axis=(1, 3), dtype=np.float32)


def sample_crops(image: np.ndarray, affines: np.ndarray, size: int) -> np.ndarray:
    """Bilinear crops of one image. image (H, W, 3) uint8; affines (K, 2, 3) full px -> crop
    px -> (K, size, size, 3) uint8, zero outside the image. Crops shrinking the image by
    r = floor(1 / s) >= 2 sample a box-averaged image (r x r blocks) instead."""
    out = np.zeros((len(affines), size, size, 3), np.uint8)
    lin = np.linalg.inv(affines[:, :, :2])
    off = -np.einsum("kij,kj->ki", lin, affines[:, :, 2])
    jj, ii = np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64))
    grid = np.stack([jj.ravel(), ii.ravel()], -1)                     # (P, 2) (col, row)
    xy_full = np.einsum("kab,pb->kpa", lin, grid) + off[:, None]       # (K, P, 2) image px
    factors = np.maximum(1, np.floor(np.sqrt(np.abs(np.linalg.det(lin)))).astype(int))
    for r in np.unique(factors):
        sel = np.flatnonzero(factors == r)
        src = image.astype(np.float32) if r == 1 else _box_reduce(image, int(r))
        xy = (xy_full[sel] - (r - 1) / 2.0) / r                       # reduced-image px
        out[sel] = _bilinear(src, xy).reshape(len(sel), size, size, 3)
    return out


def _bilinear(src: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """src (H, W, 3) float32, xy (K, P, 2) px -> (K, P, 3) uint8, zero outside."""
    H, W = src.shape[:2]
    x0 = np.floor(xy[..., 0]).astype(np.int64)
    y0 = np.floor(xy[..., 1]).astype(np.int64)
    fx = (xy[..., 0] - x0).astype(np.float32)
    fy = (xy[..., 1] - y0).astype(np.float32)
    acc = np.zeros(xy.shape[:2] + (3,), np.float32)
    for dy in (0, 1):
        for dx in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            w = (fx if dx else 1 - fx) * (fy if dy else 1 - fy)
            w = w * ((xi >= 0) & (xi < W) & (yi >= 0) & (yi < H))
            acc += w[..., None] * src[np.clip(yi, 0, H - 1), np.clip(xi, 0, W - 1)]
    return np.clip(np.rint(acc), 0, 255).astype(np.uint8)


def read_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of one image file (PIL)."""
    from PIL import Image, UnidentifiedImageError  # lazy: only when reading images

    if not path.is_file():
        raise InputError(f"image {path} is missing; expected every annotated image under the "
                         "images/ folder; copy MPII's images there (mmpose layout).")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, UnidentifiedImageError) as exc:
        raise InputError(f"image {path} could not be read ({type(exc).__name__}); expected a "
                         "JPEG image; re-copy the file.") from None


# ------------------------------------------------------------------------------ splits
def _split(name: str, split: str, a: dict, images_dir: Path, size: int, store,
           progress: bool) -> PoseDataset:
    n = len(a["image"])
    stems = np.array([Path(x).stem for x in a["image"]], dtype=str)
    stem_to_file = dict(zip(stems.tolist(), a["image"].tolist()))
    clash = [s for s, f in zip(stems.tolist(), a["image"].tolist()) if stem_to_file[s] != f]
    if clash:
        raise InputError(f"images {clash[0]} and {stem_to_file[clash[0]]} share the name "
                         f"'{clash[0]}' without extension; expected unique image names; rename "
                         "one of them.")
    # frame = index of the person among the image's records, in file order
    order_in = np.lexsort((np.arange(n), stems))
    first = np.r_[True, stems[order_in][1:] != stems[order_in][:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    frame = np.empty(n, np.int64)
    frame[order_in] = np.arange(n) - group_start
    keys = SampleKeys(np.full(n, "mpii"), stems, np.ones(n, np.int64), np.full(n, "mpii"), frame)
    order = keys.sort_order()
    keys = keys.take(order)
    a = {k: v[order] for k, v in a.items()}

    J = get_skeleton("h36m17").num_joints
    uv = np.where(a["visible"][..., None], a["joints"], np.nan)
    poses_2d = np.full((n, J, 2), np.nan)
    poses_2d[:, mapping("h36m17", "mpii16")] = uv
    centre, side = crop_boxes(a["center"], a["scale"])
    affine = crop_affines(centre, side, size)

    images = store(split, (n, size, size, 3))
    uniq, start = np.unique(keys.action, return_index=True)   # rows of an image are contiguous
    bounds = np.r_[start, n]
    widths, heights = np.empty(len(uniq), np.int64), np.empty(len(uniq), np.int64)
    cam_index = np.empty(n, np.int64)
    for g in progress_iter(range(len(uniq)), progress, f"cropping {split}"):
        lo, hi = bounds[g], bounds[g + 1]
        img = read_image(images_dir / stem_to_file[uniq[g]])
        heights[g], widths[g] = img.shape[:2]
        images[lo:hi] = sample_crops(img, affine[lo:hi], size)
        cam_index[lo:hi] = g
    wh = np.stack([widths, heights], -1).astype(np.float64)
    m = len(uniq)
    cameras = CameraTable(np.full(m, "mpii"), np.repeat(wh.max(-1, keepdims=True), 2, -1),
                          (wh - 1) / 2, np.zeros((m, 3)), np.zeros((m, 2)),
                          np.tile(np.eye(3), (m, 1, 1)), np.zeros((m, 3)), widths, heights,
                          "none")
    info = {"role": "2d-only", "has_3d": False}
    return PoseDataset(name, split, "h36m17", np.full((n, J, 3), np.nan), poses_2d, keys,
                       cam_index, cameras, image_path=a["image"], crop_affine=affine,
                       images=images, extra={"center": centre, "scale": a["scale"]},
                       meta={"split_info": info})


def read_mmpose(path: Path, *, name: str = "mpii", progress: bool = False, image_size: int = 64,
                index_base: int = 1, scratch: str | Path | None = None) -> Prepared:
    """Read mmpose's MPII folder `path` -> Prepared {train2d, val2d} (whichever JSON exists).

    image_size: crop side S px (match the model's input); index_base: 1 for MPII's MATLAB
    coordinates (mmpose's files), 0 for files already 0-based; scratch: folder for the
    temporary image memmaps (default ``$POSEBENCH_HOME/datasets``). The returned Prepared's
    ``cleanup`` removes them once the dataset is written.
    """
    path = Path(path)
    if image_size < 16:
        raise InputError(f"--image-size {image_size} is too small; expected >= 16 (64 for the "
                         "cpu profile, 256 for the paper profile).")
    if index_base not in (0, 1):
        raise InputError(f"index base {index_base} is not 0 or 1; pass 1 for mmpose's MPII files.")
    files = {sp: _annotation_file(path, f) for sp, f in SPLIT_FILES.items()}
    files = {sp: f for sp, f in files.items() if f is not None}
    if not files:
        raise InputError(f"{path} holds neither annotations/mpii_train.json nor mpii_val.json; "
                         "expected mmpose's MPII layout (annotations/*.json, images/*.jpg); "
                         "point --from mmpose at the folder holding them.")
    images_dir = path / "images"
    parsed = {sp: parse_records(_records(f), f, index_base) for sp, f in files.items()}
    for sp, a in parsed.items():
        if not len(a["image"]):
            raise InputError(f"{files[sp]} holds no person records; expected at least one; "
                             "pass the full annotation file.")
    scratch_root = Path(scratch) if scratch is not None else posebench_home() / "datasets"
    scratch_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-images-", dir=scratch_root))

    def store(split, shape):
        return np.lib.format.open_memmap(tmp / f"{split}.npy", mode="w+", dtype=np.uint8,
                                         shape=shape)

    def cleanup():
        shutil.rmtree(tmp, ignore_errors=True)

    try:
        splits = {sp: _split(name, sp, a, images_dir, image_size, store, progress)
                  for sp, a in parsed.items()}
    except BaseException:
        cleanup()
        raise
    meta = {"image_root": str(images_dir), "pixel_convention": PIXEL_CONVENTION,
            "calibration": "none (MPII has no camera calibration; placeholder pinhole rows)",
            "crop": {"side": f"scale * {PIXEL_STD:g} * {BOX_MARGIN}",
                     "centre_shift_px_per_scale": CENTRE_SHIFT, "image_size": image_size},
            "index_base": index_base, "annotation_files": {sp: str(f) for sp, f in files.items()}}
    return Prepared(splits, meta, cleanup=[cleanup])

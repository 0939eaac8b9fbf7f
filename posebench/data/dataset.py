"""The canonical dataset split: arrays in memory and their on-disk form (npz + JSON).

On disk, one dataset is a folder ``$POSEBENCH_HOME/datasets/<name>/``::

    meta.json               {"format": "posebench-dataset", "format_version": 1, "name", "kind",
                             "skeleton", "source", "splits": {split: {"num_samples",
                             "fingerprint", "has_images", "image_size"}}, "exclusions", ...}
    <split>.npz             arrays below (np.savez, no pickle, fixed-width unicode for strings)
    <split>_images.npy      optional (N, S, S, 3) uint8 crops, memory-mapped on load

Arrays of a split (N samples = one person, one camera, one instant):

    poses_3d      (N, J, 3) float64 mm, camera frame (x right, y down, z forward); NaN rows allowed
                  only in 2D-only splits
    poses_2d      (N, J, 2) float64 px, full-image coordinates (distorted, as the camera sees)
    subject       (N,) str      e.g. "S9", "TS1", "synth-S1"
    action        (N,) str      canonical action name, e.g. "Directions", "WalkDog"
    subaction     (N,) int64    1-based trial / repetition number
    camera        (N,) str      camera id, e.g. "54138969"
    frame         (N,) int64    0-based frame index within the (subject, action, subaction) video
    camera_index  (N,) int64    row of the camera table holding this sample's calibration
    cam_*         camera table arrays (see CameraTable), C rows
    valid         (N,) bool     optional; False for frames a protocol may exclude (3DHP valid_frame)
    image_path    (N,) str      optional; path relative to the dataset's image root
    crop_affine   (N, 2, 3)     optional; maps full-image px (u, v, 1) to crop px
    extra_*       optional per-sample arrays an adapter wants to keep (e.g. extra_univ_poses_3d)

Samples are stored sorted by (subject, action, subaction, frame, camera); that order is the
canonical order a protocol filters and a predictions file's `index` refers to.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from posebench.data.fingerprint_cache import cached_fingerprint
from posebench.errors import InputError
from posebench.io import atomic_dir, check_npz_crc, load_npz, npz_row_blocks, write_json_atomic

KEY_FIELDS = ("subject", "action", "subaction", "camera", "frame")
_FINGERPRINT_CHUNK = 65536  # rows hashed at a time


@dataclass
class CameraTable:
    """Calibrations of C cameras (rows). One row per physical camera and subject/sequence, or
    per frame for moving cameras.

    Extrinsics convention: world -> camera is ``X_c = R @ X_w + t`` (R (C,3,3), t (C,3) mm).
    Intrinsics: focal ``f`` (C,2) px, principal point ``c`` (C,2) px, radial ``k`` (C,3),
    tangential ``p`` (C,2). ``distortion`` names the model applied to ``k, p``:
    ``"h36m"`` (Human3.6M / VideoPose3D model, p in VideoPose3D order), ``"opencv"`` (OpenCV's
    k1,k2,p1,p2,k3 model) or ``"none"``. ``width``/``height`` (C,) int px. ``ids`` (C,) str.
    """

    ids: np.ndarray
    f: np.ndarray
    c: np.ndarray
    k: np.ndarray
    p: np.ndarray
    R: np.ndarray
    t: np.ndarray
    width: np.ndarray
    height: np.ndarray
    distortion: str = "h36m"

    def __post_init__(self):
        self.ids = np.asarray(self.ids).astype(str)
        n = len(self.ids)
        for name, shape in (("f", (n, 2)), ("c", (n, 2)), ("k", (n, 3)), ("p", (n, 2)),
                            ("R", (n, 3, 3)), ("t", (n, 3))):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != shape:
                raise InputError(f"camera table field '{name}' has shape {arr.shape}, expected "
                                 f"{shape}; fix the adapter that built it.")
            setattr(self, name, arr)
        self.width = np.asarray(self.width, dtype=np.int64).reshape(n)
        self.height = np.asarray(self.height, dtype=np.int64).reshape(n)
        if self.distortion not in ("h36m", "opencv", "none"):
            raise InputError(f"unknown distortion model '{self.distortion}'; expected h36m, "
                             "opencv or none.")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def K(self) -> np.ndarray:
        """(C, 3, 3) intrinsic matrices (no distortion)."""
        K = np.zeros((len(self), 3, 3))
        K[:, 0, 0], K[:, 1, 1] = self.f[:, 0], self.f[:, 1]
        K[:, 0, 2], K[:, 1, 2] = self.c[:, 0], self.c[:, 1]
        K[:, 2, 2] = 1.0
        return K

    @property
    def centre(self) -> np.ndarray:
        """(C, 3) camera centres in world mm: C = -R^T t."""
        return -np.einsum("cji,cj->ci", self.R, self.t)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"cam_ids": self.ids, "cam_f": self.f, "cam_c": self.c, "cam_k": self.k,
                "cam_p": self.p, "cam_R": self.R, "cam_t": self.t, "cam_width": self.width,
                "cam_height": self.height, "cam_distortion": np.array(self.distortion)}

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> CameraTable:
        return cls(a["cam_ids"], a["cam_f"], a["cam_c"], a["cam_k"], a["cam_p"], a["cam_R"],
                   a["cam_t"], a["cam_width"], a["cam_height"], str(a["cam_distortion"]))

    def take(self, rows: np.ndarray) -> CameraTable:
        rows = np.asarray(rows)
        return CameraTable(self.ids[rows], self.f[rows], self.c[rows], self.k[rows],
                           self.p[rows], self.R[rows], self.t[rows], self.width[rows],
                           self.height[rows], self.distortion)


@dataclass
class SampleKeys:
    """Per-sample identity: subject, action, subaction, camera, frame (each (N,))."""

    subject: np.ndarray
    action: np.ndarray
    subaction: np.ndarray
    camera: np.ndarray
    frame: np.ndarray

    def __post_init__(self):
        self.subject = np.asarray(self.subject).astype(str, copy=False)
        self.action = np.asarray(self.action).astype(str, copy=False)
        self.subaction = np.asarray(self.subaction, dtype=np.int64)
        self.camera = np.asarray(self.camera).astype(str, copy=False)
        self.frame = np.asarray(self.frame, dtype=np.int64)
        n = len(self.subject)
        for f in KEY_FIELDS:
            if getattr(self, f).shape != (n,):
                raise InputError(f"key '{f}' has shape {getattr(self, f).shape}, expected ({n},)"
                                 "; all key arrays must have one entry per sample.")

    def __len__(self) -> int:
        return len(self.subject)

    def take(self, idx: np.ndarray) -> SampleKeys:
        return SampleKeys(*(getattr(self, f)[idx] for f in KEY_FIELDS))

    def sort_order(self) -> np.ndarray:
        """Stable order by (subject, action, subaction, frame, camera)."""
        return np.lexsort((self.camera, self.frame, self.subaction, self.action, self.subject))

    def as_strings(self) -> np.ndarray:
        """(N,) 'subject|action|subaction|camera|frame' strings (for joins and duplicates)."""
        parts = [self.subject, self.action, self.subaction.astype(str), self.camera,
                 self.frame.astype(str)]
        out = parts[0].astype(object)
        for p in parts[1:]:
            out = out + "|" + p.astype(object)
        return out.astype(str)


@dataclass
class PoseDataset:
    """One split of a canonical dataset (see module docstring for every field)."""

    name: str
    split: str
    skeleton: str
    poses_3d: np.ndarray
    poses_2d: np.ndarray
    keys: SampleKeys
    camera_index: np.ndarray
    cameras: CameraTable
    valid: np.ndarray | None = None
    image_path: np.ndarray | None = None
    crop_affine: np.ndarray | None = None
    images: np.ndarray | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    #: the split file this object was read from unchanged (set by `read_split` only; a subset
    #: or a hand-built dataset has None): its fingerprint is cached by the file's identity
    source_file: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        self.poses_3d = np.asarray(self.poses_3d, dtype=np.float64)
        self.poses_2d = np.asarray(self.poses_2d, dtype=np.float64)
        self.camera_index = np.asarray(self.camera_index, dtype=np.int64)
        n = len(self.keys)
        if self.poses_3d.ndim != 3 or self.poses_3d.shape[0] != n or self.poses_3d.shape[2] != 3:
            raise InputError(f"poses_3d has shape {self.poses_3d.shape}, expected ({n}, J, 3).")
        if self.poses_2d.shape != self.poses_3d.shape[:2] + (2,):
            raise InputError(f"poses_2d has shape {self.poses_2d.shape}, expected "
                             f"{self.poses_3d.shape[:2] + (2,)}.")
        if self.camera_index.shape != (n,):
            raise InputError(f"camera_index has shape {self.camera_index.shape}, expected ({n},).")
        if n and (self.camera_index.min() < 0 or self.camera_index.max() >= len(self.cameras)):
            raise InputError("camera_index points outside the camera table; every sample needs "
                             "a calibrated camera.")

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def num_joints(self) -> int:
        return self.poses_3d.shape[1]

    @property
    def has_3d(self) -> bool:
        return bool(np.isfinite(self.poses_3d).any())

    def take(self, idx: np.ndarray) -> PoseDataset:
        """Subset of samples (index or boolean mask); cameras table is shared."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)

        def opt(a):
            return None if a is None else a[idx]

        return PoseDataset(self.name, self.split, self.skeleton, self.poses_3d[idx],
                           self.poses_2d[idx], self.keys.take(idx), self.camera_index[idx],
                           self.cameras, opt(self.valid), opt(self.image_path),
                           opt(self.crop_affine), opt(self.images),
                           {k: v[idx] for k, v in self.extra.items()}, dict(self.meta))

    def sorted(self) -> PoseDataset:
        """Copy in canonical order (subject, action, subaction, frame, camera)."""
        return self.take(self.keys.sort_order())

    # ---------------------------------------------------------------- fingerprint / io
    def fingerprint(self) -> str:
        """sha256 of the annotation content: keys, poses rounded to 1e-3 mm / 1e-3 px, and
        the cameras used. Independent of array dtypes, of storage and of images. For a split
        read by `read_split`, cached by the file's identity (`fingerprint_cache`)."""
        if self.source_file is not None:
            def checked() -> str:  # the members' CRCs, which memory-mapped arrays skip
                check_npz_crc(self.source_file, "a posebench dataset split")
                return self._content_fingerprint()

            return cached_fingerprint(self.source_file, f"{self.skeleton}|{self.split}",
                                      checked)
        return self._content_fingerprint()

    def _content_fingerprint(self) -> str:
        """`fingerprint` computed from the arrays."""
        # Hashed in row chunks (same bytes, same digest as hashing whole arrays) so that a
        # multi-million-sample split needs no full-size temporary copies.
        chunks = [slice(s, s + _FINGERPRINT_CHUNK) for s in range(0, len(self),
                                                                 _FINGERPRINT_CHUNK)]
        h = hashlib.sha256()
        h.update(f"{self.skeleton}|{len(self)}|{self.num_joints}".encode())
        for f in KEY_FIELDS:
            a = getattr(self.keys, f)
            for i, sl in enumerate(chunks):
                h.update((("\x00" if i else "") + "\x00".join(a[sl].astype(str).tolist())).encode())
        for a in (self.poses_3d, self.poses_2d):
            for sl in chunks:
                q = np.round(np.nan_to_num(a[sl], nan=1e18), 3) + 0.0  # +0.0 folds -0.0 into 0.0
                h.update(np.ascontiguousarray(q, dtype="<f8").tobytes())
        for name in ("f", "c", "k", "p", "R", "t"):
            table = getattr(self.cameras, name)
            for sl in chunks:
                a = table[self.camera_index[sl]]
                h.update(np.ascontiguousarray(np.round(a, 6) + 0.0, dtype="<f8").tobytes())
        return h.hexdigest()

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {"poses_3d": self.poses_3d, "poses_2d": self.poses_2d,
               "camera_index": self.camera_index}
        for f in KEY_FIELDS:
            out[f] = getattr(self.keys, f)
        out.update(self.cameras.to_arrays())
        for name in ("valid", "image_path", "crop_affine"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        for k, v in self.extra.items():
            out[f"extra_{k}"] = v
        return out

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray], name: str, split: str, skeleton: str,
                    images: np.ndarray | None = None, meta: dict | None = None) -> PoseDataset:
        missing = [k for k in ("poses_3d", "poses_2d", "camera_index", *KEY_FIELDS) if k not in a]
        if missing:
            raise InputError(f"dataset split '{split}' of '{name}' lacks array(s) "
                             f"{', '.join(missing)}; expected the canonical posebench format; "
                             "re-run `posebench data prepare`.")
        keys = SampleKeys(*(a[f] for f in KEY_FIELDS))
        extra = {k[len("extra_"):]: v for k, v in a.items() if k.startswith("extra_")}
        return cls(name, split, skeleton, a["poses_3d"], a["poses_2d"], keys, a["camera_index"],
                   CameraTable.from_arrays(a), a.get("valid"), a.get("image_path"),
                   a.get("crop_affine"), images, extra, dict(meta or {}))


def write_dataset(root: str | Path, splits: dict[str, PoseDataset], *, kind: str,
                  source: str = "", extra_meta: dict | None = None) -> Path:
    """Write splits to the folder `root` atomically (a temporary folder renamed at the end).

    Images of a split (if any) go to ``<split>_images.npy``. Returns `root`.
    """
    root = Path(root)
    if not splits:
        raise InputError("no splits to write; expected at least one split (e.g. train, test).")
    first = next(iter(splits.values()))
    meta = {"format": "posebench-dataset", "format_version": 1, "name": first.name,
            "kind": kind, "skeleton": first.skeleton, "source": source, "splits": {}}
    meta.update(extra_meta or {})
    with atomic_dir(root) as tmp:
        for split, ds in splits.items():
            with open(tmp / f"{split}.npz", "wb") as fh:
                np.savez(fh, **ds.to_arrays())
            info = {"num_samples": len(ds), "fingerprint": ds.fingerprint(),
                    "has_images": ds.images is not None,
                    "has_3d": ds.has_3d}
            if ds.images is not None:
                np.save(tmp / f"{split}_images.npy", np.ascontiguousarray(ds.images))
                info["image_size"] = int(ds.images.shape[1])
            info.update(ds.meta.get("split_info", {}))
            meta["splits"][split] = info
        write_json_atomic(tmp / "meta.json", meta)
    return root


def read_meta(root: str | Path) -> dict:
    p = Path(root) / "meta.json"
    if not p.is_file():
        raise InputError(f"{root} is not a posebench dataset (no meta.json); expected a folder "
                         "written by `posebench data prepare` or `posebench data synth`.")
    try:
        meta = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{p} is not readable JSON ({type(exc).__name__}); expected the "
                         "meta.json that `posebench data prepare` / `data synth` writes; "
                         "prepare the dataset again.") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("splits", {}), dict):
        raise InputError(f"{p} does not describe a posebench dataset (no 'splits' mapping); "
                         "expected the meta.json that `posebench data prepare` writes; "
                         "prepare the dataset again.")
    return meta


def _split_meta(root: str | Path, split: str) -> dict:
    """meta.json of a dataset folder, refusing a split it does not list."""
    meta = read_meta(root)
    if split not in meta.get("splits", {}):
        raise InputError(f"dataset '{meta.get('name')}' has no split '{split}'; expected one of "
                         f"{', '.join(meta.get('splits', {}))}; pick one of those.")
    return meta


def read_split_pose_blocks(root: str | Path, split: str, rows: int = 65536):
    """(shape (N, J, 3), dtype, skeleton name, blocks of at most `rows` consecutive poses_3d
    rows, mm) of one split, reading nothing else of it and never the whole array at once (the
    PSS fits of a full-size training split need only these: a third of its bytes)."""
    meta = _split_meta(root, split)
    shape, dtype, blocks = npz_row_blocks(Path(root) / f"{split}.npz", "poses_3d", rows,
                                          what="a posebench dataset split with 3D")
    return shape, dtype, meta["skeleton"], blocks


def read_split(root: str | Path, split: str, *, mmap_images: bool = True,
               mmap_poses: bool = False) -> PoseDataset:
    """Load one split of a dataset folder; images are memory-mapped (read-only), and so are
    poses_3d / poses_2d with `mmap_poses` (an evaluation reads them only: the 2D poses of a
    full-size split, 280 MB, are then never read)."""
    root = Path(root)
    meta = _split_meta(root, split)
    arrays = load_npz(root / f"{split}.npz", what="a posebench dataset split",
                      mmap=("poses_3d", "poses_2d") if mmap_poses else ())
    img_file = root / f"{split}_images.npy"
    images = None
    if img_file.is_file():
        images = np.load(img_file, mmap_mode="r" if mmap_images else None, allow_pickle=False)
    ds = PoseDataset.from_arrays(arrays, meta["name"], split, meta["skeleton"], images,
                                 meta={**meta, "split_info": meta["splits"][split],
                                       "root": str(root)})
    ds.source_file = str(root / f"{split}.npz")
    return ds

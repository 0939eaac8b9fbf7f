"""Fail fast: check every stage's data before any training starts.

A reproduction trains for hours before its 3D stages read the 3D dataset's crops; these checks
run first and refuse in one sentence that names the command creating what is missing:

* crops (``images`` + ``crop_affine``) of the training and test splits at the model's input
  size (the 3D stages and the evaluation read them);
* the 2D pre-training split (``[data] pretrain_dataset`` / ``pretrain_split``) prepared, with
  crops at the model's size (read from meta.json only: nothing is loaded);
* cameras: finite intrinsics for every sample (evaluation back-projects with them) and, for the
  self-supervised variants, synchronised views (a frame seen by at least two cameras) and, for
  known-geometry pseudo-labels, finite extrinsics.
"""

from __future__ import annotations

import numpy as np

from posebench.data.dataset import read_meta
from posebench.data.registry import AUTO_BUILDERS, dataset_dir
from posebench.errors import InputError
from reference_models.epipolarpose.profiles import VARIANTS

LAYOUT_HINT = {
    "h36m": "posebench data prepare h36m --from mmpose|cdf|videopose3d PATH --images FRAMES "
            "--image-size {size}",
    "3dhp": "posebench data prepare 3dhp --from mat|mmpose PATH --images FRAMES "
            "--image-size {size}",
    "mpii": "posebench data prepare mpii --from mmpose PATH --image-size {size}",
    "synth": "posebench data synth --image-size {size}",
}


def prepare_command(kind: str, size: int, name: str | None = None) -> str:
    """The command that prepares dataset kind `kind` with crops of `size` px."""
    cmd = LAYOUT_HINT.get(kind, "posebench data prepare KIND --from LAYOUT PATH --images FRAMES "
                                "--image-size {size}").format(size=size)
    if name and name != kind and not cmd.startswith("posebench data synth"):
        cmd += f" --name {name}"
    return f"`{cmd}`"


def check_crops(ds, size: int, stage: str) -> None:
    """Split `ds` has crops and affines of `size` px, else InputError naming the command."""
    kind = ds.meta.get("kind", ds.name)
    where = f"split '{ds.split}' of dataset '{ds.name}'"
    if ds.images is None or ds.crop_affine is None:
        raise InputError(f"{stage} needs image crops but {where} has none; expected crops at the "
                         f"model's {size} px; create them with "
                         f"{prepare_command(kind, size, ds.name)}.")
    if ds.images.shape[1] != size:
        raise InputError(f"{stage} needs {size} px crops but {where} has {ds.images.shape[1]} px "
                         f"crops; expected the model's input size; re-create them with "
                         f"{prepare_command(kind, size, ds.name)}.")


def check_prepared_split(name: str, split: str, size: int, stage: str) -> None:
    """Dataset `name` is prepared (or auto-buildable) with split `split` holding `size` px
    crops; reads meta.json only."""
    d = dataset_dir(name)
    if not (d / "meta.json").is_file():
        if name in AUTO_BUILDERS:
            return
        raise InputError(f"{stage} reads dataset '{name}', which is not prepared; expected it "
                         f"with {size} px crops; create it with "
                         f"{prepare_command(name, size, name)}.")
    meta = read_meta(d)
    info = meta.get("splits", {}).get(split)
    if info is None:
        raise InputError(f"{stage} reads split '{split}' of dataset '{name}', which has only "
                         f"{', '.join(meta.get('splits', {}))}; expected that split; set [data] "
                         "pretrain_split to one of those.")
    if not info.get("has_images") or int(info.get("image_size", -1)) != size:
        have = f"{info['image_size']} px crops" if info.get("has_images") else "no crops"
        raise InputError(f"{stage} needs {size} px crops but split '{split}' of dataset "
                         f"'{name}' has {have}; expected the model's input size; create them "
                         f"with {prepare_command(meta.get('kind', name), size, name)}.")


def check_cameras(ds, need_extrinsics: bool, stage: str) -> None:
    """Finite intrinsics for every sample (and extrinsics when `need_extrinsics`)."""
    ci = ds.camera_index
    cams = ds.cameras
    ok = (np.isfinite(cams.f[ci]).all(-1) & (cams.f[ci] > 0).all(-1)
          & np.isfinite(cams.c[ci]).all(-1))
    if need_extrinsics:
        ok &= np.isfinite(cams.R[ci]).all(axis=(1, 2)) & np.isfinite(cams.t[ci]).all(-1)
    if not ok.all():
        what = "intrinsics and extrinsics" if need_extrinsics else "intrinsics"
        raise InputError(f"{stage} needs camera {what} for every sample but {int((~ok).sum())} "
                         f"samples of split '{ds.split}' of dataset '{ds.name}' lack them; "
                         "expected a calibrated dataset; prepare it from a layout with "
                         "calibration (docs/datasets.md).")


def check_multiview(ds, stage: str) -> None:
    """At least one (subject, action, subaction, frame) seen by two or more cameras."""
    k = ds.keys
    inst = np.char.add(np.char.add(np.char.add(k.subject, "|"), np.char.add(k.action, "|")),
                       np.char.add(np.char.add(k.subaction.astype(str), "|"), k.frame.astype(str)))
    _, counts = np.unique(inst, return_counts=True)
    if not (counts >= 2).any():
        raise InputError(f"{stage} triangulates pseudo-labels from synchronised views but split "
                         f"'{ds.split}' of dataset '{ds.name}' has one camera per frame; "
                         "expected frames seen by two or more cameras; prepare the dataset with "
                         "every camera's frames (the same --frame-stride for all of them) or "
                         "drop the self-supervised variants.")


def check_splits(splits: dict, dataset: str, needed: list[str]) -> None:
    """Every split in `needed` is present in `splits`."""
    missing = [s for s in needed if s not in splits]
    if missing:
        raise InputError(f"dataset '{dataset}' has no split '{missing[0]}' (it has "
                         f"{', '.join(splits)}); expected the training and test splits; prepare "
                         "it from files holding both (e.g. mmpose's h36m_train.npz and "
                         "h36m_test.npz).")


def check_dataset_prepared(name: str, size: int) -> None:
    """Dataset `name` is prepared (or auto-buildable), else the command that prepares it."""
    if name not in AUTO_BUILDERS and not (dataset_dir(name) / "meta.json").is_file():
        raise InputError(f"dataset '{name}' is not prepared; expected it with the model's "
                         f"{size} px crops; create it with {prepare_command(name, size, name)}.")


def check_reproduce(prof: dict, dataset: str, splits: dict, variants: list[str],
                    protocol_split: str) -> None:
    """Every check `posebench reproduce epipolarpose` needs, before its first stage."""
    size = int(prof["model"]["image_size"])
    data = prof.get("data", {})
    train_split = data.get("train_split", "train")
    train = splits[train_split]
    other = data.get("pretrain_dataset", "")
    pre = data.get("pretrain_split", "train2d")
    if other and other != dataset:
        check_prepared_split(other, pre, size, "2D pre-training")
    else:
        check_crops(splits[pre if pre in splits else train_split], size, "2D pre-training")
    check_crops(train, size, "3D training")
    check_crops(splits[protocol_split], size, "evaluation")
    check_cameras(splits[protocol_split], False, "evaluation")
    ss = [v for v in variants if VARIANTS.get(v, ("", None))[0].startswith("self-supervised")]
    if ss:
        check_multiview(train, f"variant {ss[0]}")
        known = [v for v in ss if VARIANTS[v][1] in ("known", "2dgt")]
        check_cameras(train, bool(known), f"variant {(known or ss)[0]}")

"""Shared pieces of the prediction readers: containers, Human3.6M keys, protocol selection.

A reader turns one codebase's output into `posebench.predictions.Predictions` with key arrays
(subject, action, subaction, camera, frame), poses (N, J, 3) mm in the camera frame and
canonical joint names, plus ``read_as`` = {layout, units, frame, joint_order,
transformations} stating every assumption. `select_protocol_rows` then keeps the rows the
protocol scores and reports what was dropped (a superset of the protocol's samples is normal
for these codebases: every frame, every camera, sequences the dataset trimmed).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from posebench.data.adapters._npz_objects import npz_member_names, read_object_member
from posebench.data.adapters.h36m_common import canonical_subject, parse_sequence
from posebench.data.dataset import SampleKeys
from posebench.errors import InputError
from posebench.io import load_pickle_file, read_npy_header, sha256_file, unpickle_stream
from posebench.predictions import Predictions, validate_arrays

#: Joint order written by VideoPose3D, MotionBERT and mmpose (Human3.6M-17, pelvis first).
H36M17_ORDER = "h36m17"


def load_container(path: str | Path, what: str) -> object:
    """Read `path` without ever running arbitrary pickles.

    .npz -> {name: array or unpickled object member}; .npy -> array (object arrays through the
    restricted unpickler); .pkl/.pickle -> restricted unpickle (numpy + builtins only);
    .json -> parsed JSON. Anything else -> InputError naming what was found.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"predictions file {path} does not exist; expected {what}; check the "
                         "path.")
    head = path.read_bytes()[:8]
    if head[:4] == b"PK\x03\x04":
        out = {}
        plain = _plain_members(path)
        for name in npz_member_names(path):
            out[name] = plain[name] if name in plain else read_object_member(path, name, what)
        return out
    if head[:6] == b"\x93NUMPY":
        return _load_npy(path, what)
    if head[:1] == b"\x80":
        return load_pickle_file(path)
    if head[:1] in (b"[", b"{") or path.suffix == ".json":
        try:
            return json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"{path} could not be read as JSON ({exc}); expected {what}; "
                             "re-create the file.") from None
    raise InputError(f"{path} is neither .npz, .npy, pickle nor JSON (it starts with "
                     f"{head[:4]!r}); expected {what}; pass the file the codebase wrote.")


def _plain_members(path: Path) -> dict[str, np.ndarray]:
    out = {}
    try:
        with np.load(path, allow_pickle=False) as z:
            for key in z.files:
                try:
                    out[key] = z[key]
                except ValueError:
                    pass  # object member: read through the restricted unpickler
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise InputError(f"{path} could not be read as .npz ({type(exc).__name__}: {exc}); "
                         "expected an intact file written by np.savez; re-create it.") from None
    return out


def _load_npy(path: Path, what: str) -> object:
    with open(path, "rb") as fh:
        _, _, dtype = read_npy_header(fh)
        if not dtype.hasobject:
            return np.load(path, allow_pickle=False)
        obj = unpickle_stream(fh, str(path))
    if isinstance(obj, np.ndarray) and obj.shape == ():
        obj = obj.item()
    return obj


def describe(obj: object, depth: int = 2) -> str:
    """Short description of a loaded container, for 'found ...' sentences."""
    if isinstance(obj, np.ndarray):
        return f"array {obj.dtype} {tuple(obj.shape)}"
    if isinstance(obj, dict):
        items = list(obj.items())[:4]
        inner = ", ".join(f"{k!r}: {describe(v, depth - 1)}" if depth > 0 else repr(k)
                          for k, v in items)
        more = ", ..." if len(obj) > 4 else ""
        return f"dict {{{inner}{more}}}"
    if isinstance(obj, (list, tuple)):
        first = describe(obj[0], depth - 1) if obj and depth > 0 else ""
        return f"{type(obj).__name__} of {len(obj)}" + (f" (first: {first})" if first else "")
    return type(obj).__name__


def as_mm(poses: np.ndarray, units: str, source: str) -> np.ndarray:
    """(..., J, 3) in `units` ("m" or "mm") -> float64 mm, refusing values of the other unit."""
    poses = np.asarray(poses, dtype=np.float64)
    finite = poses[np.isfinite(poses)]
    if finite.size == 0:
        raise InputError(f"{source} holds no finite coordinates; expected 3D poses; re-run the "
                         "model.")
    span = float(np.percentile(np.abs(finite), 99))
    if units == "m":
        if span > 50:
            raise InputError(f"{source}: coordinates reach {span:.0f}, which looks like "
                             "millimetres; expected metres as this codebase writes them; pass "
                             "the file the codebase wrote (or divide by 1000).")
        return poses * 1000.0
    if span < 10:
        raise InputError(f"{source}: coordinates stay below {span:.3g}, which looks like metres; "
                         "expected millimetres as this codebase writes them; pass the file the "
                         "codebase wrote (or multiply by 1000).")
    return poses


def h36m_sequence(subject: str, basename: str, source: str) -> tuple[str, str, int]:
    """('S9', 'Directions 1') -> ('S9', 'Directions', official trial) via the metadata table."""
    s = canonical_subject(subject, source)
    action, trial = parse_sequence(s, str(basename), source)
    return s, action, trial


def key_strings(subject, action, subaction, camera, frame) -> np.ndarray:
    """(N,) 'subject|action|subaction|camera|frame' strings (SampleKeys.as_strings format)."""
    return SampleKeys(subject, action, subaction, camera, frame).as_strings()


def make_predictions(poses_mm: np.ndarray, keys: dict, joint_names, source: str,
                     sha256: str | None, read_as: dict):
    """Build `Predictions` (validated like a file) from reader output."""
    arrays = {"poses_3d": poses_mm, **{k: np.asarray(v) for k, v in keys.items()}}
    if joint_names is not None:
        arrays["joint_names"] = np.asarray(joint_names)
    preds = validate_arrays(arrays, source=source)
    preds.sha256 = sha256
    preds.read_as = read_as
    return preds


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (`posebench.io.sha256_file`)."""
    return sha256_file(path)


def select_protocol_rows(preds, dataset, protocol, reason: str):
    """Keep the prediction rows whose keys are among `protocol`'s samples of `dataset`.

    Returns the filtered `Predictions`; ``preds.read_as["selected"]`` records how many rows
    were kept and why the others were dropped ("outside the protocol": samples of the dataset
    the protocol does not score, e.g. frames off the every-64th grid or other subjects;
    "not in the dataset": e.g. frames past a trimmed trial end, videos the dataset lacks).
    Needs key arrays with subaction. `reason` says why selecting is legitimate (recorded).
    """
    if preds.keys is None or "subaction" not in preds.keys:
        raise InputError(f"{preds.source}: selecting the protocol's rows from a superset needs "
                         "key arrays subject, action, subaction, camera, frame; found "
                         f"{'only index' if preds.keys is None else 'no subaction'}; add the "
                         "key arrays (`posebench keys` lists them) or drop the option.")
    rows = protocol.select(dataset)
    k = dataset.keys
    in_protocol = np.isin(_strings(preds.keys), k.take(rows).as_strings())
    in_dataset = np.isin(_strings(preds.keys), k.as_strings())
    kept = int(in_protocol.sum())
    info = {"kept": kept, "of": len(preds), "outside_protocol": int((in_dataset & ~in_protocol)
                                                                      .sum()),
            "not_in_dataset": int((~in_dataset).sum()), "why": reason}
    if kept == 0:
        first = _strings(preds.keys)[0]
        want = k.take(rows[:1]).as_strings()[0] if len(rows) else "none"
        raise InputError(f"{preds.source}: none of its {len(preds)} predictions is a sample of "
                         f"protocol {protocol.name} on '{dataset.name}' (first prediction key "
                         f"{first}, first protocol key {want}); expected predictions for the "
                         "protocol's subjects and frames; check --dataset/--protocol.")
    keys = {name: v[in_protocol] for name, v in preds.keys.items()}
    out = Predictions(preds.poses_3d[in_protocol], None, keys, preds.joint_names, preds.source,
                      preds.sha256)
    read_as = dict(getattr(preds, "read_as", None) or {})
    read_as["selected"] = info
    out.read_as = read_as
    return out


def _strings(keys: dict) -> np.ndarray:
    return key_strings(keys["subject"], keys["action"], keys["subaction"], keys["camera"],
                       keys["frame"])

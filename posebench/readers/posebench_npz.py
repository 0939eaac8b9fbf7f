"""posebench's own predictions .npz (see posebench.predictions): read as-is, nothing assumed
beyond the schema; files that look like another codebase's output get one sentence naming
the reader to use."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from posebench.data.adapters._npz_objects import npz_member_names
from posebench.errors import InputError
from posebench.predictions import load_predictions


def read(path, dataset, protocol):
    """Load a canonical predictions .npz; refuse foreign layouts with the `--from` to use."""
    _refuse_foreign(path)
    preds = load_predictions(path)
    preds.read_as = {"layout": "posebench", "units": "mm", "frame": "camera",
                     "joint_order": None, "transformations": []}
    converted = _converted_read_as(path)
    if converted:
        preds.read_as = {**converted, "layout": f"posebench (converted from "
                         f"{converted.get('layout')})"}
    return preds


def _converted_read_as(path) -> dict | None:
    """The read_as JSON `posebench convert` stores in its output, if any."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if "read_as" not in z.files:
                return None
            out = json.loads(str(z["read_as"]))
    except (ValueError, OSError):
        return None
    return out if isinstance(out, dict) else None


def _refuse_foreign(path) -> None:
    p = Path(path)
    if not p.is_file() or p.read_bytes()[:4] != b"PK\x03\x04":
        if p.is_file() and p.read_bytes()[:1] == b"\x80":
            raise InputError(f"{p} is a pickle, not posebench's .npz; expected poses_3d plus "
                             "index or key arrays; if it is an mmpose dump or "
                             "learnable-triangulation results.pkl, pass --from mmpose or --from "
                             "learnable-triangulation.")
        return
    names = set(npz_member_names(p))
    hints = [({"imgname"}, "mmpose image names ('imgname')", "mmpose"),
             ({"positions_3d"}, "VideoPose3D's nested 'positions_3d'", "videopose3d"),
             ({"results_all"}, "MotionBERT clips ('results_all')", "motionbert")]
    for need, what, reader in hints:
        if need <= names and "poses_3d" not in names:
            raise InputError(f"{p} holds {what}, not posebench's poses_3d + index/keys; expected "
                             f"the canonical layout; pass --from {reader} (or convert it once "
                             f"with `posebench convert {p} --from {reader} --out preds.npz`).")

"""Prediction readers: each codebase's output as it writes it -> canonical `Predictions`.

``read_predictions(path, "videopose3d", dataset, protocol)`` returns predictions with key
arrays in mm, camera frame, and ``preds.read_as`` = {layout, units, frame, joint_order,
transformations, selected} (recorded in the result as ``predictions.read_as``). Readers of
other codebases also keep only the protocol's rows (their outputs cover every frame / camera)
and record how many rows were dropped and why.
"""

from __future__ import annotations

import importlib

from posebench.errors import InputError
from posebench.readers.common import select_protocol_rows
from posebench.skeletons import get_skeleton

#: --from name -> module under posebench.readers
READERS = {
    "posebench": "posebench_npz",
    "videopose3d": "videopose3d",
    "motionbert": "motionbert",
    "mmpose": "mmpose",
    "learnable-triangulation": "learnable_triangulation",
}


def read_predictions(path, fmt: str, dataset, protocol, *, superset: bool = False,
                     options: dict | None = None):
    """Read `path` written by codebase `fmt` for `dataset` (PoseDataset, protocol split) and
    `protocol`. `superset`: for posebench files, keep only the protocol's rows (recorded)."""
    if fmt not in READERS:
        raise InputError(f"unknown predictions layout '{fmt}'; expected one of "
                         f"{', '.join(READERS)}; pass --from with one of those.")
    module = importlib.import_module(f"posebench.readers.{READERS[fmt]}")
    preds = module.read(path, dataset, protocol, **(options or {}))
    if fmt != "posebench":
        _root_relative(preds, dataset, protocol)
        preds = select_protocol_rows(preds, dataset, protocol,
                                     f"{fmt} writes every frame/camera it predicts")
    elif superset:
        preds = select_protocol_rows(preds, dataset, protocol, "--select-from-superset")
    return preds


def _root_relative(preds, dataset, protocol) -> None:
    """Move each predicted pose's root joint to the origin (in place), recorded in read_as.

    Every reader's codebase scores root-relative poses (VideoPose3D and MotionBERT predict
    them; mmpose's codec adds the ground-truth root back, so pose - root is its prediction;
    learnable-triangulation's reported MPJPE is root-relative), and the as-given anchor
    protocols (ground-truth root zeroed only) need them so."""
    names = list(preds.joint_names or get_skeleton(dataset.skeleton).names)
    if protocol.root not in names:
        return
    r = names.index(protocol.root)
    preds.poses_3d = preds.poses_3d - preds.poses_3d[:, r:r + 1]
    read_as = dict(preds.read_as or {})
    read_as["transformations"] = [*read_as.get("transformations", []),
                                  f"root joint '{protocol.root}' subtracted (root-relative, as "
                                  "the codebase scores its poses)"]
    preds.read_as = read_as

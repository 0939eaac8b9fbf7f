"""VideoPose3D predictions: dict subject -> sequence basename -> 4 camera arrays, metres.

Layout (facebookresearch/VideoPose3D): run.py builds ``dataset[subject][action]
['positions_3d']`` (run.py, the "Preparing data..." loop, lines 52-62: one (T, 17, 3) array
per camera from ``world_to_camera``, cameras in ``common/h36m_dataset.py``'s order 54138969,
55011271, 58860488, 60457274) and ``evaluate(gen, return_predictions=True)`` returns one
(T, 17, 3) camera-frame metre array per sequence (run.py ``evaluate``; ``--viz-export``
saves exactly that with ``np.save``, "Predictions are in camera space"). A full test-set dump
therefore has the same nesting as the 2D/3D data files: ``np.savez(path,
positions_3d={subject: {basename: [cam0, cam1, cam2, cam3]}})`` (a pickled dict; a ``.pkl``
of the same dict is accepted too).

Keys: ``basename`` is the video basename ("Directions 1", "Directions", "WalkDog 1"); its
number is NOT the trial number: `posebench.data.adapters.h36m_common.TRIAL_BASENAMES`
(official metadata) maps it. Frames: 0-based, one per mocap frame from frame 0 (run.py keeps
the mocap length and shortens the 2D, run.py lines 80-88). Joints: Human3.6M-17 in
VideoPose3D's order (= posebench's h36m17). Units: metres -> mm. Root: the model predicts
root-relative poses; posebench root-centres anyway.
"""

from __future__ import annotations

import numpy as np

from posebench.data.adapters.h36m_common import CAMERA_IDS
from posebench.errors import InputError
from posebench.readers.common import (
    as_mm,
    describe,
    file_sha256,
    h36m_sequence,
    load_container,
    make_predictions,
)

LAYOUT = ("VideoPose3D: npz 'positions_3d' = {subject: {basename: [4 x (T, 17, 3) camera-frame "
          "metres]}}")
_MEMBERS = ("positions_3d", "predictions", "prediction")


def read(path, dataset, protocol, viz=None):
    """Read a VideoPose3D dump at `path` -> `Predictions` (keys, mm, h36m17, camera frame).

    viz: (subject, action, camera index) of a ``run.py --viz-export`` file (one (T, 17, 3)
    array of one sequence and camera, run.py's --viz-subject/--viz-action/--viz-camera)."""
    obj = load_container(path, LAYOUT)
    if isinstance(obj, np.ndarray):
        tree = _viz_export_tree(obj, viz, path, CAMERA_IDS)
    else:
        tree = _find_tree(obj, path)
    poses, cols = [], {k: [] for k in ("subject", "action", "subaction", "camera", "frame")}
    basenames = {}
    for raw_subject, seqs in tree.items():
        if not isinstance(seqs, dict):
            raise InputError(f"{path}: entry '{raw_subject}' holds {describe(seqs)}; expected "
                             f"{LAYOUT}; pass VideoPose3D's nesting.")
        for basename, views in seqs.items():
            where = f"{path} ({raw_subject}/{basename})"
            subject, action, trial = h36m_sequence(raw_subject, basename, where)
            basenames[f"{subject} {basename}"] = f"{action} trial {trial}"
            if isinstance(views, np.ndarray) and views.ndim == 3:
                raise InputError(f"{where} holds one {views.shape} array; expected a list of 4 "
                                 f"camera arrays ({', '.join(CAMERA_IDS)}) as run.py's "
                                 "positions_3d; wrap per-camera predictions in a list.")
            if not isinstance(views, (list, tuple)) or len(views) != len(CAMERA_IDS):
                raise InputError(f"{where} holds {describe(views)}; expected a list of "
                                 f"{len(CAMERA_IDS)} camera arrays in the order "
                                 f"{', '.join(CAMERA_IDS)}; add the missing views (None for a "
                                 "camera not predicted).")
            for cam, arr in zip(CAMERA_IDS, views):
                if arr is None:
                    continue
                arr = np.asarray(arr)
                if arr.ndim != 3 or arr.shape[1:] != (17, 3):
                    raise InputError(f"{where} camera {cam} holds {describe(arr)}; expected "
                                     "(T, 17, 3) camera-frame metres; pass the model output.")
                t = len(arr)
                poses.append(arr)
                cols["subject"].append(np.full(t, subject))
                cols["action"].append(np.full(t, action))
                cols["subaction"].append(np.full(t, trial))
                cols["camera"].append(np.full(t, cam))
                cols["frame"].append(np.arange(t))
    if not poses:
        raise InputError(f"{path} holds no sequences; expected {LAYOUT}.")
    mm = as_mm(np.concatenate(poses), "m", str(path))
    keys = {k: np.concatenate(v) for k, v in cols.items()}
    read_as = {"layout": "videopose3d", "units": "metres -> mm", "frame": "camera",
               "joint_order": "h36m17 (VideoPose3D's 17 joints)",
               "transformations": [
                   "sequence basename -> (action, official trial) by the metadata table "
                   "(the basename's number is not the trial number)",
                   f"list position 0-3 -> camera ids {', '.join(CAMERA_IDS)}",
                   "frame = 0-based position in the sequence", "metres x 1000"],
               "basenames": basenames}
    return make_predictions(mm, keys, None, str(path), file_sha256(path), read_as)


def _viz_export_tree(arr, viz, path, camera_ids) -> dict:
    """A --viz-export array as the nested layout (one sequence, one camera)."""
    if viz is None or not all(v is not None for v in viz):
        raise InputError(f"{path} holds one array {arr.dtype} {tuple(arr.shape)} (run.py "
                         "--viz-export output) but not which sequence it is; expected "
                         "--viz-subject, --viz-action and --viz-camera as given to run.py; pass "
                         "them too.")
    subject, action, cam = viz
    if not 0 <= int(cam) < len(camera_ids):
        raise InputError(f"--viz-camera {cam} is not a camera index; expected 0-3 (run.py's "
                         f"order {', '.join(camera_ids)}); pass the index given to run.py.")
    views = [None] * len(camera_ids)
    views[int(cam)] = arr
    return {subject: {action: views}}


def _find_tree(obj, path) -> dict:
    if isinstance(obj, dict):
        for m in _MEMBERS:
            if m in obj and isinstance(obj[m], dict):
                return obj[m]
        if obj and all(isinstance(v, dict) for v in obj.values()) and \
                all(str(k)[:1] in "sS" for k in obj):
            return obj
    raise InputError(f"{path} holds {describe(obj)}; expected {LAYOUT}; save the predictions "
                     "as np.savez(path, positions_3d=predictions_dict).")

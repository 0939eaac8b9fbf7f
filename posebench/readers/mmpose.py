"""mmpose 3D predictions: image paths + metre keypoints in the dataset's joint order.

Layouts accepted (open-mmlab/mmpose):
- 1.x ``tools/test.py --dump preds.pkl``: a pickled list of data samples (mmengine
  ``DumpResults``), each a dict with ``pred_instances['keypoints']`` ((1, 17, 3) or
  (1, T, 17, 3)) and ``target_img_path`` (the image of each target frame): the same fields
  ``mmpose/evaluation/metrics/keypoint_3d_metrics.py`` ``MPJPE.process`` reads.
- 0.x ``tools/test.py --out preds.pkl``: a pickled list of batch outputs, each a dict with
  ``preds`` (B, 17, 3[+1]) and ``target_image_paths`` (B,) (``PoseLifter.forward_test``;
  read by ``Body3DH36MDataset.evaluate``).
- an ``.npz`` in mmpose's annotation layout: ``imgname`` (N,) plus ``preds``/``keypoints``/
  ``S`` (N, 17, 3[+1]) (the layout of ``h36m_test.npz``, predictions in place of ``S``).
Pickles go through posebench's restricted unpickler (numpy + builtins only): a dump holding
torch tensors is refused with one sentence (convert the tensors with ``.numpy()``).

Keys: the image name (``S9/S9_Directions_1.54138969/S9_Directions_1.54138969_000001.jpg``:
basename with underscores, camera id, 1-based frame) is matched to the dataset's own
``image_path`` when the dataset was prepared from mmpose files, else parsed (Human3.6M) with
the official trial table. Units: metres (mmpose's metric works in metres; its model zoo prints
mm) -> mm. Frame: camera. Joints: the dataset's order (Human3.6M-17 / MPI-INF-3DHP-17).
"""

from __future__ import annotations

import numpy as np

from posebench.data.adapters.h36m_mmpose import parse_imgnames
from posebench.errors import InputError
from posebench.readers.common import (
    as_mm,
    describe,
    file_sha256,
    load_container,
    make_predictions,
)
from posebench.skeletons import get_skeleton

LAYOUT = ("mmpose: a --dump/--out pickle (list of dicts with pred_instances.keypoints + "
          "target_img_path, or preds + target_image_paths) or an npz with imgname + preds, "
          "metres")


def read(path, dataset, protocol):
    """Read an mmpose prediction dump at `path` -> `Predictions` (keys, mm, camera frame)."""
    obj = load_container(path, LAYOUT)
    names, poses, form = _rows(obj, path)
    if len(names) != len(poses):
        raise InputError(f"{path}: {len(names)} image paths but {len(poses)} poses; expected "
                         "one image path per predicted pose; pass the unmodified dump.")
    poses = np.asarray(poses)
    if poses.ndim != 3 or poses.shape[-1] not in (3, 4):
        raise InputError(f"{path}: keypoints have shape {poses.shape}; expected (N, J, 3) metres "
                         "(a 4th visibility column is dropped); pass the model's 3D output.")
    mm = as_mm(poses[..., :3], "m", str(path))
    keys, how = _keys(np.asarray(names).astype(str), dataset, str(path))
    skel = get_skeleton(dataset.skeleton)
    if mm.shape[1] != skel.num_joints:
        raise InputError(f"{path}: poses have {mm.shape[1]} joints; expected {skel.num_joints} "
                         f"in {skel.name} order (mmpose writes the dataset's joint order); pass "
                         "the predictions for this dataset.")
    read_as = {"layout": f"mmpose ({form})", "units": "metres -> mm", "frame": "camera",
               "joint_order": f"{skel.name} (the dataset's order, as mmpose writes it)",
               "transformations": [how, "metres x 1000"]}
    return make_predictions(mm, keys, skel.names, str(path), file_sha256(path), read_as)


def _rows(obj, path) -> tuple[list, list, str]:
    if isinstance(obj, dict) and "imgname" in obj:
        for k in ("preds", "keypoints", "poses_3d", "S"):
            if k in obj:
                return list(np.asarray(obj["imgname"])), list(np.asarray(obj[k])), \
                    f"npz imgname + {k}"
        raise InputError(f"{path} has imgname but no poses (found: {', '.join(obj)}); expected "
                         "preds (N, 17, 3) metres next to imgname; add the predictions.")
    if not isinstance(obj, (list, tuple)) or not obj or not isinstance(obj[0], dict):
        raise InputError(f"{path} holds {describe(obj)}; expected {LAYOUT}; pass the file "
                         "tools/test.py wrote with --dump (1.x) or --out (0.x).")
    names, poses = [], []
    first = obj[0]
    if "pred_instances" in first:
        for s in obj:
            kp = np.asarray(s["pred_instances"]["keypoints"])
            paths = s.get("target_img_path") or [s.get("img_path")]
            paths = [paths] if isinstance(paths, str) else list(paths)
            kp = kp.reshape(-1, *kp.shape[-2:])
            if len(kp) != len(paths):
                kp = kp[-len(paths):]
            names.extend(paths)
            poses.extend(kp)
        return names, poses, "1.x --dump data samples"
    if "preds" in first and "target_image_paths" in first:
        for b in obj:
            names.extend(list(b["target_image_paths"]))
            poses.extend(np.asarray(b["preds"]))
        return names, poses, "0.x --out batch outputs"
    if "keypoints" in first and "target_id" in first:
        raise InputError(f"{path} is mmpose 0.x result_keypoints.json (keypoints + target_id, "
                         "an index into the annotation file); expected the image paths too; "
                         "dump with tools/test.py --out preds.pkl instead.")
    raise InputError(f"{path} holds a list of dicts with keys {', '.join(map(str, first))}; "
                     f"expected {LAYOUT}; pass the file tools/test.py wrote.")


def _keys(names: np.ndarray, dataset, source: str) -> tuple[dict, str]:
    k = dataset.keys
    if dataset.image_path is not None:
        table = np.asarray(dataset.image_path).astype(str)
        order = np.argsort(table)
        at = np.clip(np.searchsorted(table[order], names), 0, max(len(table) - 1, 0))
        found = table[order][at] == names
        if found.all():
            rows = order[at]
            return ({f: getattr(k, f)[rows] for f in ("subject", "action", "subaction", "camera",
                                                       "frame")},
                    "image path -> sample via the dataset's own image_path (mmpose names)")
        if dataset.meta.get("kind") != "h36m" and not dataset.name.startswith("h36m"):
            bad = names[~found][0]
            raise InputError(f"{source}: image '{bad}' is not in dataset '{dataset.name}' "
                             f"(split {dataset.split}); expected the image names of the mmpose "
                             "annotation file the dataset was prepared from; check --dataset.")
    subject, action, trial, camera, frame = parse_imgnames(names, source)
    return ({"subject": subject, "action": action, "subaction": trial, "camera": camera,
             "frame": frame},
            "image name -> subject, (action, official trial) by the metadata table, camera id, "
            "1-based frame - 1")

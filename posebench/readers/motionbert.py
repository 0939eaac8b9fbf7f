"""MotionBERT Human3.6M predictions: 243-frame clips of normalised 2.5D image coordinates.

What MotionBERT computes (Walter0807/MotionBERT):
- ``train.py`` ``evaluate``: ``results_all`` (n_clips, 243, 17, 3) model outputs, then
  ``datareader.denormalize(results_all)`` (``lib/data/datareader_h36m.py``
  ``DataReaderH36M.denormalize``: ``x, y = (x, y + [1, h/w]) * w/2``, ``z = z * w/2`` with
  ``(w, h)`` = (1000, 1002) for cameras 54138969 / 60457274 and (1000, 1000) otherwise, taken
  from each clip's first frame, ``get_hw``), then per clip ``pred *= factor`` (the per-frame
  ``2.5d_factor`` of the data file) and ``pred -= pred[:, 0:1]`` (root-relative), so poses are
  in MotionBERT's scaled 2.5D space: image-plane x, y and depth, all times the factor, i.e.
  millimetres close to (not equal to) the camera frame: the factor is the least-squares scale
  lambda of ||lambda P_2.5D - P_camera|| (MotionBERT issue #51, citing LCN, T-PAMI 2020,
  Sec. 6.2.1); issues #9, #21 and #121 are users asking what the output units are. posebench
  scores these poses against its camera-frame ground truth (MotionBERT against
  ``joints_2.5d_image``), so the residual of that scale fit counts as error here.
- Clips: ``lib/utils/utils_data.py`` ``split_clips(source, 243, 243)``: consecutive 243-frame
  windows per video; the tail after a video's last full window is not predicted; a video
  shorter than 243 frames is resampled to 243 with unseeded random indices (``resample``), so
  its clip indices must be saved (``split_id``). Frames covered by several clips: MotionBERT
  averages their errors (``e1_all / oc``, train.py lines 128-134); posebench averages their
  poses (identical when every frame is in one clip, the stride-243 test setting).
- Keys: ``source`` per test frame, "s_09_act_02_subact_01_ca_01": subject, official action
  number (2 Directions ... 16 WalkTogether), official trial, camera 1-4 in the order
  54138969, 55011271, 58860488, 60457274; frame = 0-based position inside its source (or an
  explicit ``frame`` array). ``evaluate`` skips three damaged S9 trials (``block_list``);
  posebench scores what the protocol says.

File (nothing of this is written by MotionBERT itself: save it inside ``evaluate``)::

    np.savez("motionbert_h36m.npz", results_all=results_all,  # before or after denormalize
             source=datareader.dt_dataset["test"]["source"],
             factor=datareader.dt_dataset["test"]["2.5d_factor"],
             camera_name=datareader.dt_dataset["test"]["camera_name"],
             split_id=np.array([list(c) for c in datareader.get_split_id()[1]]))
"""

from __future__ import annotations

import re

import numpy as np

from posebench.data.adapters.h36m_common import CAMERA_IDS
from posebench.errors import InputError
from posebench.readers.common import describe, file_sha256, load_container, make_predictions

CLIP = 243
LAYOUT = ("MotionBERT: npz with results_all (n_clips, 243, 17, 3), source, factor "
          "(2.5d_factor), camera_name [, split_id, frame]")
#: Official Human3.6M action numbers (metadata order) -> posebench action names.
ACTION_NUMBERS = {2: "Directions", 3: "Discussion", 4: "Eating", 5: "Greeting", 6: "Phoning",
                  7: "Posing", 8: "Purchases", 9: "Sitting", 10: "SittingDown", 11: "Smoking",
                  12: "Photo", 13: "Waiting", 14: "Walking", 15: "WalkDog", 16: "WalkTogether"}
_SOURCE = re.compile(r"^s_(\d+)_act_(\d+)_subact_(\d+)_ca_(\d+)$")
_WIDE = ("54138969", "60457274")  # 1000 x 1002 images (get_hw)


def split_clips(source: np.ndarray, n_frames: int = CLIP, stride: int = CLIP) -> list:
    """Clip frame lists as MotionBERT's ``split_clips`` makes them; a video shorter than
    `n_frames` gives None (MotionBERT resamples it at random)."""
    source = np.asarray(source).astype(str)
    change = np.flatnonzero(source[1:] != source[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(source)]])
    clips = []
    for s, e in zip(starts, ends):
        if e - s < n_frames:
            clips.append(None)
            continue
        for st in range(s, e - n_frames + 1, stride):
            clips.append(np.arange(st, st + n_frames))
    return clips


def denormalize(clips: np.ndarray, cameras: np.ndarray) -> np.ndarray:
    """(C, T, 17, 3) normalised outputs -> image-scale 2.5D (DataReaderH36M.denormalize);
    `cameras` (C,) camera id of each clip's first frame."""
    w = 1000.0
    h = np.where(np.isin(np.asarray(cameras).astype(str), _WIDE), 1002.0, 1000.0)
    out = np.array(clips, dtype=np.float64)
    out[..., 0] = (out[..., 0] + 1) * w / 2
    out[..., 1] = (out[..., 1] + (h / w)[:, None, None]) * w / 2
    out[..., 2] = out[..., 2] * w / 2
    return out


def read(path, dataset, protocol):
    """Read a MotionBERT bundle at `path` -> `Predictions` (keys, mm, h36m17)."""
    obj = load_container(path, LAYOUT)
    if not isinstance(obj, dict) or "results_all" not in obj:
        raise InputError(f"{path} holds {describe(obj)}; expected {LAYOUT}; save it inside "
                         "MotionBERT's evaluate() as docs/predictions.md shows.")
    res = np.asarray(obj["results_all"], dtype=np.float64)
    if res.ndim != 4 or res.shape[2:] != (17, 3):
        raise InputError(f"{path}: results_all has shape {res.shape}; expected (n_clips, 243, "
                         "17, 3) as train.py's evaluate() builds it; save results_all unchanged.")
    missing = [k for k in ("source", "camera_name") if k not in obj]
    factor_key = "factor" if "factor" in obj else "2.5d_factor" if "2.5d_factor" in obj else None
    if missing or factor_key is None:
        need = missing + ([] if factor_key else ["factor"])
        raise InputError(f"{path} lacks {', '.join(need)} (found: {', '.join(obj)}); expected "
                         "the test set's per-frame source, 2.5d_factor and camera_name next to "
                         "results_all (MotionBERT needs them to turn outputs into mm); add them.")
    source = np.asarray(obj["source"]).astype(str)
    factor = np.asarray(obj[factor_key], dtype=np.float64).reshape(-1)
    cams = np.asarray(obj["camera_name"]).astype(str)
    n = len(source)
    if len(factor) != n or len(cams) != n:
        raise InputError(f"{path}: source has {n} frames but factor {len(factor)} and "
                         f"camera_name {len(cams)}; expected one per test frame; save the "
                         "test-set arrays unchanged.")
    clips = _clip_indices(obj, source, res, path)
    normalised = float(np.percentile(np.abs(res[..., :2]), 99)) < 5.0
    if normalised:
        res = denormalize(res, cams[clips[:, 0]])
    pred = res * factor[clips][..., None, None]
    pred = pred - pred[:, :, :1]
    total = np.zeros((n, 17, 3))
    count = np.zeros(n)
    np.add.at(total, clips.ravel(), pred.reshape(-1, 17, 3))
    np.add.at(count, clips.ravel(), 1)
    covered = count > 0
    poses = total[covered] / count[covered][:, None, None]
    keys = _keys(source, obj, path, CAMERA_IDS)
    keys = {k: v[covered] for k, v in keys.items()}
    read_as = {"layout": "motionbert", "units": "2.5D image units x per-frame 2.5d_factor -> mm",
               "frame": "MotionBERT's scaled 2.5D (image x, y, depth; ~camera frame, "
                        "root-relative)",
               "joint_order": "h36m17 (MotionBERT's Human3.6M-17)",
               "transformations": [
                   ("normalised outputs denormalised with (w, h) of each clip's first frame"
                    if normalised else "outputs already denormalised (image scale)"),
                   "times the per-frame 2.5d_factor, minus the root joint",
                   f"{int((count > 1).sum())} frames predicted more than once (overlapping "
                   "clips or a resampled short video): poses averaged",
                   f"{int((~covered).sum())} of {n} test frames in no clip (not predicted)",
                   "source s_SS_act_AA_subact_TT_ca_CC -> subject, action, trial, camera id",
                   ("frame = the file's 'frame' array" if "frame" in obj else
                    "frame = 0-based position inside its source (assumed: consecutive "
                    "frames from 0; add a 'frame' array otherwise)")]}
    return make_predictions(poses, keys, None, str(path), file_sha256(path), read_as)


def _clip_indices(obj, source, res, path) -> np.ndarray:
    if "split_id" in obj:
        clips = np.asarray(obj["split_id"]).astype(np.int64)
        if clips.shape != res.shape[:2]:
            raise InputError(f"{path}: split_id has shape {clips.shape} but results_all has "
                             f"{res.shape[:2]} clips x frames; expected one index per clip "
                             "frame; save datareader.get_split_id()[1] unchanged.")
        if clips.min() < 0 or clips.max() >= len(source):
            raise InputError(f"{path}: split_id points outside the {len(source)} test frames; "
                             "expected indices into source; save the matching arrays.")
        return clips
    made = split_clips(source, res.shape[1], res.shape[1])
    if any(c is None for c in made):
        raise InputError(f"{path}: some videos are shorter than {res.shape[1]} frames, which "
                         "MotionBERT resamples with unseeded random indices, and no split_id "
                         "was saved; expected split_id = "
                         "datareader.get_split_id()[1]; add it to the file.")
    if len(made) != len(res):
        raise InputError(f"{path}: split_clips gives {len(made)} clips of {res.shape[1]} frames "
                         f"for this source list but results_all has {len(res)}; expected the "
                         "test source list results_all was made from; save split_id too.")
    return np.stack(made)


def _keys(source, obj, path, camera_ids) -> dict:
    uniq, inv = np.unique(source, return_inverse=True)
    parsed = []
    for s in uniq:
        m = _SOURCE.match(s)
        if m is None or int(m.group(2)) not in ACTION_NUMBERS or not 1 <= int(m.group(4)) <= 4:
            raise InputError(f"{path}: source '{s}' does not parse; expected "
                             "'s_09_act_02_subact_01_ca_01' (subject, action 2-16, trial, camera "
                             "1-4); save MotionBERT's source array unchanged.")
        parsed.append((f"S{int(m.group(1))}", ACTION_NUMBERS[int(m.group(2))], int(m.group(3)),
                       camera_ids[int(m.group(4)) - 1]))
    cols = [np.array([p[i] for p in parsed])[inv] for i in range(4)]
    if "frame" in obj:
        frame = np.asarray(obj["frame"]).astype(np.int64)
    else:
        starts = np.concatenate([[0], np.flatnonzero(source[1:] != source[:-1]) + 1])
        idx = np.arange(len(source))
        frame = idx - np.maximum.accumulate(np.where(np.isin(idx, starts), idx, 0))
    return {"subject": cols[0], "action": cols[1], "subaction": cols[2], "camera": cols[3],
            "frame": frame}

"""Human3.6M conventions shared by every layout: subjects, cameras, action names, trials.

- Subjects with a packaged calibration: S1, S5, S6, S7, S8, S9, S11.
- Cameras: ids "54138969", "55011271", "58860488", "60457274" (VideoPose3D's order, which is
  also sorted order, so per-frame blocks of 4 cameras are already canonical).
- Actions: the 15 canonical names of `ACTIONS`; S1's original "TakingPhoto" / "WalkingDog" are
  renamed "Photo" / "WalkDog" (VideoPose3D's names).
- Trials ("subaction", 1-based) follow the official metadata numbering. Community files name a
  trial by its video basename ("Directions 1", "Directions", "Discussion 2", ...), whose number
  is not the trial number, so `TRIAL_BASENAMES` lists, per subject and action, the basename
  suffix of trial 1 and trial 2 (source: the (subject, action, subaction) -> basename table of
  Microsoft's multiview-pose3d Human3.6M loader, which follows metadata.xml; it agrees with the
  basenames of VideoPose3D's data_3d_h36m.npz and of the original D3_Positions folders).
  Example: S11 "Directions" (no suffix) is trial 2, the one whose camera 54138969 video is
  corrupt.
- Calibration: ``posebench/facts/h36m_cameras.json`` stores, per subject and camera, a unit
  quaternion rotating camera -> world and the camera centre C (mm); here it becomes the
  world -> camera form ``X_c = R X_w + t`` with ``R = R(q)^T`` and ``t = -R C``.
"""

from __future__ import annotations

import re

import numpy as np

from posebench.data.dataset import CameraTable
from posebench.data.h36m_calibration import (  # noqa: F401  (re-exported for the adapters)
    CAMERA_IDS,
    SUBJECTS,
    calibration_json,
    h36m_camera_table,
    quaternion_to_matrix,
)
from posebench.errors import InputError

TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS = ("S9", "S11")
ACTIONS = ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing",
           "Purchases", "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking",
           "WalkTogether")
_RENAMES = {"takingphoto": "Photo", "walkingdog": "WalkDog", "walkingtogether": "WalkTogether"}
_BY_LOWER = {a.lower(): a for a in ACTIONS}

# subject -> "Action:s1,s2 ..." where s1/s2 are the basename suffixes of trials 1 and 2
# ("" = no suffix, e.g. "Directions:1," means trial 1 = "Directions 1", trial 2 = "Directions").
_TRIALS_TEXT = {
    "S1": "Directions:1, Discussion:1, Eating:2, Greeting:1, Phoning:1, Posing:1, Purchases:1, "
          "Sitting:1,2 SittingDown:2, Smoking:1, Photo:1, Waiting:1, Walking:1, WalkDog:1, "
          "WalkTogether:1,",
    "S5": "Directions:1,2 Discussion:2,3 Eating:1, Greeting:1,2 Phoning:1, Posing:1, Purchases:1, "
          "Sitting:1, SittingDown:,1 Smoking:1, Photo:,2 Waiting:1,2 Walking:1, WalkDog:1, "
          "WalkTogether:1,",
    "S6": "Directions:1, Discussion:1, Eating:1,2 Greeting:1, Phoning:1, Posing:2, Purchases:1, "
          "Sitting:1,2 SittingDown:1, Smoking:1, Photo:,1 Waiting:3, Walking:1, WalkDog:1, "
          "WalkTogether:1,",
    "S7": "Directions:1, Discussion:1, Eating:1, Greeting:1, Phoning:2, Posing:1, Purchases:1, "
          "Sitting:1, SittingDown:,1 Smoking:1, Photo:,1 Waiting:1,2 Walking:1,2 WalkDog:1, "
          "WalkTogether:1,",
    "S8": "Directions:1, Discussion:1, Eating:1, Greeting:1, Phoning:1, Posing:1, Purchases:1, "
          "Sitting:1, SittingDown:,1 Smoking:1, Photo:1, Waiting:1, Walking:1, WalkDog:1, "
          "WalkTogether:1,2",
    "S9": "Directions:1, Discussion:1,2 Eating:1, Greeting:1, Phoning:1, Posing:1, Purchases:1, "
          "Sitting:1, SittingDown:,1 Smoking:1, Photo:1, Waiting:1, Walking:1, WalkDog:1, "
          "WalkTogether:1,",
    "S11": "Directions:1, Discussion:1,2 Eating:1, Greeting:2, Phoning:3,2 Posing:1, "
           "Purchases:1, Sitting:1, SittingDown:,1 Smoking:2, Photo:1, Waiting:1, Walking:1, "
           "WalkDog:1, WalkTogether:1,",
}


def _parse_trials() -> dict[tuple[str, str, str], int]:
    """(subject, action, suffix) -> trial number."""
    out = {}
    for subject, text in _TRIALS_TEXT.items():
        for item in text.split():
            action, suffixes = item.split(":")
            for trial, suffix in enumerate(suffixes.split(","), start=1):
                out[(subject, action, suffix)] = trial
    return out


#: (subject, canonical action, basename suffix) -> 1-based trial number (official numbering).
TRIAL_BASENAMES = _parse_trials()

_BASENAME = re.compile(r"^\s*([A-Za-z]+)(?:[ _-]*(\d+))?\s*$")


def canonical_subject(subject: str, source: str) -> str:
    """'S9' / 's9' / '9' -> 'S9'; anything outside `SUBJECTS` is an InputError."""
    s = str(subject).strip()
    s = "S" + s[1:] if s[:1] in "sS" else "S" + s
    if s not in SUBJECTS:
        raise InputError(f"{source}: unknown Human3.6M subject '{subject}'; expected one of "
                         f"{', '.join(SUBJECTS)} (the subjects with published calibration); "
                         "remove other subjects from the file or rename them.")
    return s


def canonical_action(name: str, source: str) -> str:
    """Action part of a basename -> canonical action name ('TakingPhoto' -> 'Photo')."""
    key = name.replace(" ", "").replace("_", "").lower()
    action = _RENAMES.get(key) or _BY_LOWER.get(key)
    if action is None:
        raise InputError(f"{source}: unknown Human3.6M action '{name}'; expected one of "
                         f"{', '.join(ACTIONS)} (optionally with a trial number, e.g. "
                         "'Directions 1'); rename the sequence.")
    return action


def parse_sequence(subject: str, basename: str, source: str) -> tuple[str, int]:
    """Video basename of one trial (e.g. 'Directions 1', 'WalkingDog', 'Sitting_2') ->
    (canonical action, official 1-based trial number)."""
    m = _BASENAME.match(basename)
    if m is None:
        raise InputError(f"{source}: cannot parse Human3.6M sequence name '{basename}'; "
                         "expected '<Action>' or '<Action> <number>', e.g. 'Directions 1'.")
    action = canonical_action(m.group(1), source)
    suffix = m.group(2) or ""
    trial = TRIAL_BASENAMES.get((subject, action, suffix))
    if trial is None:
        known = [f"'{action} {s}'".replace(" '", "'") if s else f"'{action}'"
                 for (sub, a, s) in TRIAL_BASENAMES if sub == subject and a == action]
        raise InputError(f"{source}: {subject} has no Human3.6M trial named '{basename}'; "
                         f"expected one of {', '.join(known)}; check the sequence name.")
    return action, trial


def camera_row_id(subject: str, camera: str) -> str:
    """Row id of a (subject, camera) calibration in the camera table, e.g. 'S9.54138969'."""
    return f"{subject}.{camera}"


def camera_rows(table: CameraTable, subject: str, source: str) -> np.ndarray:
    """(4,) rows of `table` for `subject`'s cameras in `CAMERA_IDS` order."""
    lookup = {str(i): r for r, i in enumerate(table.ids)}
    try:
        return np.array([lookup[camera_row_id(subject, c)] for c in CAMERA_IDS])
    except KeyError:
        raise InputError(f"{source}: no calibration for subject {subject}; expected one of "
                         f"{', '.join(SUBJECTS)}; remove that subject from the input.") from None


def check_camera_id(camera: str, source: str) -> str:
    cam = str(camera).strip()
    if cam not in CAMERA_IDS:
        raise InputError(f"{source}: unknown Human3.6M camera '{camera}'; expected one of "
                         f"{', '.join(CAMERA_IDS)}; check the file's camera ids.")
    return cam

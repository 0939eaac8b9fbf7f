"""Named, versioned exclusions for Human3.6M: their masks and descriptions.

`posebench.data.exclusions` registers them by name. Trials are
identified by canonical action and official 1-based trial number (see
`posebench.data.adapters.h36m_common`), with the video basename given for checking.

- ``h36m-s11-directions-2-cam54138969@v1``: S11 Directions
  trial 2 (basename "Directions"), camera 54138969: the video is missing/corrupt.
- ``h36m-s9-misaligned-gt@v1``: S9 Greeting trial 2 (basename "Greeting"), SittingDown trial 2
  ("SittingDown 1") and Waiting trial 1 ("Waiting 1"), all cameras: the mocap ground truth is
  offset from the video. Source: karfly/learnable-triangulation-pytorch,
  mvn/datasets/human36m.py, option ``with_damaged_actions`` ("S9/[Greeting-2, SittingDown-2,
  Waiting-1]", trial numbers from Human3.6M's metadata as extracted by anibali/h36m-fetch).
  Mocap/video length mismatches are not an exclusion: adapters trim them at prepare time and
  record each trimmed trial in meta.json ("trimmed").
"""

from __future__ import annotations

import numpy as np

#: (subject, action, trial) triples of ``h36m-s9-misaligned-gt@v1``.
S9_MISALIGNED_TRIALS = (("S9", "Greeting", 2), ("S9", "SittingDown", 2), ("S9", "Waiting", 1))

#: Every Human3.6M exclusion name -> description (for meta.json and `posebench protocols`).
H36M_EXCLUSIONS = {
    "h36m-s11-directions-2-cam54138969@v1":
        "Human3.6M S11 Directions subaction 2, camera 54138969: video missing/corrupt",
    "h36m-s9-misaligned-gt@v1":
        "Human3.6M S9 Greeting 2, SittingDown 2, Waiting 1 (official trial numbers): mocap "
        "ground truth misaligned with the video (learnable-triangulation-pytorch "
        "with_damaged_actions)",
}


def s11_directions_mask(ds) -> np.ndarray:
    """(N,) bool: rows of S11 Directions trial 2, camera 54138969."""
    k = ds.keys
    return ((k.subject == "S11") & (k.action == "Directions") & (k.subaction == 2)
            & (k.camera == "54138969"))


def s9_misaligned_mask(ds) -> np.ndarray:
    """(N,) bool: rows of the S9 trials whose mocap is offset from the video."""
    k = ds.keys
    out = np.zeros(len(k), dtype=bool)
    for subject, action, trial in S9_MISALIGNED_TRIALS:
        out |= (k.subject == subject) & (k.action == action) & (k.subaction == trial)
    return out


#: Exclusion name -> (N,) bool mask function of a PoseDataset.
H36M_MASKS = {
    "h36m-s11-directions-2-cam54138969@v1": s11_directions_mask,
    "h36m-s9-misaligned-gt@v1": s9_misaligned_mask,
}

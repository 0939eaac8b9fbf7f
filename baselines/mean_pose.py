"""Mean pose: the training split's mean root-relative camera-frame pose for every sample."""

from __future__ import annotations

import numpy as np

from baselines import root_index, root_relative
from posebench.methods import Method


class MeanPose(Method):
    """Training mean of root-relative camera-frame poses (the trivial answer)."""

    name = "mean-pose"
    description = "Training mean of root-relative camera-frame 3D poses (trivial baseline)."
    needs = frozenset({"train_3d"})
    defaults: dict = {}

    def fit(self, train, seed: int = 0) -> None:
        poses = root_relative(train.poses_3d, root_index(train))
        finite = np.isfinite(poses).all(axis=(1, 2))
        self.mean_pose = poses[finite].mean(axis=0)          # (J, 3) mm

    def predict(self, test) -> np.ndarray:
        return np.broadcast_to(self.mean_pose, (len(test),) + self.mean_pose.shape).copy()

    def state(self) -> dict[str, np.ndarray]:
        return {"mean_pose": self.mean_pose}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.mean_pose = np.asarray(state["mean_pose"], dtype=np.float64)
